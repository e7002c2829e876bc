import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRun } from '../../runs/store.js';
import type { RunFile } from '../../runs/types.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'dist/bin/opnas.js');

/**
 * Run the built CLI (npm test builds it first) in a separate process. Asynchronous on purpose: a
 * spawnSync that blocks a test worker for over a minute (a search on a loaded machine) makes
 * vitest's worker RPC time out ("Timeout calling onTaskUpdate") and the run exit 1 with every test
 * passed. `timeout` kills the CLI (SIGTERM) and gives code null, as spawnSync did.
 */
export function opnas(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeout?: number; input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, OPNAS_BACKEND: 'cpu', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeout ?? 120_000);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
    child.stdin.on('error', () => {}); // a CLI that exits without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

export function tempDir(prefix = 'opnas-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeJson(dir: string, name: string, value: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
}

/**
 * Run the CLI with its stdout closed by the reader before it writes (what `| head -1` does once it
 * has its line): resolves with the exit code and stderr.
 */
export function opnasClosedStdout(args: string[], opts: { env?: Record<string, string> } = {}) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, OPNAS_BACKEND: 'cpu', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/**
 * A run as a reader sees it: run.json's snapshot plus the journal lines after it (what opnas
 * itself reads). run.json alone lags behind a running search by up to as many trials as it holds.
 */
export function readRunData(dir: string, name: string): RunFile {
  return readRun(join(dir, name)).data;
}

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRun } from '../../runs/store.js';
import type { RunFile } from '../../runs/types.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'dist/bin/opnas.js');

/** Run the built CLI (npm test builds it first) in a separate process. */
export function opnas(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, OPNAS_BACKEND: 'cpu', ...opts.env },
    timeout: opts.timeout ?? 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * opnas() without blocking the test's event loop (a long spawnSync keeps vitest's worker from
 * answering its runner, which then reports an RPC timeout).
 */
export function opnasAsync(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, OPNAS_BACKEND: 'cpu', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
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

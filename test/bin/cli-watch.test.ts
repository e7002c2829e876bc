import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

const BIN = join(ROOT, 'dist/bin/opnas.js');

/** A CLI process whose output can be awaited while it runs. */
function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, OPNAS_BACKEND: 'cpu', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exit };
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const reports = (s: string) => (s.match(/^run 'w': /gm) ?? []).length;

/** A run that this test process "runs": status running, locked by a live pid (ours). */
function fakeRun(dir: string, trials: number, status = 'running') {
  const trial = (i: number) => ({ index: i, batch: i, id: `id${i}`, genome: { edges: [] }, origin: 'sample', formula: `cell ${i}`, cost: { params: 1, flops: 1 }, ops: [], status: 'ok', scores: { cifar10: 50 + i }, fitness: 50 + i, seconds: 0 });
  const run = { format: 'opnas-run', version: 1, name: 'w', created: '2020-01-01T00:00:00Z', updated: new Date().toISOString(), status, seed: 0, config: { objectives: ['cifar10'], space: 'nb201', evaluator: 'nb201', budget: 10 }, strategyState: null, nextBatch: trials, trials: Array.from({ length: trials }, (_, i) => trial(i)) };
  mkdirSync(join(dir, 'w'), { recursive: true });
  writeFileSync(join(dir, 'w', 'run.json.tmp'), JSON.stringify(run));
  renameSync(join(dir, 'w', 'run.json.tmp'), join(dir, 'w', 'run.json'));
  writeFileSync(join(dir, 'w', 'run.lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: run.created }));
}

describe('opnas show --watch', () => {
  it('follows a real nb201 search to its end and exits 0', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    const search = start(['search', '--name', 'w', '--space', 'nb201', '--budget', '600', '--quiet'], env);
    await until(() => existsSync(join(dir, 'w', 'run.json')));
    const watch = start(['show', 'w', '--watch', '--top', '1'], env);
    expect(await search.exit).toBe(0);
    expect(await watch.exit).toBe(0);
    expect(reports(watch.out.stdout)).toBeGreaterThanOrEqual(1);
    const last = watch.out.stdout.slice(watch.out.stdout.lastIndexOf("run 'w': "));
    expect(last).toMatch(/^run 'w': finished/);
    expect(last).toMatch(/600 trials \(600 ok\)/);
    expect(watch.out.stderr).toMatch(/run 'w' is finished: watch ended/);
  }, 60_000);

  it('prints the leaderboard again on each save and stops when the run stops', async () => {
    const dir = tempDir();
    fakeRun(dir, 1);
    const watch = start(['show', 'w', '--watch'], { OPNAS_RUNS_DIR: dir });
    await until(() => reports(watch.out.stdout) === 1);
    expect(watch.out.stdout).toMatch(/1 trial \(1 ok\)/);
    fakeRun(dir, 3);
    await until(() => reports(watch.out.stdout) === 2);
    expect(watch.out.stdout.slice(watch.out.stdout.lastIndexOf("run 'w': "))).toMatch(/3 trials \(3 ok\)[\s\S]*best: #2/);
    fakeRun(dir, 4, 'finished');
    expect(await watch.exit).toBe(0);
    expect(reports(watch.out.stdout)).toBe(3);
    expect(watch.out.stdout.slice(watch.out.stdout.lastIndexOf("run 'w': "))).toMatch(/^run 'w': finished/);
  }, 30_000);

  it('ends cleanly on Ctrl-C, and at once when the run is not running; --json writes a line per report', async () => {
    const dir = tempDir();
    fakeRun(dir, 2);
    const watch = start(['show', 'w', '--watch', '--json'], { OPNAS_RUNS_DIR: dir });
    await until(() => watch.out.stdout.includes('\n'));
    watch.child.kill('SIGINT');
    expect(await watch.exit).toBe(0);
    expect(watch.out.stderr).toBe('');
    const lines = watch.out.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ name: 'w', status: 'running' });

    // the process holding the run is gone (the lock names a pid that cannot exist): nothing to follow
    writeFileSync(join(dir, 'w', 'run.lock'), JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), started: '2020-01-01T00:00:00Z' }));
    const gone = start(['show', 'w', '--watch'], { OPNAS_RUNS_DIR: dir });
    expect(await gone.exit).toBe(0);
    expect(reports(gone.out.stdout)).toBe(1);
    expect(gone.out.stderr).toMatch(/no longer held by a process/);
  }, 30_000);
});

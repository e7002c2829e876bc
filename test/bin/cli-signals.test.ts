import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

/** Issue 11, case 6: SIGTERM and a closed stdout end a run like Ctrl-C: interrupted, unlocked, resumable. */

const BIN = join(ROOT, 'dist/bin/opnas.js');
const ARGS = ['--space', 'nb201', '--budget', '200', '--batch', '4', '--seed', '11'];
const runFile = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8'));
const trialsOf = (run: { trials: { seconds: number }[] }) => run.trials.map((t) => ({ ...t, seconds: 0 }));

/**
 * Start a search; once it has printed its first trial line, either send `signal` or close both of
 * its output pipes (what `opnas search 2>&1 | head -2` does when head exits).
 */
function stopOnceRunning(args: string[], env: Record<string, string>, how: NodeJS.Signals | 'close-output') {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, OPNAS_BACKEND: 'cpu', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stopped = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stopped || !/trial \d+ ok/.test(stderr)) return;
      stopped = true;
      if (how === 'close-output') {
        child.stdout.destroy();
        child.stderr.destroy();
      } else child.kill(how);
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

for (const [how, code] of [['SIGTERM', 143], ['close-output', 141]] as const) {
  it(`${how}: status interrupted, lock released, and a resume ends with the uninterrupted run's trials`, async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    const ref = await opnas(['search', '--name', 'ref', ...ARGS, '--quiet'], { env });
    expect(ref.code).toBe(0);
    const r = await stopOnceRunning(['search', '--name', 's', ...ARGS], env, how);
    expect(r.signal).toBe(null); // it exited by itself, not killed by the signal
    expect(r.code).toBe(code);
    if (how === 'SIGTERM') expect(r.stderr).toMatch(/run 's' interrupted; its trials are saved\. Continue it with: opnas resume s/);
    const run = runFile(dir, 's');
    expect(run.status).toBe('interrupted');
    expect(run.trials.length).toBeGreaterThan(0);
    expect(run.trials.length).toBeLessThan(200);
    expect(existsSync(join(dir, 's', 'run.lock'))).toBe(false);
    const resumed = await opnas(['resume', 's', '--quiet'], { env });
    expect(resumed.code).toBe(0);
    expect(trialsOf(runFile(dir, 's'))).toEqual(trialsOf(runFile(dir, 'ref')));
  }, 60_000);
}

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { watchRun } from '../../runs/watch.js';
import type { RunFile } from '../../runs/types.js';
import { tempDir } from '../bin/helpers.js';

function writeRun(dir: string, trials: number, status: string) {
  const trial = (i: number) => ({ index: i, batch: i, id: `id${i}`, genome: { edges: [] }, origin: 'sample', formula: `cell ${i}`, cost: { params: 1, flops: 1 }, ops: [], status: 'ok', scores: { cifar10: 50 + i }, fitness: 50 + i, seconds: 0 });
  const run = { format: 'opnas-run', version: 1, name: 'w', created: '2020-01-01T00:00:00Z', updated: new Date().toISOString(), status, seed: 0, config: { objectives: ['cifar10'], space: 'nb201', evaluator: 'nb201', budget: 10 }, strategyState: null, nextBatch: trials, trials: Array.from({ length: trials }, (_, i) => trial(i)) };
  mkdirSync(join(dir, 'w'), { recursive: true });
  writeFileSync(join(dir, 'w', 'run.json.tmp'), JSON.stringify(run));
  renameSync(join(dir, 'w', 'run.json.tmp'), join(dir, 'w', 'run.json'));
}

describe('watchRun', () => {
  it('a run that saves "finished" and releases its lock between two looks is reported finished, not killed', async () => {
    const dir = tempDir();
    writeRun(dir, 2, 'running');
    writeFileSync(join(dir, 'w', 'run.lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: '2020-01-01T00:00:00Z' }));
    const shown: RunFile[] = [];
    const last = await watchRun(dir, 'w', (run) => {
      shown.push(run);
      // the search's last save and its lock release land right after this read, before the lock check
      if (shown.length === 1) {
        writeRun(dir, 3, 'finished');
        rmSync(join(dir, 'w', 'run.lock'));
      }
    });
    expect(shown.map((r) => r.status)).toEqual(['running', 'finished']);
    expect(last.status).toBe('finished');
    expect(last.trials).toHaveLength(3);
  });
});

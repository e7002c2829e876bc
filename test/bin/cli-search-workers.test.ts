import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

const TASK = ['--train', join(ROOT, 'test/fixtures/search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16'];
const SMALL = ['--evaluator', 'standalone', '--layers', '1-1', '--hidden', '16,32', '--heads', '1,2', '--train-steps', '8', '--budget', '6', '--batch', '3', '--seed', '5', '--final-top', '0', '--quiet'];

it('stand-alone search in worker processes: the same trials with --workers 1 and --workers 2', async () => {
  const dir = tempDir();
  const env = { OPNAS_RUNS_DIR: dir, OPNAS_BACKEND: 'wasm' };
  const trials = (name: string) =>
    (JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')).trials as { seconds: number; scores: Record<string, number> }[]).map((t) => {
      const { latency: _latency, ...scores } = t.scores; // a timing, not a result
      return { ...t, seconds: 0, scores };
    });
  const one = await opnas(['search', '--name', 'w1', '--workers', '1', ...TASK, ...SMALL], { env, timeout: 300_000 });
  expect(one.stderr).toBe('');
  expect(one.code).toBe(0);
  const two = await opnas(['search', '--name', 'w2', '--workers', '2', ...TASK, ...SMALL], { env, timeout: 300_000 });
  expect(two.code).toBe(0);
  const a = trials('w1');
  expect(a).toHaveLength(6);
  expect(a.every((t) => (t as unknown as { status: string }).status === 'ok')).toBe(true);
  expect(trials('w2')).toEqual(a);
  expect(one.stdout).toMatch(/top 6 of 6 ranked trials/);
}, 300_000);

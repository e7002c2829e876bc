import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

const TASK = ['--train', join(ROOT, 'test/fixtures/search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16'];
const SMALL = ['--evaluator', 'standalone', '--layers', '1-2', '--hidden', '16,32', '--heads', '1,2', '--train-steps', '4', '--budget', '8', '--batch', '2', '--seed', '3', '--final-top', '0', '--quiet'];

interface T {
  genome: { hidden: number; heads: number; pool?: string; embed?: number; layers: { ffn: { ratio: number } }[] };
  origin: string;
}

it('--strategy coarse-to-fine: the first half at the fixed shape, then other shapes; show names the stage; nb201 is refused', async () => {
  const dir = tempDir();
  const env = { OPNAS_RUNS_DIR: dir, OPNAS_BACKEND: 'wasm' };
  const r = await opnas(['search', '--name', 'c', '--strategy', 'coarse-to-fine', '--workers', '1', ...TASK, ...SMALL], { env, timeout: 300_000 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const trials = JSON.parse(readFileSync(join(dir, 'c', 'run.json'), 'utf8')).trials as T[];
  expect(trials).toHaveLength(8);
  const shape = (t: T) => `${t.genome.layers.length}x${t.genome.hidden}/${t.genome.heads} r${t.genome.layers.map((l) => l.ffn.ratio).join('')} ${t.genome.pool ?? 'cls'} ${t.genome.embed ?? '-'}`;
  // the fixed shape: the deepest depth, the narrowest width and its textbook heads (16/64 -> 1), ratio 4, [CLS]
  expect(trials.slice(0, 4).map(shape)).toEqual(Array(4).fill('2x16/1 r44 cls -'));
  expect(trials[0].origin).toBe('seed');
  expect(trials.slice(4).every((t) => t.origin === 'mutate')).toBe(true);
  expect(trials.slice(4).some((t) => shape(t) !== '2x16/1 r44 cls -')).toBe(true);
  const show = await opnas(['show', 'c'], { env });
  expect(show.stdout).toMatch(/strategy coarse-to-fine/);
  expect(show.stdout).toMatch(/coarse-to-fine: the blocks at one fixed shape for the first 4 candidates .*now searching the shape/);

  const bad = await opnas(['search', '--name', 'n', '--space', 'nb201', '--strategy', 'coarse-to-fine', '--budget', '4'], { env });
  expect(bad.code).toBe(1);
  expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  expect(bad.stderr).toMatch(/coarse-to-fine strategy needs a space with a macro shape/);
  expect(existsSync(join(dir, 'n'))).toBe(false);
}, 300_000);

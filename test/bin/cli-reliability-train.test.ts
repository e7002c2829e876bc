import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

/** Issue 11's cases that train (tiny models on the test fixtures, a few seconds each). */

const REVIEWS = join(ROOT, 'test/fixtures/train/reviews.csv');
const TRAIN = ['train', '--baseline', 'bert-tiny', '--train', REVIEWS, '--max-len', '16', '--vocab-size', '200', '--quiet'];
const env = { OPNAS_BACKEND: 'wasm' };

describe('train --out is checked before training (case 5)', () => {
  it('an impossible --out fails at once, before any training', async () => {
    const t0 = Date.now();
    // 100,000 steps would take many minutes: failing at once shows nothing was trained
    const r = await opnas([...TRAIN, '--steps', '100000', '--out', '/dev/null/x'], { env, timeout: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('opnas: --out /dev/null/x: cannot create it, /dev/null is not a folder');
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('an existing, non-empty --out folder is kept unless --force', async () => {
    const out = join(tempDir(), 'model');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const r = await opnas([...TRAIN, '--steps', '100000', '--out', out], { env, timeout: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the folder exists and is not empty \(pass --force to overwrite it\)/);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(out, 'genome.json'))).toBe(false);
    const forced = await opnas([...TRAIN, '--steps', '2', '--out', out, '--force'], { env });
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).steps).toBe(2);
  });
});

describe('a loss that goes NaN (case 9)', () => {
  it('opnas train --lr 1e9 exits non-zero with a clear message and no scores', async () => {
    const r = await opnas([...TRAIN, '--steps', '20', '--lr', '1e9', '--json'], { env });
    expect(r.code).toBe(1);
    // under --json the error is also an object on stdout, and no scores are printed
    expect(JSON.parse(r.stdout)).toEqual({ error: expect.stringMatching(/^training diverged/), code: 1 });
    expect(r.stderr.trim()).toMatch(/^opnas: training diverged: the loss is (NaN|-?Infinity) at step 20 \(a lower --lr usually helps\)$/);
  });

  it('a stand-alone search records each diverged trial as failed with the reason', async () => {
    const dir = tempDir();
    const r = await opnas(
      ['search', '--name', 'nan', '--evaluator', 'standalone', '--train', join(ROOT, 'test/fixtures/search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16',
        '--layers', '1-1', '--hidden', '16', '--heads', '1', '--train-steps', '20', '--lr', '1e9', '--budget', '2', '--batch', '2', '--workers', '1', '--final-top', '0', '--quiet'],
      { env: { ...env, OPNAS_RUNS_DIR: dir } },
    );
    expect(r.code).toBe(0);
    const trials = JSON.parse(readFileSync(join(dir, 'nan', 'run.json'), 'utf8')).trials as { status: string; reason?: string; scores: object }[];
    expect(trials).toHaveLength(2);
    for (const t of trials) {
      expect(t.status).toBe('failed');
      expect(t.reason).toMatch(/training diverged: the loss is (NaN|-?Infinity) at step 20/);
      expect(t.scores).toEqual({});
    }
  });
});

describe('teacher logits for a task whose dev split is held out of the training file (case 11)', () => {
  const TINY = join(ROOT, 'test/fixtures/search/tiny.tsv');
  const labels = readFileSync(TINY, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split('\t')[1]));
  const TASK = ['--train', TINY, '--vocab-size', '64', '--max-len', '16'];

  it('a row per line of the training file is accepted and the train split gets its own rows', async () => {
    const dir = tempDir();
    // logits whose argmax is each line's own label: read through the split, they agree with every training label
    const f = join(dir, 'logits.jsonl');
    writeFileSync(f, labels.map((y) => JSON.stringify(y === 1 ? [-2, 2] : [2, -2])).join('\n') + '\n');
    const r = await opnas(['teacher', ...TASK, '--teacher-logits', f, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.rows).toBeLessThan(labels.length); // the train split, less the dev rows
    expect(out.trainAccuracy).toBe(1);
  });

  it('a file of another size is refused before a search creates its run folder, naming both sizes it accepts', async () => {
    const dir = tempDir();
    const f = join(dir, 'logits.jsonl');
    writeFileSync(f, labels.slice(0, 100).map(() => '[0, 1]').join('\n'));
    const r = await opnas(['search', ...TASK, '--warmup-steps', '5', '--teacher-logits', f, '--name', 'x', '--quiet'], { env: { ...env, OPNAS_RUNS_DIR: dir } });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`100 rows, but the task has \\d+ training examples .*or ${labels.length}, one per line of the whole training file`));
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});

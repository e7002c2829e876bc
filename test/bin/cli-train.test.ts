// `opnas train` end to end in a subprocess: tiny runs on small fixtures, and every kind of bad input.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STANDARD_ATTENTION } from '../../spaces/attention-graph.js';
import { opnas, ROOT, tempDir, writeJson } from './helpers.js';

const FIX = join(ROOT, 'test/fixtures/train');
const fx = (name: string) => join(FIX, name);
const BIN = join(ROOT, 'dist/bin/opnas.js');
const SMALL = ['--max-len', '16', '--vocab-size', '200'];

/** helpers.opnas, but asynchronous, so independent runs overlap (describe.concurrent). */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, OPNAS_BACKEND: 'cpu', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Training runs use wasm: the plain-JS cpu backend is ~10x slower at training. */
const train = (args: string[]) => run(['train', ...args], { OPNAS_BACKEND: 'wasm' });

interface TrainJson {
  arch: string;
  task: string;
  metric: string;
  config: { steps: number; maxLen: number; evalEvery: number; seed: number; dropout: number };
  dev: { score: number; accuracy: number; f1: number; mcc: number };
  test: { score: number; accuracy: number; f1: number; mcc: number };
  params: number;
  flopsPerToken: number;
  latencyMs: number;
  steps: number;
  bestStep: number;
}

function expectResult(r: { code: number | null; stdout: string; stderr: string }): TrainJson {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as TrainJson;
  for (const split of [j.dev, j.test]) {
    for (const k of ['score', 'accuracy', 'f1'] as const) {
      expect(split[k]).toBeGreaterThanOrEqual(0);
      expect(split[k]).toBeLessThanOrEqual(1);
    }
    expect(split.mcc).toBeGreaterThanOrEqual(-1);
    expect(split.mcc).toBeLessThanOrEqual(1);
  }
  expect(j.params).toBeGreaterThan(0);
  expect(j.flopsPerToken).toBeGreaterThan(0);
  expect(j.latencyMs).toBeGreaterThan(0);
  expect(j.bestStep).toBeGreaterThan(0);
  expect(j.bestStep).toBeLessThanOrEqual(j.steps);
  return j;
}

/** One clear line on stderr, `opnas: ...`, no stack trace, non-zero exit. */
function expectError(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): string {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code).not.toBeNull(); // not killed by the timeout
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^opnas: /);
  expect(lines[0]).toMatch(pattern);
  return lines[0];
}

describe.concurrent('opnas train: runs', () => {
  it('trains bert-tiny on a small CSV (dev = a seeded 10% of train) and prints JSON', async () => {
    const r = await train(['--baseline', 'bert-tiny', '--train', fx('reviews.csv'), '--steps', '30', ...SMALL, '--eval-every', '10', '--batch-size', '8', '--json']);
    const j = expectResult(r);
    expect(j).toMatchObject({ arch: 'bert-tiny', task: 'custom', metric: 'accuracy' });
    expect(j.config).toMatchObject({ steps: 30, maxLen: 16, evalEvery: 10, batchSize: 8, seed: 0, dropout: 0 });
    expect(j.steps).toBeLessThanOrEqual(30);
    expect(r.stderr).toMatch(/72 train \/ 8 dev \/ 8 test, 2 classes/);
    expect(r.stderr).toMatch(/step 10\/30/);
  });

  it('--dropout 0.2: recorded in the JSON, and the same seed gives the same scores twice', async () => {
    const args = ['--baseline', 'bert-tiny', '--train', fx('reviews.csv'), '--steps', '12', ...SMALL, '--eval-every', '6', '--batch-size', '8', '--dropout', '0.2', '--json'];
    const [a, b] = await Promise.all([train(args), train(args)]);
    const ja = expectResult(a);
    expect(ja.config).toMatchObject({ dropout: 0.2 });
    expect(expectResult(b).dev).toEqual(ja.dev);
  });

  it('trains a sampled backbone genome file (opnas sample --space backbone --seed 3)', async () => {
    const s = await opnas(['sample', '--space', 'backbone', '--seed', '3', '--json']);
    expect(s.code).toBe(0);
    const genome = (JSON.parse(s.stdout) as { genome: unknown }[])[0].genome;
    const file = writeJson(tempDir(), 'genome.json', genome);
    const r = await train([file, '--train', fx('reviews.csv'), '--dev', fx('reviews-dev.tsv'), '--steps', '6', '--batch-size', '8', ...SMALL, '--eval-every', '3', '--json']);
    const j = expectResult(r);
    expect(j.arch).toBe(file);
    expect(r.stderr).toMatch(/80 train \/ 20 dev \/ 20 test/); // a CSV train file with a TSV dev file
  });

  it('reads a Latin-1 file with --encoding latin1', async () => {
    const r = await train(['--baseline', 'bert-tiny', '--train', fx('latin1.tsv'), '--encoding', 'latin1', '--steps', '2', ...SMALL, '--json']);
    expectResult(r);
  });

  it('reads a file without a header with --no-header (columns by index)', async () => {
    // reviews.csv's header row becomes a data row: its label "label" is then not in the map
    const r = await run(['train', '--baseline', 'bert-tiny', '--train', fx('reviews.csv'), '--no-header', '--text-column', '1', '--label-column', '2', '--label-map', 'neg=0,pos=1']);
    expectError(r, /reviews\.csv:1: label "label" is not in the label map/);
  });
});

describe.concurrent('opnas train: bad input is one clear error line', () => {
  const tiny = (...args: string[]) => run(['train', '--baseline', 'bert-tiny', ...args]);

  it('missing --train file', async () => {
    expectError(await tiny('--train', fx('no-such-file.csv')), /no-such-file\.csv: no such file/);
  });

  it('empty file', async () => {
    expectError(await tiny('--train', fx('empty.csv')), /empty\.csv: the file is empty/);
  });

  it('missing column, named in the message', async () => {
    expectError(await tiny('--train', fx('no-label.csv')), /no-label\.csv: no label column "label"; available: "sentence" \(0\), "rating" \(1\)/);
  });

  it('only one class in train', async () => {
    expectError(await tiny('--train', fx('one-class.csv')), /one-class\.csv: only one class \("pos"\)/);
  });

  it('a label not in --label-map, with its line', async () => {
    expectError(await tiny('--train', fx('unknown-label.csv'), '--label-map', 'neg=0,pos=1'), /unknown-label\.csv:7: label "maybe" is not in the label map/);
  });

  it('a Latin-1 file read as UTF-8: line number and the --encoding latin1 hint', async () => {
    const line = expectError(await tiny('--train', fx('latin1.tsv')), /latin1\.tsv:5:\d+: not valid UTF-8/);
    expect(line).toMatch(/--encoding latin1/);
    expect(readFileSync(fx('latin1.tsv')).includes(0xe9)).toBe(true); // the fixture really is Latin-1
  });

  it('unknown baseline (also the name of an Object.prototype member)', async () => {
    expectError(await run(['train', '--baseline', 'bert-huge']), /unknown baseline 'bert-huge' \(known: bert-tiny, bert-mini, bert-small\)/);
    expectError(await run(['train', '--baseline', 'constructor']), /unknown baseline 'constructor'/);
  });

  it('a genome file of another space (attention)', async () => {
    const file = writeJson(tempDir(), 'att.json', { space: 'attention', ...STANDARD_ATTENTION });
    expectError(await run(['train', file, '--train', fx('reviews.csv')]), /att\.json: an attention genome is a part of a model; train needs a backbone genome/);
  });

  it('invalid genome files: malformed JSON, and a genome with problems (listed one a line)', async () => {
    expectError(await run(['train', fx('malformed-genome.json')]), /malformed-genome\.json: malformed JSON/);
    const r = await run(['train', fx('invalid-genome.json')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const [head, ...problems] = r.stderr.trimEnd().split('\n');
    expect(head).toMatch(/^opnas: .*invalid-genome\.json: invalid backbone genome: 2 problems$/);
    expect(problems).toEqual([expect.stringMatching(/^ {2}- heads: 4 does not divide hidden 30/), expect.stringMatching(/^ {2}- layers: /)]);
  });

  it('numeric options out of range', async () => {
    expectError(await tiny('--steps', '0'), /--steps must be a positive integer, got 0/);
    expectError(await tiny('--lr', '-1'), /--lr must be positive, got -1/);
    expectError(await tiny('--max-len', '1'), /--max-len must be at least 2/);
    expectError(await tiny('--eval-every', '-5'), /--eval-every must be an integer >= 0, got -5/);
    expectError(await tiny('--dropout', '1'), /--dropout must be a rate from 0 \(no dropout\) up to but not including 1, got 1/);
    expectError(await tiny('--dropout', '-0.1'), /--dropout must be a rate .* got -0.1/);
  });

  it('unknown task name', async () => {
    expectError(await tiny('--task', 'nope'), /unknown task "nope"; bundled tasks: sst2, trec, cola/);
  });
});

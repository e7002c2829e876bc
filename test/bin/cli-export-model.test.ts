// `opnas export RUN --model DIR`: the run's winner trained with opnas train's settings (seed 0) as a model folder.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

const ARGS = [
  '--train', join(ROOT, 'test/fixtures/search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16',
  '--evaluator', 'standalone', '--layers', '1-1', '--hidden', '16', '--heads', '1,2', '--train-steps', '4',
  '--budget', '2', '--batch', '2', '--seed', '2', '--workers', '1',
  '--final-top', '1', '--final-seeds', '1', '--final-steps', '20', '--quiet',
];

it('trains the final stage winner again with seed 0, reproducing its final-stage scores, and writes a folder predict reads', () => {
  const dir = tempDir();
  const env = { OPNAS_BACKEND: 'wasm', OPNAS_RUNS_DIR: dir };
  const s = opnas(['search', '--name', 'r', ...ARGS], { env, timeout: 300_000 });
  expect(s.code, s.stderr).toBe(0);
  const model = join(dir, 'm');
  const e = opnas(['export', 'r', '--model', model, '--quiet', '--json'], { env, timeout: 300_000 });
  expect(e.code, e.stderr).toBe(0);
  const out = JSON.parse(e.stdout);
  const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  const run = JSON.parse(readFileSync(join(dir, 'r', 'run.json'), 'utf8'));
  const show = JSON.parse(opnas(['show', 'r', '--json'], { env }).stdout);
  expect(cfg.origin.genome_id).toBe(show.final.winner);
  expect(cfg.origin.run).toBe('r');
  expect(cfg.seed).toBe(0);
  expect(cfg.train.steps).toBe(20);
  expect(cfg.cost.latency.map((l: { runtime: string }) => l.runtime)).toEqual(['tfjs', 'onnx']);
  const seed0 = run.final.runs.find((x: { id: string; seed: number }) => x.id === show.final.winner && x.seed === 0);
  expect(out.test.score).toBe(seed0.test);
  expect(out.dev.score).toBe(seed0.dev);
  const p = opnas(['predict', model, '--text', 'a fine film', '--json'], { env });
  expect(p.code).toBe(0);
  expect(cfg.task.labelNames).toContain(JSON.parse(p.stdout).label);
  // neither --out nor --model: one line, exit 1
  const none = opnas(['export', 'r'], { env });
  expect(none.code).toBe(1);
  expect(none.stderr.trim()).toMatch(/^opnas: say where to export: --out DIR .* --model DIR/);
}, 300_000);

it('a search with --tokenizer wordpiece scores candidates with it, and export --model writes that tokenizer', () => {
  const dir = tempDir();
  const env = { OPNAS_BACKEND: 'wasm', OPNAS_RUNS_DIR: dir };
  const args = ARGS.map((a, i) => (ARGS[i - 1] === '--final-top' ? '0' : a));
  const s = opnas(['search', '--name', 'w', ...args, '--tokenizer', 'wordpiece'], { env, timeout: 300_000 });
  expect(s.code, s.stderr).toBe(0);
  const run = JSON.parse(readFileSync(join(dir, 'w', 'run.json'), 'utf8'));
  expect(run.config.tokenizer).toBe('wordpiece');
  expect(run.extra.tokenizer.type).toBe('opnas-wordpiece-tokenizer');
  expect(run.trials.filter((t: { status: string }) => t.status === 'ok').length).toBeGreaterThan(0);
  expect(opnas(['show', 'w'], { env }).stdout).toContain('tokenizer wordpiece');
  const model = join(dir, 'm');
  const e = opnas(['export', 'w', '--model', model, '--quiet'], { env, timeout: 300_000 });
  expect(e.code, e.stderr).toBe(0);
  const tj = JSON.parse(readFileSync(join(model, 'tokenizer.json'), 'utf8'));
  expect(tj.model.type).toBe('WordPiece');
  expect(Object.entries(tj.model.vocab).sort((a, b) => (a[1] as number) - (b[1] as number)).map(([t]) => t)).toEqual(run.extra.tokenizer.vocab);
  const bad = opnas(['search', '--name', 'bad', ...args, '--tokenizer', 'sentencepiece'], { env });
  expect(bad.stderr.trim()).toBe('opnas: --tokenizer must be wordlevel or wordpiece, got "sentencepiece"');
  expect(existsSync(join(dir, 'bad'))).toBe(false);
}, 300_000);

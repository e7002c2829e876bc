// `opnas train --out` writes a model folder; `opnas predict` reads it back and reproduces train's test score.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

const fx = (name: string) => join(ROOT, 'test/fixtures/train', name);
const BIN = join(ROOT, 'dist/bin/opnas.js');

describe('opnas predict', () => {
  let dir: string;
  let recorded: { test: { accuracy: number }; latencyMs: number };
  beforeAll(() => {
    dir = join(tempDir(), 'model');
    const args = ['train', '--baseline', 'bert-tiny', '--train', fx('reviews.csv'), '--dev', fx('reviews-dev.tsv'), '--test', fx('reviews-dev.tsv'), '--steps', '30', '--eval-every', '10', '--batch-size', '8', '--max-len', '16', '--vocab-size', '60', '--quiet', '--json', '--out', dir];
    const r = opnas(args, { env: { OPNAS_BACKEND: 'wasm' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    recorded = JSON.parse(r.stdout);
  }, 120_000);

  it('train --out writes the model folder beside the files it wrote before', () => {
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors', 'model.onnx', 'pytorch/model.py', 'README.md', 'genome.json', 'weights.bin', 'weights.json', 'result.json']) expect(existsSync(join(dir, f)), f).toBe(true);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg.task.labelNames).toEqual(['neg', 'pos']);
    expect(cfg.max_length).toBe(16);
    expect(cfg.scores.test.accuracy).toBe(recorded.test.accuracy);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/matmul\(softmax\(scale\(matmul\(Q, transpose\(K\)\)\)\), V\)/);
    // the card reports the latency of training (TF.js) and where the model is served (ONNX Runtime on model.onnx)
    const lat = cfg.cost.latency as { runtime: string; label: string; ms: number; how: string }[];
    expect(lat.map((l) => l.runtime)).toEqual(['tfjs', 'onnx']);
    for (const l of lat) expect(l.ms).toBeGreaterThan(0);
    expect(lat[0].ms).toBe(recorded.latencyMs);
    expect(lat[0].how).toMatch(/^TF.js 4\.\d+\.\d+, wasm backend, median of 5 after 1 warm-up$/);
    expect(lat[1].how).toMatch(/^onnxruntime-node 1\.\d+\.\d+, CPU, 1 thread, median of 7 after 2 warm-ups$/);
    const card = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(card).toContain(`| TF.js (opnas, training) | ${lat[0].ms.toFixed(2)} |`);
    expect(card).toContain(`| ONNX Runtime (\`model.onnx\`) | ${lat[1].ms.toFixed(2)} |`);
  });

  it('--file --json reproduces the test accuracy train recorded', () => {
    const r = opnas(['predict', dir, '--file', fx('reviews-dev.tsv'), '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = lines.pop().summary;
    expect(summary.accuracy).toBe(recorded.test.accuracy);
    expect(lines.length).toBe(summary.examples);
    expect(lines.filter((l) => l.label === l.gold).length / lines.length).toBe(recorded.test.accuracy);
    expect(Object.keys(lines[0].probs)).toEqual(['neg', 'pos']);
  });

  it('--text (repeated), plain lines and stdin give the same labels', () => {
    const a = opnas(['predict', dir, '--text', 'loved the cast', '--text', 'boring ending', '--json']);
    expect(a.code).toBe(0);
    const byText = a.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(byText.map((x) => x.text)).toEqual(['loved the cast', 'boring ending']);
    const file = join(tempDir(), 'texts.txt');
    writeFileSync(file, 'loved the cast\nboring ending\n');
    const b = opnas(['predict', dir, '--file', file, '--json']);
    expect(b.stdout.trim().split('\n').map((l) => JSON.parse(l).label)).toEqual(byText.map((x) => x.label));
    const c = spawnSync(process.execPath, [BIN, 'predict', dir], { input: 'loved the cast\nboring ending\n', encoding: 'utf8', env: { ...process.env, OPNAS_BACKEND: 'cpu' } });
    expect(c.stdout.trim().split('\n').map((l) => l.split('\t')[0])).toEqual(byText.map((x) => x.label));
  });

  it('bad folders are one line and exit 1', () => {
    const r = opnas(['predict', join(dir, 'nope'), '--text', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^opnas: .*nope: no such folder$/);
    const empty = tempDir();
    const e = opnas(['predict', empty, '--text', 'x']);
    expect(e.code).toBe(1);
    expect(e.stderr.trim()).toMatch(/^opnas: .*config.json is missing/);
    expect(e.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('a WordPiece model folder (train --tokenizer wordpiece)', () => {
  it('writes a WordPiece tokenizer.json; predict reproduces the recorded test accuracy; a bad --tokenizer is one error before any folder', () => {
    const dir = join(tempDir(), 'wp');
    const args = ['train', '--baseline', 'bert-tiny', '--train', fx('reviews.csv'), '--dev', fx('reviews-dev.tsv'), '--test', fx('reviews-dev.tsv'), '--steps', '20', '--eval-every', '10', '--batch-size', '8', '--max-len', '24', '--vocab-size', '120', '--quiet', '--json', '--tokenizer', 'wordpiece', '--out', dir];
    const r = opnas(args, { env: { OPNAS_BACKEND: 'wasm' } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const recorded = JSON.parse(r.stdout);
    expect(recorded.tokenizer).toBe('wordpiece');
    const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    expect(tj.model.type).toBe('WordPiece');
    expect(Object.keys(tj.model.vocab).some((t) => t.startsWith('##'))).toBe(true);
    const p = opnas(['predict', dir, '--file', fx('reviews-dev.tsv'), '--json']);
    expect(p.code).toBe(0);
    const summary = p.stdout.trim().split('\n').map((l) => JSON.parse(l)).pop().summary;
    expect(summary.accuracy).toBe(recorded.test.accuracy);
    const bad = join(tempDir(), 'never');
    const b = opnas([...args.slice(0, -4), '--tokenizer', 'bpe', '--out', bad]);
    expect(b.code).toBe(1);
    expect(b.stderr.trim()).toBe('opnas: --tokenizer must be wordlevel or wordpiece, got "bpe"');
    expect(existsSync(bad)).toBe(false);
  }, 120_000);
});

describe('a sentence-pair model', () => {
  it('--text with --pair classifies pairs as --file with the pair column does; mismatched use is one error', () => {
    const pairs = join(ROOT, 'test/fixtures/tasks/pairs.tsv');
    const dir = join(tempDir(), 'nli');
    const t = opnas(['train', '--baseline', 'bert-tiny', '--train', pairs, '--dev', pairs, '--test', pairs, '--text-column', 'premise', '--pair-column', 'hypothesis', '--label-column', 'label',
      '--steps', '6', '--eval-every', '3', '--batch-size', '2', '--max-len', '16', '--vocab-size', '40', '--quiet', '--json', '--out', dir]);
    expect(t.code, t.stderr).toBe(0);
    const byFile = opnas(['predict', dir, '--file', pairs, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    byFile.pop();
    const byText = opnas(['predict', dir, '--json', ...byFile.flatMap((r) => ['--text', r.text, '--pair', r.pair])]);
    expect(byText.code, byText.stderr).toBe(0);
    const rows = byText.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.text, r.pair, r.label, r.probs])).toEqual(byFile.map((r) => [r.text, r.pair, r.label, r.probs]));
    expect(rows.map((r) => r.pair)).toEqual(['a person rests', 'the cat is silent', 'the ground is wet']);
    const err = (args: string[]) => opnas(['predict', dir, ...args]).stderr.trim();
    expect(err(['--text', 'a dog barks'])).toBe('opnas: this model classifies sentence pairs: give --pair with each --text, or --file with --pair-column');
    expect(err(['--text', 'a', '--text', 'b', '--pair', 'c'])).toBe('opnas: give one --pair per --text: 2 --text but 1 --pair');
    expect(err(['--pair', 'c'])).toBe('opnas: --pair gives the second sentence of each --text: give --text too');
  }, 120_000);

  it('--pair on a single-text model is refused', () => {
    const dir = join(tempDir(), 'single');
    const t = opnas(['train', '--baseline', 'bert-tiny', '--train', fx('reviews.csv'), '--steps', '2', '--eval-every', '0', '--max-len', '16', '--vocab-size', '40', '--quiet', '--out', dir]);
    expect(t.code, t.stderr).toBe(0);
    expect(opnas(['predict', dir, '--text', 'a', '--pair', 'b']).stderr.trim()).toBe('opnas: this model classifies single texts, not pairs: drop --pair');
  }, 120_000);
});

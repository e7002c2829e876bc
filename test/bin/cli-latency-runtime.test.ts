// --latency-runtime: a search measures latency where the model is served; without onnxruntime-node, one clear error.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

const TINY = join(ROOT, 'test/fixtures/search/tiny.tsv');
const ARGS = [
  '--train', TINY, '--vocab-size', '64', '--max-len', '16',
  '--evaluator', 'standalone', '--layers', '1-1', '--hidden', '16', '--heads', '1,2', '--train-steps', '4',
  '--budget', '2', '--batch', '2', '--seed', '3', '--workers', '1', '--quiet',
];

describe('opnas search --latency-runtime onnx', () => {
  it('records the runtime, scores latency with it in the search and the final stage, and show labels it', () => {
    const dir = tempDir();
    const env = { OPNAS_BACKEND: 'wasm', OPNAS_RUNS_DIR: dir };
    const s = opnas(['search', '--name', 'o', ...ARGS, '--latency-runtime', 'onnx', '--objective', 'dev,latency', '--max-latency-ms', '1000', '--final-top', '1', '--final-seeds', '1', '--final-steps', '10'], { env, timeout: 300_000 });
    expect(s.code, s.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, 'o', 'run.json'), 'utf8'));
    expect(run.config.latencyRuntime).toBe('onnx');
    const ok = run.trials.filter((t: { status: string }) => t.status === 'ok');
    expect(ok.length).toBeGreaterThan(0);
    for (const t of ok) expect(t.scores.latency).toBeGreaterThan(0);
    for (const r of run.final.runs) expect(r.latency).toBeGreaterThan(0);
    const show = opnas(['show', 'o'], { env });
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('latency measured with ONNX Runtime, tokenizer wordlevel');
    expect(show.stdout).toMatch(/final stage: .*latency measured with ONNX Runtime/);
    expect(JSON.parse(opnas(['show', 'o', '--json'], { env }).stdout).summary.latencyRuntime).toBe('onnx');
  }, 300_000);

  it('a bad runtime, or one on nb201, is one error before a run folder exists', () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    const a = opnas(['search', '--name', 'a', ...ARGS, '--latency-runtime', 'gpu'], { env });
    expect(a.code).toBe(1);
    expect(a.stderr.trim()).toBe('opnas: --latency-runtime must be tfjs or onnx, got "gpu"');
    const b = opnas(['search', '--name', 'b', '--space', 'nb201', '--latency-runtime', 'onnx', '--quiet'], { env });
    expect(b.code).toBe(1);
    expect(b.stderr.trim()).toBe('opnas: --latency-runtime applies to backbone searches (the nb201 space has no latency to measure)');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('without onnxruntime-node installed', () => {
  // a copy of opnas whose node_modules has everything but onnxruntime-node (an optional dependency)
  function installWithoutOrt(): string {
    const pkg = join(tempDir(), 'opnas');
    mkdirSync(join(pkg, 'node_modules'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(ROOT, 'data'), join(pkg, 'data'));
    for (const m of readdirSync(join(ROOT, 'node_modules'))) if (m !== 'onnxruntime-node' && m !== '.bin') symlinkSync(join(ROOT, 'node_modules', m), join(pkg, 'node_modules', m));
    return pkg;
  }

  it('search --latency-runtime onnx names the package to install and makes no run folder; train --out still writes the folder', () => {
    const pkg = installWithoutOrt();
    const runs = tempDir();
    const cli = (args: string[]) => spawnSync(process.execPath, [join(pkg, 'dist/bin/opnas.js'), ...args], { encoding: 'utf8', env: { ...process.env, OPNAS_BACKEND: 'cpu', OPNAS_RUNS_DIR: runs }, timeout: 120_000 });
    const s = cli(['search', '--name', 'x', ...ARGS, '--latency-runtime', 'onnx', '--objective', 'dev,latency']);
    expect(s.status).toBe(1);
    expect(s.stderr.trim()).toMatch(/^opnas: install onnxruntime-node to use --latency-runtime onnx \(npm install onnxruntime-node; it could not be loaded: .*onnxruntime-node.*\)$/);
    expect(readdirSync(runs)).toEqual([]);
    const out = join(runs, 'm');
    const t = cli(['train', '--baseline', 'bert-tiny', '--train', TINY, '--vocab-size', '64', '--max-len', '16', '--steps', '2', '--eval-every', '0', '--quiet', '--out', out]);
    expect(t.status, t.stderr).toBe(0);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.cost.latency.map((l: { runtime: string }) => l.runtime)).toEqual(['tfjs']);
    expect(cfg.cost.latency_note).toMatch(/^ONNX Runtime latency not measured: install onnxruntime-node/);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('ONNX Runtime latency not measured');
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
  }, 180_000);
});

// --latency-runtime browser: a search times its candidates in ONNX Runtime Web in headless Chromium,
// with one browser for the whole search; --browser-latency puts the browser's figure in the model card.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { opnas, readRunData, ROOT, tempDir } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** A CHROMIUM_PATH that writes its pid to a file for each launch, then becomes Chromium. */
function countingChromium(dir: string): { path: string; pids: () => number[] } {
  const log = join(dir, 'launches.txt');
  const path = join(dir, 'chromium.sh');
  writeFileSync(path, `#!/bin/sh\necho $$ >> '${log}'\nexec '${CHROMIUM}' "$@"\n`);
  chmodSync(path, 0o755);
  return { path, pids: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map(Number) : []) };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const ARGS = [
  '--train', join(ROOT, 'test/fixtures/search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16',
  '--evaluator', 'standalone', '--layers', '1-2', '--hidden', '16', '--heads', '1,2', '--train-steps', '4',
  '--budget', '4', '--batch', '2', '--seed', '3', '--workers', '2', '--objective', 'dev,latency',
  '--final-top', '1', '--final-seeds', '1', '--final-steps', '10', '--quiet',
];

it('a search measures every candidate in one browser, started once and closed at the end; export --web --browser-latency adds the browser row', async () => {
  const dir = tempDir();
  const chromium = countingChromium(dir);
  const env = { OPNAS_BACKEND: 'wasm', OPNAS_RUNS_DIR: dir, CHROMIUM_PATH: chromium.path };
  const s = await opnas(['search', '--name', 'b', ...ARGS, '--latency-runtime', 'browser'], { env, timeout: 300_000 });
  expect(s.code, s.stderr).toBe(0);
  const run = readRunData(dir, 'b');
  expect(run.config.latencyRuntime).toBe('browser');
  const ok = run.trials.filter((t) => t.status === 'ok');
  expect(ok.length).toBeGreaterThanOrEqual(2);
  for (const t of ok) expect(t.scores.latency).toBeGreaterThan(0);
  expect(run.final!.runs.every((r) => r.status === 'ok' && r.latency! > 0)).toBe(true);
  // one browser for the search and its final stage, gone when the search ended
  expect(chromium.pids()).toHaveLength(1);
  expect(alive(chromium.pids()[0])).toBe(false);
  expect((await opnas(['show', 'b'], { env })).stdout).toMatch(/latency measured with ONNX Runtime Web \(browser\)/);
  // the HTML report's latency chart says where latency was measured
  const html = join(dir, 'report.html');
  expect((await opnas(['report', 'b', '--out', html], { env })).code).toBe(0);
  expect(readFileSync(html, 'utf8')).toMatch(/as the search measured it, in ONNX Runtime Web \(browser\)/);

  const web = join(dir, 'web');
  const model = join(dir, 'model');
  const genomeDir = join(dir, 'genome');
  // the model folder, the page and the genome in one export: one JSON object names them all
  const e = await opnas(['export', 'b', '--model', model, '--web', web, '--out', genomeDir, '--browser-latency', '--quiet', '--json'], { env, timeout: 300_000 });
  expect(e.code, e.stderr).toBe(0);
  const out = JSON.parse(e.stdout);
  expect([out.model, out.web, out.genome]).toEqual([model, web, join(genomeDir, 'genome.json')]);
  expect(readFileSync(join(model, 'config.json'), 'utf8')).toBe(readFileSync(join(web, 'config.json'), 'utf8'));
  for (const f of ['index.html', 'app.js', 'model.onnx', 'tokenizer.json', 'config.json', 'ort-wasm-simd-threaded.wasm']) expect(existsSync(join(web, f)), f).toBe(true);
  const cfg = JSON.parse(readFileSync(join(web, 'config.json'), 'utf8'));
  const row = cfg.cost.latency.find((l: { runtime: string }) => l.runtime === 'browser');
  expect(row.ms).toBeGreaterThan(0);
  expect(row.how).toMatch(/^onnxruntime-web \d+\.\d+\.\d+, (Headless)?Chrome\/[\d.]+, wasm, 1 thread, headless, median of 10 after 2 warm-ups$/);
  expect(cfg.origin.run).toBe('b');
  expect(chromium.pids()).toHaveLength(2);
}, 600_000);

it('train --out --browser-latency: the card shows the browser row; without it no browser starts; bad use is one line', async () => {
  const dir = tempDir();
  const chromium = countingChromium(dir);
  const fx = (n: string) => join(ROOT, 'test/fixtures/train', n);
  const base = ['train', '--baseline', 'bert-tiny', '--train', fx('reviews.csv'), '--dev', fx('reviews-dev.tsv'), '--test', fx('reviews-dev.tsv'), '--steps', '10', '--eval-every', '10', '--batch-size', '8', '--max-len', '16', '--vocab-size', '60', '--quiet'];
  const env = { OPNAS_BACKEND: 'wasm', CHROMIUM_PATH: chromium.path };
  const with_ = join(dir, 'with');
  const t = await opnas([...base, '--out', with_, '--browser-latency'], { env });
  expect(t.code, t.stderr).toBe(0);
  const cfg = JSON.parse(readFileSync(join(with_, 'config.json'), 'utf8'));
  expect(cfg.cost.latency.map((l: { runtime: string }) => l.runtime)).toContain('browser');
  expect(readFileSync(join(with_, 'README.md'), 'utf8')).toMatch(/\| ONNX Runtime Web \(browser\) \(`model.onnx`\) \| \d+\.\d\d \| onnxruntime-web \d+\.\d+\.\d+, (Headless)?Chrome\/[\d.]+, wasm, 1 thread, headless, median of 10/);
  expect(chromium.pids()).toHaveLength(1);
  expect(alive(chromium.pids()[0])).toBe(false);
  const without = join(dir, 'without');
  expect((await opnas([...base, '--out', without], { env })).code).toBe(0);
  expect(JSON.parse(readFileSync(join(without, 'config.json'), 'utf8')).cost.latency.map((l: { runtime: string }) => l.runtime)).not.toContain('browser');
  expect(chromium.pids()).toHaveLength(1);

  const cases: [string[], Record<string, string>, RegExp][] = [
    [[...base, '--browser-latency'], env, /^opnas: --browser-latency measures the saved model: give --out DIR$/],
    [[...base, '--out', join(dir, 'x'), '--browser-latency'], { CHROMIUM_PATH: join(dir, 'nope') }, /^opnas: CHROMIUM_PATH=.*nope: no such file/],
    [['search', '--name', 'n', ...ARGS, '--latency-runtime', 'browser'], { OPNAS_RUNS_DIR: dir, CHROMIUM_PATH: join(dir, 'nope') }, /^opnas: CHROMIUM_PATH=.*nope: no such file/],
  ];
  for (const [args, e, re] of cases) {
    const r = await opnas(args, { env: e });
    expect(r.code, args.join(' ')).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(re);
  }
  // checked before the run folder or the model folder exists
  expect(existsSync(join(dir, 'n'))).toBe(false);
  expect(existsSync(join(dir, 'x'))).toBe(false);
}, 300_000);

it('Ctrl-C during a browser-latency search: interrupted and saved as any run is, the browser closed', async () => {
  const dir = tempDir();
  const chromium = countingChromium(dir);
  const args = ARGS.filter((a) => a !== '--quiet').map((a, i, all) => (all[i - 1] === '--budget' ? '40' : a));
  const child = spawn(process.execPath, [join(ROOT, 'dist/bin/opnas.js'), 'search', '--name', 'c', ...args, '--latency-runtime', 'browser', '--final-top', '0'], {
    env: { ...process.env, OPNAS_BACKEND: 'wasm', OPNAS_RUNS_DIR: dir, CHROMIUM_PATH: chromium.path },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d) => {
    stderr += d;
    if (!sent && /trial \d+ ok/.test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((ok) => child.on('exit', (c) => ok(c)));
  expect(sent, stderr).toBe(true);
  expect(stderr).toMatch(/run 'c' interrupted; its trials are saved\. Continue it with: opnas resume c/);
  expect(code).toBe(130);
  const run = readRunData(dir, 'c');
  expect(run.status).toBe('interrupted');
  expect(existsSync(join(dir, 'c', 'run.lock'))).toBe(false);
  expect(chromium.pids()).toHaveLength(1);
  expect(alive(chromium.pids()[0])).toBe(false);
}, 300_000);

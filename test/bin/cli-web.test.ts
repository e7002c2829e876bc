// `opnas export --web` and `opnas serve`: the page, served, classifies typed sentences in headless
// Chromium exactly as `opnas predict` does, fetches nothing from elsewhere and logs no errors.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../../evaluators/tasks/tokenizer.js';
import { launchBrowser } from '../helpers/browser.js';
import { opnas, ROOT, tempDir } from './helpers.js';

const BIN = join(ROOT, 'dist/bin/opnas.js');

/** `opnas serve DIR --port N`: resolves with the printed URL once it listens. */
function serve(dir: string, port = 0): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', dir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) ok({ child, url: out.trim(), stderr: () => err });
    });
    child.on('exit', (code) => fail(new Error(`opnas serve exited ${code}: ${err}`)));
  });
}

/** A raw GET (no URL normalisation, as a hostile client would send it). */
function rawGet(url: string, path: string, method = 'GET'): Promise<{ status: number; type?: string; body: string }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => ok({ status: res.statusCode!, type: res.headers['content-type'], body }));
    });
    req.on('error', fail);
    req.end();
  });
}

const SENTENCES = [
  'a gorgeous, witty, seductive movie.',
  'the plot is a dull, lifeless mess',
  'Ça m’a plu — TRÈS bien joué !',
  // longer than --max-len 32: both sides truncate it the same way
  'it is not the best film of the year , but it is funny and warm and the actors seem to enjoy every single minute of it , which is more than i can say for most comedies',
];

describe('the web page', () => {
  let model: string;
  let web: string;
  let server: Awaited<ReturnType<typeof serve>>;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    const dir = tempDir();
    model = join(dir, 'model');
    web = join(dir, 'web');
    const t = await opnas(['train', '--baseline', 'bert-tiny', '--task', 'sst2', '--steps', '30', '--eval-every', '30', '--max-len', '32', '--quiet', '--out', model], { env: { OPNAS_BACKEND: 'wasm' }, timeout: 240_000 });
    expect(t.code, t.stderr).toBe(0);
    const e = await opnas(['export', '--from-model', model, '--web', web, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).files).toEqual(expect.arrayContaining(['index.html', 'app.js', 'model.onnx', 'tokenizer.json', 'config.json', 'ort.wasm.min.js', 'ort-wasm-simd-threaded.wasm']));
    server = await serve(web);
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`console.${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${(err as Error).message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForSelector('#status[data-state="ready"], #status[data-state="error"]', { timeout: 60_000 });
    expect(await page.$eval('#status', (s) => (s as HTMLElement).dataset.state + ': ' + s.textContent)).toMatch(/^ready: /);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    server?.child.kill('SIGINT');
  });

  it('classifies typed sentences with opnas predict\'s probabilities (within 1e-4), showing label, probabilities and latency', async () => {
    const p = await opnas(['predict', model, ...SENTENCES.flatMap((s) => ['--text', s]), '--json']);
    expect(p.code, p.stderr).toBe(0);
    const expected = p.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; probs: Record<string, number> });
    let worst = 0;
    for (const [i, s] of SENTENCES.entries()) {
      await page.click('#text', { count: 3 });
      await page.$eval('#text', (t) => ((t as HTMLTextAreaElement).value = ''));
      await page.type('#text', s);
      await page.keyboard.press('Enter');
      await page.waitForFunction((text) => (document.querySelector('#result') as HTMLElement).dataset.text === text && document.querySelectorAll('#history tbody tr').length > 0 && document.querySelector('#history tbody tr td')!.textContent === text, {}, s);
      const label = await page.$eval('#label', (l) => l.textContent);
      const probs = await page.$$eval('#probs tbody tr', (rows) => rows.map((r) => [(r as HTMLElement).dataset.label!, Number((r as HTMLElement).dataset.prob)] as const));
      const shown = await page.$$eval('#probs tbody tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent));
      expect(label, s).toBe(expected[i].label);
      expect(probs.map(([l]) => l)).toEqual(Object.keys(expected[i].probs));
      for (const [l, v] of probs) {
        worst = Math.max(worst, Math.abs(v - expected[i].probs[l]));
        expect(Math.abs(v - expected[i].probs[l]), `${s}: ${l}`).toBeLessThanOrEqual(1e-4);
      }
      expect(shown).toEqual(probs.map(([, v]) => `${(100 * v).toFixed(2)}%`));
      const latency = await page.$eval('#latency', (l) => l.textContent!);
      expect(latency).toMatch(/^\(forward \d+\.\d\d ms, \d+ tokens\)$/);
      expect(Number(/forward (\S+) ms/.exec(latency)![1])).toBeGreaterThan(0);
    }
    // every kept example is listed, newest first, with its latency
    const history = await page.$$eval('#history tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)));
    expect(history.map((r) => r[0])).toEqual([...SENTENCES].reverse());
    for (const r of history) expect(Number(r[3])).toBeGreaterThan(0);
    console.log(`web page vs opnas predict: largest probability difference ${worst.toExponential(2)} over ${SENTENCES.length} sentences`);
  }, 120_000);

  it('tokenizes exactly as opnas does, truncation and sentence pairs included', async () => {
    const tok = Tokenizer.fromJSON(JSON.parse(readFileSync(join(model, 'tokenizer.json'), 'utf8')));
    const maxLen = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).max_length as number;
    const texts = [
      '', '   ', 'Hello, WORLD!!', 'cafe\u0301 CAFÉ café', 'İstanbul ǅemal ß', 'tab\there\u00a0nbsp\u2003em\ufeffbom\u0085nel',
      "don't -- \"quoted\" (parens) 3.14 1,000 #tag @user", '日本語のテキスト 中文', '😀 👍🏽 ★☆', 'x'.repeat(300), SENTENCES[3],
      Array.from({ length: 60 }, (_, i) => `w${i}`).join(' '),
    ];
    const got = await page.evaluate((ts: string[]) => ts.map((t) => (window as unknown as { opnas: { encode(t: string, p?: string): number[] } }).opnas.encode(t)), texts);
    texts.forEach((t, i) => expect(got[i], JSON.stringify(t)).toEqual(Array.from(tok.encode(t, maxLen))));
    // the page's own pair encoding (used by pair-task models) truncates longest-first as opnas does
    const pairs: [string, string][] = [['a b c', 'd e'], [SENTENCES[3], 'short one'], [SENTENCES[3], SENTENCES[3]], ['', '']];
    const gotPairs = await page.evaluate((ps: [string, string][]) => ps.map(([a, b]) => (window as unknown as { opnas: { encode(t: string, p?: string): number[] } }).opnas.encode(a, b)), pairs);
    pairs.forEach(([a, b], i) => expect(gotPairs[i]).toEqual(Array.from(tok.encode(a, b, maxLen))));
  });

  it('tokenizes WordPiece tokenizer.json files exactly as opnas does', async () => {
    const { loadTask } = await import('../../evaluators/tasks/named.js');
    const data = loadTask('sst2', { seed: 0 });
    const texts = data.train.texts.slice(0, 3000);
    const maxLen = 24;
    const tok = Tokenizer.train(texts, 600, 'wordpiece');
    const probe = [...data.dev.texts.slice(0, 150), 'unseenwordzzz supercalifragilistic', 'x'.repeat(120), 'Ça m’a plu', '', 'a'];
    const got = await page.evaluate(
      (json: unknown, n: number, ts: string[]) => {
        const enc = (window as unknown as { opnas: { tokenizer(t: unknown, n: number): { encode(t: string, p?: string): number[] } } }).opnas.tokenizer(json, n);
        return { single: ts.map((t) => enc.encode(t)), pairs: ts.slice(0, 50).map((t, i) => enc.encode(t, ts[i + 1])) };
      },
      tok.toHuggingFace(maxLen),
      maxLen,
      probe,
    );
    probe.forEach((t, i) => expect(got.single[i], JSON.stringify(t)).toEqual(Array.from(tok.encode(t, maxLen))));
    got.pairs.forEach((ids, i) => expect(ids).toEqual(Array.from(tok.encode(probe[i], probe[i + 1], maxLen))));
    // the probe does split words into pieces and hit [UNK]
    expect(got.single.flat().some((id) => tok.token(id).startsWith('##'))).toBe(true);
  }, 60_000);

  it('asks only its own origin, gets wasm as application/wasm, and logs no errors', async () => {
    const origin = new URL(server.url).origin;
    expect(requests.length).toBeGreaterThanOrEqual(8);
    expect(requests.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin)).toEqual([]);
    expect(requests.map((u) => new URL(u).pathname)).toEqual(expect.arrayContaining(['/model.onnx', '/tokenizer.json', '/ort-wasm-simd-threaded.wasm']));
    expect(problems).toEqual([]);
    const wasm = await rawGet(server.url, '/ort-wasm-simd-threaded.wasm', 'HEAD');
    expect([wasm.status, wasm.type]).toEqual([200, 'application/wasm']);
    expect((await rawGet(server.url, '/')).type).toBe('text/html; charset=utf-8');
    expect((await rawGet(server.url, '/app.js')).type).toMatch(/^text\/javascript/);
    expect((await rawGet(server.url, '/config.json')).type).toMatch(/^application\/json/);
  });

  it('serve refuses paths outside its folder, answers 404 and 405, and stops cleanly on Ctrl-C', async () => {
    // a file beside the served folder, and a link from inside the folder to it
    const secret = join(web, '..', 'secret.txt');
    writeFileSync(secret, 'secret');
    symlinkSync(secret, join(web, 'link.txt'));
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/link.txt']) {
      const r = await rawGet(server.url, path);
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.body, path).not.toContain('secret');
    }
    expect((await rawGet(server.url, '/nope.js')).status).toBe(404);
    expect((await rawGet(server.url, '/index.html', 'POST')).status).toBe(405);
    mkdirSync(join(web, 'sub'));
    expect((await rawGet(server.url, '/sub/')).status).toBe(404);
    // a second server on the same port: one line, exit 1
    const port = new URL(server.url).port;
    const busy = await opnas(['serve', web, '--port', port]);
    expect(busy.code).toBe(1);
    expect(busy.stderr.trim()).toMatch(new RegExp(`^opnas: port ${port} on 127\\.0\\.0\\.1 is in use: pick another with --port`));
    expect(busy.stderr.trim().split('\n')).toHaveLength(1);
    // Ctrl-C: exit 0 at once
    const s2 = await serve(web);
    const exited = new Promise<number | null>((ok) => s2.child.on('exit', (code) => ok(code)));
    s2.child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(s2.stderr()).toMatch(/serving .* \(Ctrl-C to stop\)\nstopped\n$/);
  });

  it('bad input is one line and exit 1: missing model folder, existing page folder without --force, missing run, missing folder to serve', async () => {
    const dir = tempDir();
    const cases: [string[], RegExp][] = [
      [['export', '--from-model', join(dir, 'nope'), '--web', join(dir, 'w')], /nope: no such model folder/],
      [['export', '--from-model', dir, '--web', join(dir, 'w')], /config\.json is missing/],
      [['export', '--from-model', model, '--web', web], /--web .*: the folder exists and is not empty \(pass --force to overwrite it\)/],
      [['export', '--from-model', model], /--from-model needs --web DIR/],
      [['export', 'r', '--from-model', model, '--web', join(dir, 'w')], /give a run or --from-model, not both/],
      [['export', '--web', join(dir, 'w')], /name a run to export/],
      [['export', 'no-such-run', '--web', join(dir, 'w')], /no-such-run/],
      [['serve', join(dir, 'nope')], /nope: no such folder/],
      [['serve', web, '--port', '70000'], /--port must be an integer 0\.\.65535/],
    ];
    for (const [args, re] of cases) {
      const r = await opnas(args, { env: { OPNAS_RUNS_DIR: dir } });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
    // --force writes into it
    const f = await opnas(['export', '--from-model', model, '--web', web, '--force']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toMatch(/^wrote the web page .* serve it with: opnas serve /);
  });
});

describe('the web page of a sentence-pair model', () => {
  it('shows a second box and classifies typed pairs as opnas predict --text --pair does', async () => {
    const pairs = join(ROOT, 'test/fixtures/tasks/pairs.tsv');
    const dir = tempDir();
    const model = join(dir, 'nli');
    const web = join(dir, 'web');
    const t = await opnas(['train', '--baseline', 'bert-tiny', '--train', pairs, '--dev', pairs, '--test', pairs, '--text-column', 'premise', '--pair-column', 'hypothesis', '--label-column', 'label',
      '--steps', '6', '--eval-every', '3', '--batch-size', '2', '--max-len', '16', '--vocab-size', '40', '--quiet', '--out', model]);
    expect(t.code, t.stderr).toBe(0);
    expect((await opnas(['export', '--from-model', model, '--web', web])).code).toBe(0);
    const examples: [string, string][] = [['a man is sleeping', 'a person rests'], ['it rains', 'the dog is dry and the cat sleeps all day long in the warm sun by the window']];
    const p = await opnas(['predict', model, '--json', ...examples.flatMap(([a, b]) => ['--text', a, '--pair', b])]);
    expect(p.code, p.stderr).toBe(0);
    const expected = p.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; probs: Record<string, number> });
    const server = await serve(web);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push((e as Error).message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      await page.goto(server.url);
      await page.waitForSelector('#status[data-state="ready"]', { timeout: 60_000 });
      expect(await page.$eval('#pair-row', (r) => (r as HTMLElement).hidden)).toBe(false);
      for (const [i, [a, b]] of examples.entries()) {
        for (const id of ['#pair', '#text']) await page.$eval(id, (t) => ((t as HTMLTextAreaElement).value = ''));
        await page.type('#pair', b);
        await page.type('#text', a);
        await page.keyboard.press('Enter');
        await page.waitForFunction((text) => document.querySelector('#history tbody tr td')?.textContent === text, {}, a);
        expect(await page.$eval('#label', (l) => l.textContent)).toBe(expected[i].label);
        const probs = await page.$$eval('#probs tbody tr', (rows) => rows.map((r) => [(r as HTMLElement).dataset.label!, Number((r as HTMLElement).dataset.prob)] as const));
        for (const [l, v] of probs) expect(Math.abs(v - expected[i].probs[l]), `${a} / ${b}: ${l}`).toBeLessThanOrEqual(1e-4);
      }
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      server.child.kill('SIGINT');
    }
  }, 180_000);
});

// `opnas report` end to end: the page rendered in headless Chromium (every chart drawn, no console
// errors, nothing fetched), the SVG files, the time for a 500-trial run, and bad input.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../helpers/browser.js';
import { opnas, ROOT, tempDir } from './helpers.js';

const dir = tempDir();
const env = { OPNAS_RUNS_DIR: dir, OPNAS_BACKEND: 'wasm' };
const FIX = join(ROOT, 'test/fixtures');

/** A tiny backbone search with a final stage, and a fidelity measurement in its folder. */
function backboneRun(): void {
  const search = opnas(
    ['search', '--name', 'bb', '--train', join(FIX, 'search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16', '--evaluator', 'standalone', '--layers', '1-1', '--hidden', '16,32', '--heads', '1,2',
      '--train-steps', '6', '--budget', '8', '--batch', '2', '--population', '4', '--tournament', '2', '--seed', '2', '--workers', '2', '--final-top', '2', '--final-seeds', '2', '--final-steps', '30', '--quiet'],
    { env, timeout: 240_000 },
  );
  expect(search.code, search.stderr).toBe(0);
  const fidelity = opnas(
    ['fidelity', '--train', join(FIX, 'train/reviews.csv'), '--dev', join(FIX, 'train/reviews-dev.tsv'), '--max-len', '16', '--vocab-size', '60', '--sample', '4', '--layers', '1-2', '--hidden', '16,32',
      '--heads', '1,2', '--steps', '3', '--supernet-steps', '4', '--workers', '0', '--quiet', '--json'],
    { env, timeout: 240_000 },
  );
  expect(fidelity.code, fidelity.stderr).toBe(0);
  writeFileSync(join(dir, 'bb', 'fidelity.json'), fidelity.stdout);
}

function md5(file: string): string {
  return createHash('md5').update(readFileSync(file)).digest('hex');
}

describe('opnas report', { timeout: 240_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    expect(opnas(['search', '--name', 'big', '--space', 'nb201', '--budget', '500', '--quiet'], { env }).code).toBe(0);
    backboneRun();
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('writes the report of a 500-trial run in under 5 s, with one SVG per chart', () => {
    const out = join(dir, 'out-big', 'big.html');
    const t0 = performance.now();
    const r = opnas(['report', 'big', '--out', out, '--json'], { env });
    const seconds = (performance.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(seconds).toBeLessThan(5);
    const paths = JSON.parse(r.stdout) as { html: string; svg: string[]; charts: string[] };
    expect(paths.charts).toEqual(['history', 'params', 'op-priorities', 'lineage']);
    expect(paths.svg.map((p) => p.slice(p.lastIndexOf('/') + 1))).toEqual(paths.charts.map((c) => `big-${c}.svg`));
    for (const f of paths.svg) {
      const svg = readFileSync(f, 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toMatch(/class="mark-[a-z]+ role-mark/);
    }
    // every trial is a point of the params chart's SVG
    const params = readFileSync(paths.svg[1], 'utf8');
    const symbols = /class="mark-symbol role-mark[^>]*>(.*?)<\/g>/s.exec(params)![1];
    expect(symbols.match(/<path/g)!.length).toBe(JSON.parse(readFileSync(join(dir, 'big', 'run.json'), 'utf8')).trials.filter((t: { status: string }) => t.status === 'ok').length);
  });

  it('renders every chart in headless Chromium with no console errors and no network', async () => {
    const bb = opnas(['report', 'bb', '--out', join(dir, 'bb.html'), '--json'], { env });
    expect(bb.code, bb.stderr).toBe(0);
    const charts = (JSON.parse(bb.stdout) as { charts: string[] }).charts;
    // the backbone run has every section: latency from the stand-alone evaluator, a final stage, a fidelity file
    expect(charts).toEqual(['history', 'params', 'latency', 'op-priorities', 'lineage', 'final', 'final-fidelity', 'fidelity']);
    const big = join(dir, 'out-big', 'big.html');
    if (!existsSync(big)) expect(opnas(['report', 'big', '--out', big], { env }).code).toBe(0);

    for (const [file, names, trials] of [
      [join(dir, 'bb.html'), charts, undefined],
      [big, ['history', 'params', 'op-priorities', 'lineage'], 500],
    ] as const) {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) problems.push(`request: ${req.url()}`);
      });
      await page.setViewport({ width: 1200, height: 900 });
      await page.goto(`file://${file}`);
      await page.waitForSelector('body[data-rendered]', { timeout: 60_000 });
      expect(await page.evaluate(() => document.body.dataset.rendered)).toBe('true');
      for (const name of names) {
        const el = await page.$(`#chart-${name}`);
        expect(el, name).not.toBeNull();
        const marks = await el!.evaluate((e) => ({ svg: e.querySelectorAll('svg.marks').length, marks: e.querySelectorAll('svg.marks .role-mark > *').length }));
        expect(marks.svg, name).toBe(1);
        expect(marks.marks, name).toBeGreaterThan(name === 'params' && trials ? trials - 1 : 1);
        // the screenshot of the chart's area is not blank, and its data marks show: hiding them
        // (axes, legends and titles stay) changes many of its pixels
        await el!.scrollIntoView();
        const shot = async () => Buffer.from(await el!.screenshot({ encoding: 'base64' }), 'base64');
        const drawn = await shot();
        await el!.evaluate((e) => e.querySelectorAll<SVGElement>('svg.marks .role-mark').forEach((m) => (m.style.visibility = 'hidden')));
        const hidden = await shot();
        await el!.evaluate((e) => e.querySelectorAll<SVGElement>('svg.marks .role-mark').forEach((m) => (m.style.visibility = '')));
        const px = await comparePngs(browser, drawn, hidden);
        expect(px.ink, name).toBeGreaterThan(0.01);
        expect(px.changed, name).toBeGreaterThan(60);
      }
      await page.close();
      expect(problems, file).toEqual([]);
    }
  });

  it('bad input: a missing run, a corrupt run file, an unwritable --out, a bad fidelity file: one line each, nothing written', () => {
    const bad = (args: string[]) => {
      const r = opnas(['report', ...args], { env });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      return r.stderr.trim();
    };
    const out = join(dir, 'bad');
    mkdirSync(out);
    expect(bad(['nope', '--out', join(out, 'a.html')])).toBe(`opnas: no run 'nope' in ${dir} (runs there: bb, big)`);

    mkdirSync(join(dir, 'corrupt'));
    writeFileSync(join(dir, 'corrupt', 'run.json'), '{"format": "opnas-run", "version": 1, "trials": [');
    expect(bad(['corrupt', '--out', join(out, 'b.html')])).toMatch(/^opnas: .*corrupt.*run\.json/);

    const before = md5(join(dir, 'big', 'run.json'));
    writeFileSync(join(out, 'file'), 'x');
    expect(bad(['big', '--out', join(out, 'file', 'r.html')])).toBe(`opnas: --out ${join(out, 'file', 'r.html')}: cannot create it, ${join(out, 'file')} is not a folder`);
    expect(bad(['big', '--out', out])).toMatch(/^opnas: --out .*bad: that is a folder; name the HTML file to write/);
    // a name the file system refuses (root may write anywhere, so not a permission)
    const long = join(out, `${'x'.repeat(300)}.html`);
    expect(bad(['big', '--out', long])).toBe(`opnas: --out ${long}: cannot write ${long} (ENAMETOOLONG)`);
    expect(bad(['big', '--out', '/proc/opnas-report/r.html'])).toMatch(/^opnas: --out \/proc\/opnas-report\/r\.html: cannot write \/proc\/opnas-report\/r\.html \(E[A-Z]+\)$/);

    writeFileSync(join(out, 'fid.json'), '{"points": []}');
    expect(bad(['big', '--out', join(out, 'c.html'), '--fidelity', join(out, 'fid.json')])).toMatch(/fidelity file .*fid\.json has no points/);
    expect(bad(['big', '--out', join(out, 'c.html'), '--fidelity', join(out, 'none.json')])).toMatch(/cannot read the fidelity file .*none\.json \(ENOENT\)/);

    expect(readdirSync(out).sort()).toEqual(['fid.json', 'file']);
    expect(md5(join(dir, 'big', 'run.json'))).toBe(before);
  });
});

/** The share of the first PNG's pixels that are not (near) white, and how many pixels differ between the two, counted by the browser itself. */
async function comparePngs(browser: Browser, a: Buffer, b: Buffer): Promise<{ ink: number; changed: number }> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(
      async (pa, pb) => {
        const pixels = async (b64: string) => {
          const img = new Image();
          img.src = `data:image/png;base64,${b64}`;
          await img.decode();
          const c = document.createElement('canvas');
          c.width = img.width;
          c.height = img.height;
          const ctx = c.getContext('2d')!;
          ctx.drawImage(img, 0, 0);
          return ctx.getImageData(0, 0, c.width, c.height).data;
        };
        const [da, db] = await Promise.all([pixels(pa), pixels(pb)]);
        let ink = 0;
        let changed = 0;
        for (let i = 0; i < da.length; i += 4) {
          if (Math.min(da[i], da[i + 1], da[i + 2]) < 225) ink++;
          if (Math.abs(da[i] - db[i]) + Math.abs(da[i + 1] - db[i + 1]) + Math.abs(da[i + 2] - db[i + 2]) > 30) changed++;
        }
        return { ink: ink / (da.length / 4), changed };
      },
      a.toString('base64'),
      b.toString('base64'),
    );
  } finally {
    await page.close();
  }
}

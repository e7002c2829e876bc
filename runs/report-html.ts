import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { OpnasError } from '../spaces/base/errors.js';
import { fmtCount } from '../spaces/base/format.js';
import { fmtScore, leadFigures, runObjectives, shortId, signed, summary } from './report.js';
import { reportCharts, type Chart, type ChartName, type FidelityData, type ReportCharts } from './report-charts.js';
import type { RunFile } from './types.js';

/**
 * `opnas report`: one self-contained HTML page of a run (Vega, Vega-Lite and vega-embed's browser
 * builds and every chart's data inline, so it opens offline and fetches nothing), and each chart
 * rendered to SVG beside it with Vega's own renderer in Node (no browser, no canvas).
 */

/** The order sections appear in. */
const ORDER: ChartName[] = ['history', 'params', 'latency', 'op-priorities', 'lineage', 'final', 'final-fidelity', 'fidelity'];

/** The file a run folder may hold with a fidelity measurement (what `opnas fidelity --json` prints). */
export const FIDELITY_FILE = 'fidelity.json';

export interface ReportPaths {
  html: string;
  svg: string[];
  charts: ChartName[];
}

export interface ReportOptions {
  /** The HTML file to write. */
  out: string;
  /** Also write one SVG per chart beside it (default true). */
  svg?: boolean;
  /** A fidelity measurement to show (default: fidelity.json in the run folder, when there is one). */
  fidelity?: string;
}

/** Read and check a fidelity file (`opnas fidelity --json` output). */
export function readFidelity(file: string): FidelityData {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpnasError(`cannot read the fidelity file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new OpnasError(`the fidelity file ${file} is not JSON (${(e as Error).message}); write it with opnas fidelity --json > ${basename(file)}`);
  }
  const o = v as Partial<FidelityData> | null;
  const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (!o || typeof o !== 'object' || !Array.isArray(o.points) || !o.points.length || !o.points.every((p) => p && num(p.standalone) && num(p.supernet) && typeof p.id === 'string'))
    throw new OpnasError(`the fidelity file ${file} has no points with numeric stand-alone and supernet scores (expected what opnas fidelity --json prints)`);
  return {
    n: o.points.length,
    kendallTau: typeof o.kendallTau === 'number' ? o.kendallTau : NaN,
    spearmanRho: typeof o.spearmanRho === 'number' ? o.spearmanRho : NaN,
    repeats: typeof o.repeats === 'number' ? o.repeats : undefined,
    points: o.points.map((p) => ({ id: p.id, formula: typeof p.formula === 'string' ? p.formula : '', standalone: p.standalone, supernet: p.supernet })),
  };
}

/** The SVG file of a chart: beside the HTML, named after it. */
export function svgPath(out: string, chart: ChartName): string {
  const html = resolve(out);
  return join(dirname(html), `${basename(html).replace(/\.html?$/i, '')}-${chart}.svg`);
}

/** Refuse an --out that cannot be written before any work goes into it. */
export function checkOut(out: string): void {
  const file = resolve(out);
  const st = statOrUndefined(file);
  if (st?.isDirectory()) throw new OpnasError(`--out ${out}: that is a folder; name the HTML file to write (for example ${join(out, 'report.html')})`);
  let dir = dirname(file);
  let dst = statOrUndefined(dir);
  while (!dst && dirname(dir) !== dir) {
    dir = dirname(dir);
    dst = statOrUndefined(dir);
  }
  if (!dst?.isDirectory()) throw new OpnasError(`--out ${out}: cannot create it, ${dir} is not a folder`);
  try {
    accessSync(st ? file : dir, constants.W_OK | (st ? 0 : constants.X_OK));
  } catch {
    throw new OpnasError(`--out ${out}: ${st ? file : dir} is not writable`);
  }
}

function statOrUndefined(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** Write the report of a run (its folder holds run.json) and return what was written. */
export async function writeReport(run: RunFile, folder: string, o: ReportOptions): Promise<ReportPaths> {
  checkOut(o.out);
  const fidelityFile = o.fidelity ?? (existsSync(join(folder, FIDELITY_FILE)) ? join(folder, FIDELITY_FILE) : undefined);
  const fidelity = fidelityFile ? readFidelity(fidelityFile) : undefined;
  const charts = reportCharts(run, { fidelity });
  const html = reportHtml(run, charts, browserScripts());
  const svgs = o.svg === false ? [] : await renderSvgs(charts.charts);
  const file = resolve(o.out);
  const paths: ReportPaths = { html: file, svg: [], charts: charts.charts.map((c) => c.name) };
  write(file, html, o.out);
  for (const [name, svg] of svgs) {
    const p = svgPath(file, name);
    write(p, svg, o.out);
    paths.svg.push(p);
  }
  return paths;
}

function write(file: string, text: string, out: string): void {
  try {
    // the missing folders one by one, from the top (a recursive mkdir loops on some special file systems)
    const missing: string[] = [];
    for (let d = dirname(file); !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.unshift(d);
    for (const d of missing) mkdirSync(d);
    writeFileSync(file, text);
  } catch (e) {
    throw new OpnasError(`--out ${out}: cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Each chart as an SVG document, rendered by Vega in this process. */
export async function renderSvgs(charts: Chart[]): Promise<[ChartName, string][]> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const out: [ChartName, string][] = [];
  for (const c of charts) {
    const view = new vega.View(vega.parse(vl.compile(c.spec).spec), { renderer: 'none' });
    try {
      const svg = await view.toSVG();
      out.push([c.name, svg]);
    } finally {
      view.finalize();
    }
  }
  return out;
}

/** The browser builds of Vega, Vega-Lite and vega-embed, read from node_modules now, to be inlined. */
function browserScripts(): string[] {
  const require = createRequire(import.meta.url);
  return [
    ['vega', 'vega.min.js'],
    ['vega-lite', 'vega-lite.min.js'],
    ['vega-embed', 'vega-embed.min.js'],
  ].map(([pkg, file]) => {
    let path: string;
    try {
      path = join(dirname(require.resolve(pkg)), file);
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new OpnasError(`cannot read ${pkg}'s browser build ${file} (${(e as Error).message}); reinstall opnas's dependencies (npm ci)`);
    }
  });
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON or script text that cannot end the <script> element it sits in. */
function scriptSafe(s: string): string {
  return s.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function jsonInScript(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0 auto; max-width: 1100px; padding: 1.5em 2em 4em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
pre { background: #f6f8fa; padding: .6em .8em; overflow-x: auto; font-size: 13px; margin: 0; }
p.caption { color: #444; max-width: 60em; }
p.missing { color: #777; font-style: italic; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin-top: 1em; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .3em .6em; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.winner td { background: #fff4e5; font-weight: 600; }
.chart { min-height: 40px; }
footer { margin-top: 3em; color: #777; font-size: 12px; }
`;

/** The page: every chart's spec and data inline, the libraries inline, nothing fetched. */
export function reportHtml(run: RunFile, r: ReportCharts, scripts: string[]): string {
  const s = summary(run);
  const byName = new Map(r.charts.map((c) => [c.name, c]));
  const missing = new Map(r.missing.map((m) => [m.name, m]));
  const sections: string[] = [];
  for (const name of ORDER) {
    const c = byName.get(name);
    const m = missing.get(name);
    if (c) {
      sections.push(`<section id="section-${name}"><h2>${esc(c.title)}</h2><p class="caption">${esc(c.caption)}</p><div class="chart" id="chart-${name}"></div>`);
      if (name === 'lineage') sections.push(lineageTable(run, r));
      if (name === 'final') sections.push(finalTable(r));
      sections.push('</section>');
    } else if (m) sections.push(`<section id="section-${name}"><h2>${esc(m.title)}</h2><p class="missing">${esc(m.reason)}.</p></section>`);
  }
  const nav = r.charts.map((c) => `<a href="#section-${c.name}">${esc(c.title)}</a>`).join('');
  const specs = Object.fromEntries(r.charts.map((c) => [c.name, c.spec]));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:">
<title>opnas report: ${esc(run.name)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>opnas report: ${esc(run.name)}</h1>
<pre class="summary">${esc(s.text)}</pre>
<nav>${nav}</nav>
${sections.join('\n')}
<footer>Written by opnas report on ${esc(new Date().toISOString())} from the run as it was saved at ${esc(run.updated)}. Charts: Vega-Lite; each has an SVG file beside this page.</footer>
${scripts.map((js) => `<script>${scriptSafe(js)}</script>`).join('\n')}
<script type="application/json" id="opnas-specs">${jsonInScript(specs)}</script>
<script>
(function () {
  var specs = JSON.parse(document.getElementById('opnas-specs').textContent);
  var opts = { renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } };
  Promise.all(Object.keys(specs).map(function (name) { return vegaEmbed('#chart-' + name, specs[name], opts); })).then(
    function () { document.body.setAttribute('data-rendered', 'true'); },
    function (e) { document.body.setAttribute('data-rendered', 'error'); console.error('opnas report: a chart failed to render: ' + (e && e.message)); }
  );
})();
</script>
</body>
</html>
`;
}

function lineageTable(run: RunFile, r: ReportCharts): string {
  if (!r.lineage) return '';
  const primary = runObjectives(run)[0] ?? 'fitness';
  const rows = r.lineage.steps.map((s, i) => {
    const parent = r.lineage!.steps[i + 1];
    const delta = s.score !== undefined && parent?.score !== undefined ? s.score - parent.score : undefined;
    return `<tr><td class="num">#${s.index}</td><td>${esc(shortId(s.id))}</td><td>${esc(s.origin)}</td><td class="num">${s.status === 'ok' ? esc(fmtScore(primary, s.score)) : esc(s.status)}</td><td class="num">${delta === undefined ? '' : (delta >= 0 ? '+' : '') + esc(fmtScore(primary, delta))}</td><td><pre>${esc(s.formula)}</pre></td></tr>`;
  });
  const missing = r.lineage.missingParent ? `<p class="missing">The chain stops at parent ${esc(shortId(r.lineage.missingParent))}, which is not a trial of this run.</p>` : '';
  return `<p class="caption">${esc(r.lineageNote ?? '')} From the winner back to its root, one mutation a row:</p>
<div class="scroll"><table class="lineage"><thead><tr><th class="num">trial</th><th>id</th><th>origin</th><th class="num">${esc(primary)}</th><th class="num">change</th><th>formula</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>${missing}`;
}

function finalTable(r: ReportCharts): string {
  const f = r.final;
  if (!f) return '';
  const pct = (m?: { mean: number; std: number }) => (m ? `${(100 * m.mean).toFixed(2)} ± ${(100 * m.std).toFixed(2)}` : '-');
  const rows = f.rows.map(
    (x) =>
      `<tr class="${x === f.winner ? 'winner' : ''}"><td>${x === f.winner ? 'winner' : ''}</td><td>${esc(shortId(x.id))}${x.baseline ? ' (baseline)' : x.reference ? ' (reference)' : ''}</td><td class="num">${pct(x.dev)}</td><td class="num">${pct(x.test)}</td><td class="num">${x.dev?.n ?? 0}${x.failed ? ` (${x.failed} failed)` : ''}</td><td class="num">${fmtCount(x.cost.params)}</td><td class="num">${fmtCount(x.cost.flops)}</td><td class="num">${x.latency === undefined ? '-' : `${x.latency.toFixed(2)} ms`}</td><td class="num">${x.searchFitness === undefined ? '-' : esc(fmtScore('dev', x.searchFitness))}</td><td><pre>${esc(x.formula)}</pre></td></tr>`,
  );
  const w = f.winner;
  const b = f.baseline;
  let verdict = f.complete ? '' : 'The final stage has not finished: the table holds the trainings done so far.';
  if (f.complete && w) {
    verdict = w.baseline
      ? 'Winner: the baseline itself (no candidate beat it on mean dev).'
      : w.reference && w.trial === undefined
        ? `Winner: ${shortId(w.id)}, a known-good reference (no searched candidate beat it on mean dev).`
        : `Winner: ${shortId(w.id)}.`;
    if (!w.baseline && b?.dev && w.dev && b.test && w.test)
      verdict += ` Against the baseline: dev ${signed(100 * (w.dev.mean - b.dev.mean))}, test ${signed(100 * (w.test.mean - b.test.mean))} points, ${fmtCount(w.cost.params)} parameters against ${fmtCount(b.cost.params)}.`;
    const l = f.lead;
    if (l) verdict += ` Example by example, its dev accuracy lead is ${leadFigures(l)}${l.low > 0 ? '.' : ': another sample of dev examples could reverse it.'}`;
    const u = f.runnerUp;
    if (u) verdict += ` The next best, ${shortId(u.id)}, against it, example by example: dev accuracy ${leadFigures(u.lead)}${u.lead.high < 0 ? '.' : ': another sample of dev examples could reverse it.'}`;
  }
  return `<p class="caption">${esc(verdict)}</p>
<div class="scroll"><table class="final"><thead><tr><th></th><th>id</th><th class="num">dev % (mean ± std)</th><th class="num">test % (mean ± std)</th><th class="num">seeds</th><th class="num">params</th><th class="num">FLOPs/token</th><th class="num">latency</th><th class="num">search</th><th>formula</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>`;
}


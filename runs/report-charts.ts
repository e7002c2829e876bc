import type { TopLevelSpec } from 'vega-lite';
import { latencyLabel } from '../evaluators/latency.js';
import { MAXIMISED } from '../evaluators/types.js';
import { finalResult, type FinalResult } from '../search/final.js';
import { DEFAULT_OP_EVOLUTION, opPriorityHistory, type OpStat } from '../search/op-evolution.js';
import type { Trial } from '../search/types.js';
import { paretoFront } from './pareto.js';
import { lineage, primaryScore, rankTrials, runObjectives, shortId, type Lineage } from './report.js';
import type { RunFile } from './types.js';

/**
 * The charts of `opnas report`, as Vega-Lite specs with their data inline: plain functions of a
 * run file (and an optional fidelity measurement), no rendering here. runs/report-html.ts puts them
 * in a page and renders each to SVG. A chart the run has nothing for is left out, with a note why.
 */

export type ChartName = 'history' | 'params' | 'latency' | 'op-priorities' | 'lineage' | 'final' | 'final-fidelity' | 'fidelity';

export interface Chart {
  name: ChartName;
  title: string;
  /** One or two sentences under the title: what the chart shows and how to read it. */
  caption: string;
  spec: TopLevelSpec;
}

/** What `opnas fidelity --json` prints: the points of a supernet-vs-stand-alone comparison. */
export interface FidelityData {
  n: number;
  kendallTau: number;
  spearmanRho: number;
  repeats?: number;
  points: { id: string; formula: string; standalone: number; supernet: number }[];
}

export interface ReportCharts {
  charts: Chart[];
  /** Sections the run has no data for, each with the reason (shown in the page). */
  missing: { name: ChartName; title: string; reason: string }[];
  /** The trial whose lineage is drawn, and the lineage itself (undefined: no ranked trial). */
  lineage?: Lineage;
  lineageNote?: string;
  final?: FinalResult;
}

const WIDTH = 560;
const HEIGHT = 300;
const TOOLTIP_FIELDS = (score: string) => [
  { field: 'index', type: 'quantitative', title: 'trial' },
  { field: 'id', type: 'nominal' },
  { field: 'score', type: 'quantitative', title: score, format: '.4~g' },
  { field: 'params', type: 'quantitative', format: '.3~s' },
  { field: 'latency', type: 'quantitative', title: 'latency (ms)', format: '.3~g' },
  { field: 'formula', type: 'nominal' },
];

/** The primary objective's name, and whether bigger is better for it. */
function primaryOf(run: RunFile): { name: string; maximised: boolean } {
  const name = runObjectives(run)[0] ?? 'fitness';
  return { name, maximised: name === 'fitness' || MAXIMISED.has(name) };
}

function okTrials(run: RunFile): Trial[] {
  return run.trials.filter((t) => t.status === 'ok' && primaryScore(run, t) !== undefined && Number.isFinite(primaryScore(run, t)!));
}

function latencyOf(t: Trial): number | undefined {
  const v = t.scores.latency;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

export function reportCharts(run: RunFile, o: { fidelity?: FidelityData } = {}): ReportCharts {
  const out: ReportCharts = { charts: [], missing: [] };
  const primary = primaryOf(run);
  const ok = okTrials(run);
  const final = run.final ? finalResult(run.final, (run.config.final as { seeds?: number } | undefined)?.seeds ?? 1) : undefined;
  if (final) out.final = final;

  // ---- best so far, per stage ----
  if (ok.length || run.final?.runs.length) out.charts.push(historyChart(run, ok, primary));
  else out.missing.push({ name: 'history', title: 'Best score so far', reason: 'no trial has been scored yet' });

  // ---- every trial against its cost, with the Pareto front ----
  const points = ok.map((t) => ({
    index: t.index,
    id: shortId(t.id),
    origin: t.origin,
    score: primaryScore(run, t)!,
    params: t.cost.params,
    latency: latencyOf(t),
    formula: t.formula,
  }));
  if (points.length) out.charts.push(costChart(run, ok, points, primary, 'params'));
  else out.missing.push({ name: 'params', title: `${primary.name} against parameters`, reason: 'no trial has been scored yet' });
  if (points.some((p) => p.latency !== undefined)) out.charts.push(costChart(run, ok, points, primary, 'latency'));
  else if (points.length) out.missing.push({ name: 'latency', title: `${primary.name} against latency`, reason: 'the run measured no latency (searches of the backbone space measure it; NAS-Bench-201 lookups do not)' });

  // ---- op priorities over batches ----
  const ops = opPriorityChart(run);
  if ('chart' in ops) out.charts.push(ops.chart);
  else out.missing.push({ name: 'op-priorities', title: 'Op priorities over batches', reason: ops.reason });

  // ---- lineage ----
  const best = rankTrials(run.trials)[0];
  if (best) {
    // the final stage's winner when it is a search trial, else the search's best
    const w = final?.complete ? final.winner : undefined;
    const winnerTrial = w && w.trial !== undefined && run.trials.some((t) => t.id === w.id) ? w.id : undefined;
    out.lineage = lineage(run, winnerTrial);
    if (w && !winnerTrial)
      out.lineageNote = w.baseline
        ? `The final stage chose the baseline, which no mutation produced; the lineage shown is that of the search's best trial, ${shortId(best.id)}.`
        : w.reference
          ? `The final stage chose a known-good reference ${shortId(w.id)}, which no mutation produced; the lineage shown is that of the search's best trial, ${shortId(best.id)}.`
        : `The final stage's winner ${shortId(w.id)} is not a trial of this run; the lineage shown is that of the search's best trial.`;
    else if (winnerTrial) out.lineageNote = `The lineage of the final stage's winner, ${shortId(winnerTrial)}.`;
    else out.lineageNote = `The lineage of the search's best trial, ${shortId(best.id)}.`;
    out.charts.push(lineageChart(run, out.lineage, final, primary));
  } else out.missing.push({ name: 'lineage', title: "The winner's lineage", reason: 'no ranked trial yet' });

  // ---- final stage ----
  if (final && final.rows.some((r) => r.dev)) {
    out.charts.push(finalChart(final));
    const pts = final.rows.filter((r) => r.dev && r.searchFitness !== undefined);
    if (pts.length >= 2) out.charts.push(finalFidelityChart(final, primary));
  } else out.missing.push({ name: 'final', title: 'Final stage', reason: run.final ? 'no final-stage training has finished yet' : 'the run has no final stage (--final-top 0, or a space without one)' });

  // ---- fidelity measurement ----
  if (o.fidelity) out.charts.push(fidelityChart(o.fidelity));
  else out.missing.push({ name: 'fidelity', title: 'Ranking fidelity', reason: 'no fidelity.json in the run folder (opnas fidelity --json > RUNS/NAME/fidelity.json, or opnas report --fidelity FILE)' });
  return out;
}

function historyChart(run: RunFile, ok: Trial[], primary: { name: string; maximised: boolean }): Chart {
  const searchStage = 'search';
  const rows: Record<string, unknown>[] = [];
  let best: number | undefined;
  for (const [i, t] of ok.entries()) {
    const s = primaryScore(run, t)!;
    best = best === undefined ? s : primary.maximised ? Math.max(best, s) : Math.min(best, s);
    rows.push({ stage: searchStage, step: i + 1, index: t.index, id: shortId(t.id), score: s, best, formula: t.formula });
  }
  const finalStage = 'final stage (stand-alone dev)';
  if (run.final) {
    const byId = new Map(run.final.finalists.map((f) => [f.id, f]));
    let fb: number | undefined;
    for (const [i, r] of run.final.runs.filter((x) => x.status === 'ok' && typeof x.dev === 'number').entries()) {
      fb = fb === undefined ? r.dev! : Math.max(fb, r.dev!);
      const f = byId.get(r.id);
      rows.push({ stage: finalStage, step: i + 1, id: shortId(r.id) + (f?.baseline ? ' baseline' : f?.reference ? ' reference' : ''), seed: r.seed, score: r.dev, best: fb, formula: f?.formula ?? '' });
    }
  }
  const stages = [searchStage, ...(rows.some((r) => r.stage === finalStage) ? [finalStage] : [])];
  const evaluator = typeof run.config.evaluator === 'string' ? run.config.evaluator : undefined;
  return {
    name: 'history',
    title: 'Best score so far',
    caption:
      `Each point is one evaluation, in the order they finished; the line is the best so far. ` +
      (stages.length > 1
        ? `Left: the search's ${primary.name} scores${evaluator === 'supernet' ? " (the supernet's, which rank candidates)" : ''}; right: the final stage's stand-alone trainings (one point per seed).`
        : `The search's ${primary.name} scores${evaluator === 'supernet' ? " (the supernet's, which rank candidates)" : ''}.`),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      data: { values: rows },
      facet: { column: { field: 'stage', type: 'nominal', sort: stages, title: null } },
      spec: {
        width: stages.length > 1 ? 360 : WIDTH,
        height: HEIGHT,
        layer: [
          {
            mark: { type: 'point', filled: true, opacity: 0.45, size: 30 },
            encoding: {
              x: { field: 'step', type: 'quantitative', title: 'evaluation' },
              y: { field: 'score', type: 'quantitative', title: primary.name, scale: { zero: false } },
              color: { field: 'stage', type: 'nominal', legend: null },
              tooltip: [
                { field: 'step', type: 'quantitative', title: 'evaluation' },
                { field: 'id', type: 'nominal' },
                { field: 'score', type: 'quantitative', format: '.4~g' },
                { field: 'best', type: 'quantitative', title: 'best so far', format: '.4~g' },
                { field: 'formula', type: 'nominal' },
              ],
            },
          },
          {
            mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
            encoding: {
              x: { field: 'step', type: 'quantitative' },
              y: { field: 'best', type: 'quantitative' },
              color: { field: 'stage', type: 'nominal', legend: null },
            },
          },
        ],
      },
      resolve: { scale: { x: 'independent', y: 'independent' } },
    } as TopLevelSpec,
  };
}

function costChart(
  run: RunFile,
  ok: Trial[],
  points: { index: number; id: string; score: number; params: number; latency?: number; formula: string; origin: string }[],
  primary: { name: string; maximised: boolean },
  cost: 'params' | 'latency',
): Chart {
  const front = new Set(paretoFront(ok, [primary.name, cost]).map((t) => t.index));
  const data = points.filter((p) => p[cost] !== undefined).map((p) => ({ ...p, pareto: front.has(p.index) ? 'Pareto front' : 'dominated' }));
  const nFront = data.filter((d) => d.pareto === 'Pareto front').length;
  // a log scale where every value is positive (NAS-Bench-201 has cells with no parameters at all)
  const log = data.every((d) => (d[cost] as number) > 0);
  const axis = `${cost === 'params' ? 'parameters' : 'latency, ms'}${log ? ' (log scale)' : ''}`;
  return {
    name: cost,
    title: `${primary.name} against ${cost === 'params' ? 'parameters' : 'latency'}`,
    caption:
      `Every scored trial (${data.length}); the ${nFront} on the Pareto front (no other trial has a better ${primary.name} with fewer ${cost === 'params' ? 'parameters' : 'milliseconds'}) are joined by the line.` +
      (cost === 'latency' ? ` Latency is the median forward time of one example at the run's maximum length, as the search measured it, in ${latencyLabel(run.config.latencyRuntime)} (on a loaded machine it is noisy).` : ''),
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: WIDTH,
      height: HEIGHT,
      data: { values: data },
      layer: [
        {
          mark: { type: 'point', filled: true, size: 40 },
          encoding: {
            x: { field: cost, type: 'quantitative', title: axis, scale: log ? { type: 'log' } : { zero: false }, axis: cost === 'params' ? { format: '.2~s' } : {} },
            y: { field: 'score', type: 'quantitative', title: primary.name, scale: { zero: false } },
            color: { field: 'pareto', type: 'nominal', title: null, scale: { domain: ['Pareto front', 'dominated'], range: ['#d62728', '#9ecae1'] } },
            tooltip: TOOLTIP_FIELDS(primary.name) as never,
          },
        },
        {
          transform: [{ filter: "datum.pareto === 'Pareto front'" }],
          mark: { type: 'line', color: '#d62728', interpolate: 'step-after' },
          encoding: {
            x: { field: cost, type: 'quantitative' },
            y: { field: 'score', type: 'quantitative' },
            order: { field: cost, type: 'quantitative' },
          },
        },
      ],
    } as TopLevelSpec,
  };
}

/** The UCB priority of each op after each batch, when the run's strategy keeps them (op-evolution, coarse-to-fine). */
function opPriorityChart(run: RunFile): { chart: Chart } | { reason: string } {
  if (run.config.strategy !== 'op-evolution' && run.config.strategy !== 'coarse-to-fine')
    return { reason: `the run's strategy (${String(run.config.strategy)}) keeps no op priorities; only op-evolution and coarse-to-fine do` };
  const c = typeof run.config.c === 'number' ? run.config.c : DEFAULT_OP_EVOLUTION.c;
  const history = opPriorityHistory(run.trials, c, run.pending ? run.pending.batch : run.nextBatch);
  if (!history.length || !Object.keys(history[history.length - 1].stats).length) return { reason: 'no batch has been told to the strategy yet' };
  // the replay must agree with what the strategy saved; a run edited by hand (or from another version) is not shown
  const saved = (run.strategyState as { ops?: Record<string, OpStat>; evaluated?: number } | undefined) ?? {};
  const last = history[history.length - 1];
  if (!saved.ops || !sameStats(saved.ops, last.stats) || saved.evaluated !== last.evaluated)
    return { reason: "not recorded: the op statistics replayed from the trials differ from the strategy's saved state" };
  const finalP = last.priorities;
  const order = Object.keys(finalP).sort((a, b) => finalP[b] - finalP[a] || a.localeCompare(b));
  const rows = history.flatMap((h) =>
    Object.entries(h.priorities).map(([op, p]) => ({ batch: h.batch, op, priority: p, mean: h.stats[op].sum / h.stats[op].n, n: h.stats[op].n })),
  );
  const top = order.slice(0, 3).join(', ');
  return {
    chart: {
      name: 'op-priorities',
      title: 'Op priorities over batches',
      caption:
        `The UCB priority of each primitive op after each batch was scored (mean fitness of the candidates that used it plus c·sqrt(2 ln N / N_i), c = ${c}): ` +
        `mutations draw the op they insert in proportion to it. Blank: not tried yet. Ops are sorted by their last priority; the search ended preferring ${top}.`,
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: Math.max(240, Math.min(WIDTH, 28 * history.length)),
        height: { step: 14 },
        data: { values: rows },
        mark: 'rect',
        encoding: {
          x: { field: 'batch', type: 'ordinal', title: 'after batch' },
          y: { field: 'op', type: 'nominal', sort: order, title: null },
          color: { field: 'priority', type: 'quantitative', scale: { scheme: 'viridis', zero: false }, title: 'priority' },
          tooltip: [
            { field: 'op', type: 'nominal' },
            { field: 'batch', type: 'ordinal', title: 'after batch' },
            { field: 'priority', type: 'quantitative', format: '.4f' },
            { field: 'mean', type: 'quantitative', title: 'mean fitness', format: '.4f' },
            { field: 'n', type: 'quantitative', title: 'candidates with it' },
          ],
        },
      } as TopLevelSpec,
    },
  };
}

function sameStats(a: Record<string, OpStat>, b: Record<string, OpStat>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] && a[k].n === b[k].n && Math.abs(a[k].sum - b[k].sum) <= 1e-9 * Math.max(1, Math.abs(a[k].sum)));
}

/**
 * The mutation tree around the winner: the lineages of the top candidates (the final stage's
 * finalists, else the five best), each trial placed at its index and score, an edge from parent
 * to child; the winner's own chain is drawn thick.
 */
function lineageChart(run: RunFile, win: Lineage, final: FinalResult | undefined, primary: { name: string; maximised: boolean }): Chart {
  const tips = final ? final.rows.filter((r) => r.trial !== undefined).map((r) => r.id) : rankTrials(run.trials).slice(0, 5).map((t) => t.id);
  const chains = [win, ...tips.filter((id) => id !== win.steps[0].id).map((id) => lineage(run, id))];
  const onPath = new Set(win.steps.map((s) => s.id));
  const nodes = new Map<string, Record<string, unknown>>();
  const edges = new Map<string, Record<string, unknown>>();
  for (const ch of chains) {
    ch.steps.forEach((s, i) => {
      if (s.score === undefined) return;
      nodes.set(s.id, { index: s.index, id: shortId(s.id), score: s.score, origin: s.origin, path: onPath.has(s.id) ? 'winner' : 'other', formula: s.formula });
      const parent = ch.steps[i + 1];
      if (parent?.score !== undefined)
        edges.set(`${parent.id}>${s.id}`, { x: parent.index, y: parent.score, x2: s.index, y2: s.score, path: onPath.has(s.id) && onPath.has(parent.id) ? 'winner' : 'other' });
    });
  }
  const color = { domain: ['winner', 'other'], range: ['#d62728', '#8c8c8c'] };
  const edgeLayer = {
    data: { values: [...edges.values()] },
    mark: { type: 'rule' },
    encoding: {
      x: { field: 'x', type: 'quantitative' },
      y: { field: 'y', type: 'quantitative' },
      x2: { field: 'x2' },
      y2: { field: 'y2' },
      color: { field: 'path', type: 'nominal', scale: color, legend: null },
      strokeWidth: { condition: { test: "datum.path === 'winner'", value: 3 }, value: 1 },
    },
  };
  return {
    name: 'lineage',
    title: "The winner's lineage",
    caption:
      `Each point is a trial at its position in the run and its ${primary.name}; a line joins a parent to the child one mutation made of it. ` +
      `The red chain is the winner's, back to its root (a random sample or a seed genome); grey ones lead to the other ${final ? 'finalists' : 'top trials'}. The table below gives each step's formula.`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: WIDTH,
      height: HEIGHT,
      layer: [
        // a run of random samples only has no edges: an empty layer would leave Vega an empty scale
        ...(edges.size ? [edgeLayer] : []),
        {
          data: { values: [...nodes.values()] },
          layer: [
            {
              mark: { type: 'point', filled: true, size: 70 },
              encoding: {
                x: { field: 'index', type: 'quantitative', title: 'trial' },
                y: { field: 'score', type: 'quantitative', title: primary.name, scale: { zero: false } },
                color: { field: 'path', type: 'nominal', scale: color, title: 'lineage' },
                shape: { field: 'origin', type: 'nominal', title: 'origin' },
                tooltip: [
                  { field: 'index', type: 'quantitative', title: 'trial' },
                  { field: 'id', type: 'nominal' },
                  { field: 'origin', type: 'nominal' },
                  { field: 'score', type: 'quantitative', title: primary.name, format: '.4~g' },
                  { field: 'formula', type: 'nominal' },
                ],
              },
            },
            {
              mark: { type: 'text', dy: -10, fontSize: 10 },
              encoding: { x: { field: 'index', type: 'quantitative' }, y: { field: 'score', type: 'quantitative' }, text: { field: 'id' } },
            },
          ],
        },
      ],
    } as TopLevelSpec,
  };
}

function finalLabel(r: { id: string; baseline: boolean; reference?: boolean }): string {
  return shortId(r.id) + (r.baseline ? ' (baseline)' : r.reference ? ' (reference)' : '');
}

function finalChart(final: FinalResult): Chart {
  const rows = final.rows.flatMap((r) =>
    (['dev', 'test'] as const)
      .filter((m) => r[m])
      .map((m) => ({
        finalist: finalLabel(r),
        metric: m,
        mean: r[m]!.mean,
        lo: r[m]!.mean - r[m]!.std,
        hi: r[m]!.mean + r[m]!.std,
        std: r[m]!.std,
        n: r[m]!.n,
        winner: r === final.winner ? 'winner' : '',
      })),
  );
  const order = final.rows.map(finalLabel);
  return {
    name: 'final',
    title: 'Final stage: winner against baseline',
    caption: 'Each finalist trained stand-alone with several seeds: the point is the mean, the bar one standard deviation either side. The winner is the best mean dev score; test scores are shown, never used to choose.',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: Math.max(WIDTH, 90 * order.length),
      height: HEIGHT,
      data: { values: rows },
      encoding: {
        x: { field: 'finalist', type: 'nominal', sort: order, title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'metric', type: 'nominal', sort: ['dev', 'test'] },
        color: { field: 'metric', type: 'nominal', sort: ['dev', 'test'], title: 'score' },
      },
      layer: [
        { mark: { type: 'rule', strokeWidth: 2 }, encoding: { y: { field: 'lo', type: 'quantitative', title: 'score (mean ± std)', scale: { zero: false } }, y2: { field: 'hi' } } },
        {
          mark: { type: 'point', filled: true, size: 80 },
          encoding: {
            y: { field: 'mean', type: 'quantitative' },
            shape: { field: 'winner', type: 'nominal', scale: { domain: ['winner', ''], range: ['diamond', 'circle'] }, legend: null },
            tooltip: [
              { field: 'finalist', type: 'nominal' },
              { field: 'metric', type: 'nominal' },
              { field: 'mean', type: 'quantitative', format: '.4f' },
              { field: 'std', type: 'quantitative', format: '.4f' },
              { field: 'n', type: 'quantitative', title: 'seeds' },
            ],
          },
        },
      ],
    } as TopLevelSpec,
  };
}

function scatter(rows: Record<string, unknown>[], x: string, xTitle: string, y: string, yTitle: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 420,
    height: 320,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: x, type: 'quantitative', title: xTitle, scale: { zero: false } },
          y: { field: y, type: 'quantitative', title: yTitle, scale: { zero: false } },
          tooltip: [
            { field: 'id', type: 'nominal' },
            { field: x, type: 'quantitative', title: xTitle, format: '.4f' },
            { field: y, type: 'quantitative', title: yTitle, format: '.4f' },
            { field: 'formula', type: 'nominal' },
          ],
        },
      },
      { mark: { type: 'text', dy: -10, fontSize: 10 }, encoding: { x: { field: x, type: 'quantitative' }, y: { field: y, type: 'quantitative' }, text: { field: 'label' } } },
    ],
  } as TopLevelSpec;
}

/** The finalists' search scores against what stand-alone training made of them. */
function finalFidelityChart(final: FinalResult, primary: { name: string }): Chart {
  const rows = final.rows
    .filter((r) => r.dev && r.searchFitness !== undefined)
    .map((r) => ({ id: shortId(r.id), label: finalLabel(r), search: r.searchFitness!, standalone: r.dev!.mean, formula: r.formula }));
  return {
    name: 'final-fidelity',
    title: 'Search score against stand-alone training',
    caption: `The finalists the search scored: their search fitness (${primary.name}) against their mean stand-alone dev score in the final stage. Points on a rising line mean the search ranked them as training does.`,
    spec: scatter(rows, 'search', 'search fitness', 'standalone', 'stand-alone dev (mean)'),
  };
}

function fidelityChart(f: FidelityData): Chart {
  const rows = f.points.map((p) => ({ id: shortId(p.id), label: '', standalone: p.standalone, supernet: p.supernet, formula: p.formula }));
  const r = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  return {
    name: 'fidelity',
    title: 'Ranking fidelity of the supernet',
    caption: `${f.n} sampled architectures, each trained stand-alone${f.repeats && f.repeats > 1 ? ` (mean of ${f.repeats} seeds)` : ''} and scored by the supernet: Kendall tau ${r(f.kendallTau)}, Spearman rho ${r(f.spearmanRho)} (from opnas fidelity).`,
    spec: scatter(rows, 'standalone', 'stand-alone dev', 'supernet', 'supernet dev'),
  };
}

import { describe, expect, it } from 'vitest';
import { Nb201Evaluator } from '../../evaluators/nb201.js';
import { paretoFront } from '../../runs/pareto.js';
import { reportCharts } from '../../runs/report-charts.js';
import { reportHtml } from '../../runs/report-html.js';
import type { RunFile } from '../../runs/types.js';
import { search } from '../../search/loop.js';
import { makeStrategy } from '../../search/strategies.js';
import { nb201Space } from '../../spaces/nb201.js';

const table = Nb201Evaluator.load();

/** A finished NAS-Bench-201 run of the given strategy, as the store would hold it. */
async function nb201Run(strategy: string, budget = 40): Promise<RunFile> {
  const s = makeStrategy(strategy, nb201Space, 7, { population: 8, tournament: 3 });
  const state = await search({ space: nb201Space, strategy: s, evaluator: table, seed: 7, budget, batch: 4, objectives: ['cifar10'] });
  const now = new Date().toISOString();
  return { format: 'opnas-run', version: 1, name: 'r', created: now, updated: now, status: 'finished', seed: 7, config: { space: 'nb201', strategy, evaluator: 'nb201', objectives: ['cifar10'] } as never, ...state, strategyState: state.strategyState } as RunFile;
}

const dataOf = (spec: unknown) => (spec as { data: { values: Record<string, unknown>[] } }).data.values;

describe('report charts', () => {
  it('an op-evolution run: every ok trial on the params chart, its Pareto front marked, op priorities for every batch', async () => {
    const run = await nb201Run('op-evolution');
    const r = reportCharts(run);
    expect(r.charts.map((c) => c.name)).toEqual(['history', 'params', 'op-priorities', 'lineage']);
    const params = dataOf(r.charts[1].spec);
    expect(params).toHaveLength(run.trials.filter((t) => t.status === 'ok').length);
    const front = paretoFront(run.trials, ['cifar10', 'params']).map((t) => t.index).sort((a, b) => a - b);
    expect(params.filter((p) => p.pareto === 'Pareto front').map((p) => p.index)).toEqual(front);
    // best so far never gets worse and ends at the best trial
    const history = dataOf(r.charts[0].spec).map((x) => x.best as number);
    expect(history.every((b, i) => i === 0 || b >= history[i - 1])).toBe(true);
    expect(history[history.length - 1]).toBe(Math.max(...run.trials.map((t) => t.scores.cifar10 ?? -Infinity)));
    const ops = dataOf(r.charts[2].spec);
    expect(new Set(ops.map((o) => o.batch)).size).toBe(run.nextBatch);
    expect(r.missing.map((m) => m.name)).toEqual(['latency', 'final', 'fidelity']);
  });

  it('says the op priorities are not recorded when the saved state disagrees, and that other strategies keep none', async () => {
    const run = await nb201Run('op-evolution', 16);
    const state = run.strategyState as { ops: Record<string, { sum: number; n: number }> };
    state.ops[Object.keys(state.ops)[0]].n += 1;
    expect(reportCharts(run).missing.find((m) => m.name === 'op-priorities')?.reason).toMatch(/^not recorded/);
    const re = reportCharts(await nb201Run('regularized-evolution', 16));
    expect(re.missing.find((m) => m.name === 'op-priorities')?.reason).toMatch(/regularized-evolution\) keeps no op priorities/);
  });

  it('the page holds the specs as JSON that cannot close its script element, and escapes formulas in the tables', async () => {
    const run = await nb201Run('op-evolution', 8);
    run.trials[0].formula = '</script><b>x</b>';
    const html = reportHtml(run, reportCharts(run), ['/* lib */']);
    expect(html.match(/<\/script>/g)!.length).toBe(3); // the library, the specs, the start-up script
    const specs = JSON.parse(/<script type="application\/json" id="opnas-specs">(.*?)<\/script>/s.exec(html)![1]);
    expect(Object.keys(specs)).toEqual(['history', 'params', 'op-priorities', 'lineage']);
    expect(html).not.toContain('<b>x</b>');
  });

  it("the final table's verdict gives the winner's example-by-example dev lead, and says when another dev sample could reverse it", async () => {
    const run = await nb201Run('op-evolution', 8);
    const row = (id: string, dev: number, baseline: boolean) => ({
      id, genome: 0, formula: id, baseline, cost: { params: 1000, flops: 2000 }, failed: 0,
      dev: { mean: dev, std: 0, n: 2 }, test: { mean: dev, std: 0, n: 2 },
    });
    const w = row('aaaaaaaa1', 0.82, false);
    const b = row('bbbbbbbb2', 0.8, true);
    const r = { ...reportCharts(run), final: { rows: [w, b], winner: w, baseline: b, complete: true, lead: { points: 2, low: -0.5, high: 4.5, n: 1000, resamples: 2000 } } };
    r.charts.push({ name: 'final', title: 'Final stage', caption: '', spec: {} } as never);
    const html = reportHtml(run, r as never, []);
    expect(html).toContain('Example by example, its dev accuracy lead is +2.00 points, 95% bootstrap interval -0.50 to +4.50 over the 1000 dev examples: another sample of dev examples could reverse it.');
    r.final.lead = { ...r.final.lead, low: 0.5 };
    expect(reportHtml(run, r as never, [])).toContain('interval +0.50 to +4.50 over the 1000 dev examples.');
    // the baseline won: the next best is compared with it instead
    const base = { ...r, final: { rows: [w, b], winner: b, baseline: b, complete: true, runnerUp: { id: w.id, lead: { points: -1, low: -2.5, high: 0.5, n: 546, resamples: 2000 } } } };
    expect(reportHtml(run, base as never, [])).toContain('The next best, aaaaaaaa, against it, example by example: dev accuracy -1.00 points, 95% bootstrap interval -2.50 to +0.50 over the 546 dev examples: another sample of dev examples could reverse it.');
  });
});

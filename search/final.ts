import type { Evaluator } from '../evaluators/types.js';
import type { Cost, SearchSpace, Shape } from '../spaces/types.js';
import { Rng } from '../spaces/base/rng.js';
import { SearchAborted } from './loop.js';
import type { Trial } from './types.js';

/**
 * The final selection stage of a search. Search scores (a supernet's inherited weights, or a short
 * training) only rank candidates; they are not what a user gets. So after the budget the top K
 * distinct candidates and a reference baseline (the textbook layer at the run's widths) are trained
 * stand-alone, S seeds each, exactly as `opnas train --seed s` trains them, and the winner is the
 * best mean *dev* score. Test scores are recorded and shown, never used to choose (successive
 * halving in the spirit of Hyperband: many candidates cheaply, the best few at full fidelity).
 *
 * Every training is recorded as it finishes; a resumed run trains only what is missing, in a fixed
 * order with fixed seeds, so it ends with the same table as an uninterrupted one.
 */

import type { ReferenceName } from '../spaces/family.js';
export { REFERENCE_NAMES } from '../spaces/family.js';

export interface FinalConfig {
  /** Distinct candidates taken from the top of the search's ranking (0: no final stage). */
  top: number;
  /** Stand-alone trainings per finalist, with seeds 0..seeds-1. */
  seeds: number;
  /**
   * A screening rung before the final stage (0 or absent: none): this many distinct candidates
   * from the top of the search's ranking are trained once (seed 0) for `screenSteps` steps, and the
   * `top` best of them by that dev score become the finalists. A cheap second fidelity between the
   * search score and full training, as in successive halving (Jamieson and Talwalkar 2016; Hyperband).
   */
  screen?: number;
  screenSteps?: number;
  /**
   * Spread the finalists over the space's families (`SearchSpace.family`): the slots go first to the
   * best candidate of each family the baseline does not stand for, in search order, and only then to
   * the next best overall: a weight-sharing supernet trains each family's weights a different amount,
   * so its scores may compare candidates across families worse than within one. Off by default: on
   * SST-2 its all-convolution pick did not learn when trained alone, since the supernet misranks
   * within that family too (bench/RESULTS.md, spreading the final stage). Absent: plain top K.
   */
  spread?: boolean;
  /**
   * Train the space's known-good reference architectures beside the baseline, by name (the
   * backbone space's `REFERENCES`: `conv`, the convolution-only reference; `hybrid`, the textbook
   * layer with a convolution first), so the winner is the best by dev of the search's finalists,
   * the textbook baseline and the references. `true`: runs saved when there was one reference
   * (`conv`). Absent or false: none (runs saved before this option existed resume unchanged).
   */
  references?: boolean | ReferenceName[];
  /**
   * The most parameters a search candidate may have to become a finalist: a number, or `'baseline'`
   * for the baseline's own count, so the winner is never larger than the layer it has to beat (and
   * the final stage does not spend its longest trainings on candidates that could not be taken: on
   * TREC the search's best other than bert-tiny had 1.87M parameters and took 8.5 and 11 minutes to
   * train, against bert-tiny's 4). The baseline and the references are trained whatever their size. Absent:
   * no limit (runs saved before this option existed resume unchanged).
   */
  maxParams?: number | 'baseline';
}

/**
 * The search's best candidate (within the baseline's parameters), the baseline and two known-good
 * references (`conv`, convolution only; `deep`, two convolutions below attention), two seeds each:
 * eight trainings, so the default search (about 8 to 9 minutes before its final stage on a 2-core
 * CPU) ends within 25 minutes: 23:06 on SST-2, 24:10 on TREC (bench/RESULTS.md). More with --final-top.
 */
export const DEFAULT_FINAL: FinalConfig = { top: 1, seeds: 2, spread: false, references: ['conv', 'deep'], maxParams: 'baseline' };

/** Whether `v` is a valid `FinalConfig.maxParams` other than absent: a positive number or 'baseline'. */
export function isMaxParams(v: unknown): v is number | 'baseline' {
  return v === 'baseline' || (typeof v === 'number' && Number.isFinite(v) && v > 0);
}

/** A final stage's parameter limit for search candidates (`FinalConfig.maxParams`), given the baseline's count. */
export function finalMaxParams(final: Pick<FinalConfig, 'maxParams'>, baselineParams: number): number | undefined {
  return final.maxParams === 'baseline' ? baselineParams : final.maxParams;
}

/** Training steps of a screening rung's one training per candidate. */
export const DEFAULT_SCREEN_STEPS = 400;

export interface Finalist<G = unknown> {
  id: string;
  genome: G;
  formula: string;
  /** The run's reference baseline (also set when a search candidate is the baseline itself). */
  baseline: boolean;
  /** One of the space's known-good reference architectures (also set when the search picked it). */
  reference?: boolean;
  /** The search trial it came from, and its search fitness. */
  trial?: number;
  searchFitness?: number;
  cost: Cost;
}

export interface FinalRun {
  /** Finalist id. */
  id: string;
  seed: number;
  status: 'ok' | 'failed';
  reason?: string;
  dev?: number;
  test?: number;
  latency?: number;
  seconds: number;
  /** Per dev example, '1' where this training's model is right (EvalResult.devCorrect); absent in older runs. */
  devCorrect?: string;
}

export interface FinalState<G = unknown> {
  /** Empty while a screening rung has not finished (the finalists come from it). */
  finalists: Finalist<G>[];
  /** Finished trainings, in the order they finished. */
  runs: FinalRun[];
  /** The screening rung, when the run has one: its candidates and their one short training each. */
  screen?: ScreenState<G>;
}

export interface ScreenState<G = unknown> {
  steps: number;
  candidates: Finalist<G>[];
  runs: FinalRun[];
}

/**
 * The top `k` distinct ok trials by fitness, then the baseline (unless it is one of them). With
 * `withBaseline` false (a screening rung: the baseline goes to the final stage anyway), the top `k`
 * trials other than the baseline, and nothing more. With `spread` (and a space with families), the
 * best trial of each family not yet covered is taken first (the baseline covers its own family),
 * then the rest by fitness; the finalists stay in search order. `references` (known-good
 * architectures) follow the baseline unless already there. With `skipKnown` the top `k` are
 * searched candidates other than the baseline and the references (both are trained anyway), so a
 * search whose best score is the baseline's still sends a candidate of its own. With `maxParams`
 * only candidates of at most that many parameters are taken (the baseline and references always are).
 */
export function pickFinalists<G>(
  space: SearchSpace<G>,
  trials: readonly Trial<G>[],
  k: number,
  baseline: G,
  shape?: Shape,
  opts: { withBaseline?: boolean; spread?: boolean; references?: readonly G[]; skipKnown?: boolean; maxParams?: number } = {},
): Finalist<G>[] {
  const { withBaseline = true, spread = false, references = [], skipKnown = false, maxParams } = opts;
  const baselineId = space.id(baseline);
  const known = new Set(skipKnown ? [baselineId, ...references.map((g) => space.id(g))] : []);
  const seen = new Set<string>(); // the best-scored trial of each id
  const ranked = trials
    .filter((t) => t.status === 'ok' && typeof t.fitness === 'number' && Number.isFinite(t.fitness))
    .sort((a, b) => b.fitness! - a.fitness! || a.index - b.index)
    .filter((t) => !seen.has(t.id) && (withBaseline || t.id !== baselineId) && Boolean(seen.add(t.id)));
  const fits = (t: Trial<G>) => maxParams === undefined || t.id === baselineId || t.cost.params <= maxParams;
  const eligible = ranked.filter(fits);
  const taken = new Set<string>(known); // the baseline and references come after the top k anyway
  k += known.size;
  const family = spread ? space.family?.bind(space) : undefined;
  if (family) {
    const covered = new Set(withBaseline ? [family(baseline)] : []);
    for (const t of eligible) {
      if (taken.size >= k) break;
      const f = family(t.genome);
      if (covered.has(f)) continue;
      covered.add(f);
      taken.add(t.id);
    }
  }
  for (const t of eligible) {
    if (taken.size >= k) break;
    taken.add(t.id);
  }
  const out: Finalist<G>[] = ranked
    .filter((t) => taken.has(t.id) && !known.has(t.id))
    .map((t) => ({ id: t.id, genome: t.genome, formula: t.formula, baseline: t.id === baselineId, trial: t.index, searchFitness: t.fitness, cost: t.cost }));
  if (!withBaseline) return out;
  if (!out.some((f) => f.baseline)) {
    // the search may have scored it too (a seeded search starts from it), below the top k
    const t = ranked.find((x) => x.id === baselineId);
    out.push({ id: baselineId, genome: baseline, formula: space.render(baseline), baseline: true, cost: space.cost(baseline, shape), ...(t ? { trial: t.index, searchFitness: t.fitness } : {}) });
  }
  for (const g of references) {
    const id = space.id(g);
    const there = out.find((f) => f.id === id);
    if (there) {
      if (!there.baseline) there.reference = true;
      continue;
    }
    const t = ranked.find((x) => x.id === id);
    out.push({ id, genome: g, formula: space.render(g), baseline: false, reference: true, cost: space.cost(g, shape), ...(t ? { trial: t.index, searchFitness: t.fitness } : {}) });
  }
  return out;
}

/**
 * The finalists a finished screening rung gives: its `k` best candidates by their screening dev
 * score (ties: search rank), then the baseline. A candidate whose screening failed is not taken.
 */
export function screenedFinalists<G>(screen: ScreenState<G>, k: number, baseline: Finalist<G>, references: readonly Finalist<G>[] = []): Finalist<G>[] {
  const dev = new Map(screen.runs.filter((r) => r.status === 'ok' && Number.isFinite(r.dev)).map((r) => [r.id, r.dev!]));
  const ranked = screen.candidates
    .map((c, rank) => ({ c, rank }))
    .filter((x) => dev.has(x.c.id))
    .sort((a, b) => dev.get(b.c.id)! - dev.get(a.c.id)! || a.rank - b.rank);
  const out = [...ranked.slice(0, k).map((x) => x.c), baseline];
  for (const r of references) {
    const there = out.find((f) => f.id === r.id);
    if (there) there.reference = true;
    else out.push(r);
  }
  return out;
}

/**
 * Every (finalist, seed) training, in the order they are started: seed by seed, and within a seed
 * the finalists with the most FLOPs per token first, so a pool of workers does not end on one long
 * training while the others wait (longest-first scheduling; FLOPs stand in for training time). The
 * order changes no result, since every training is seeded; it shortened the default SST-2 search's
 * final stage (bench/RESULTS.md).
 */
export function finalJobs(state: Pick<FinalState, 'finalists'>, seeds: number): { id: string; seed: number }[] {
  const order = state.finalists.map((f, i) => ({ id: f.id, flops: f.cost?.flops ?? 0, i })).sort((a, b) => b.flops - a.flops || a.i - b.i);
  const jobs: { id: string; seed: number }[] = [];
  for (let seed = 0; seed < seeds; seed++) for (const f of order) jobs.push({ id: f.id, seed });
  return jobs;
}

export interface FinalOptions<G> {
  /** What to train (a screening rung has the same shape: its candidates as `finalists`). */
  state: Pick<FinalState<G>, 'finalists' | 'runs'>;
  seeds: number;
  /** Trains a finalist stand-alone with the given seed; scores must hold dev and test. */
  evaluator: Evaluator<G>;
  concurrency: number;
  persist: () => Promise<void>;
  signal?: AbortSignal;
  onRun?: (r: FinalRun) => void;
}

/** Train what is missing of the final stage; throws SearchAborted when the signal fires. */
export async function runFinal<G>(o: FinalOptions<G>): Promise<Pick<FinalState<G>, 'finalists' | 'runs'>> {
  const done = new Set(o.state.runs.map((r) => `${r.id}:${r.seed}`));
  const todo = finalJobs(o.state, o.seeds).filter((j) => !done.has(`${j.id}:${j.seed}`));
  const byId = new Map(o.state.finalists.map((f) => [f.id, f]));
  let next = 0;
  const worker = async () => {
    while (next < todo.length && !o.signal?.aborted) {
      const job = todo[next++];
      const f = byId.get(job.id)!;
      const t0 = performance.now();
      let run: FinalRun;
      try {
        const r = await o.evaluator.score({ genome: f.genome, id: f.id, origin: 'seed' }, { seed: job.seed, signal: o.signal });
        const bad = ['dev', 'test'].find((k) => !Number.isFinite(r.scores[k]));
        run = bad
          ? { ...job, status: 'failed', reason: `training gave no finite ${bad} score (did the loss diverge?)`, seconds: r.seconds }
          : { ...job, status: 'ok', dev: r.scores.dev, test: r.scores.test, latency: r.scores.latency, seconds: r.seconds, ...(typeof r.devCorrect === 'string' ? { devCorrect: r.devCorrect } : {}) };
      } catch (e) {
        if (o.signal?.aborted) return;
        run = { ...job, status: 'failed', reason: (e as Error)?.message ?? String(e), seconds: (performance.now() - t0) / 1000 };
      }
      o.state.runs.push(run);
      await o.persist();
      o.onRun?.(run);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, todo.length)) }, worker));
  if (o.signal?.aborted && o.state.runs.length < finalJobs(o.state, o.seeds).length) throw new SearchAborted();
  return o.state;
}

export interface MeanStd {
  mean: number;
  std: number;
  n: number;
}

/** Mean and sample standard deviation (n - 1; 0 for one value); undefined for none. */
export function meanStd(xs: number[]): MeanStd | undefined {
  if (!xs.length) return undefined;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std, n: xs.length };
}

export interface FinalRow<G = unknown> extends Finalist<G> {
  dev?: MeanStd;
  test?: MeanStd;
  latency?: number;
  failed: number;
}

export interface FinalResult<G = unknown> {
  /** Finalists in the order they were picked (search rank, then the baseline). */
  rows: FinalRow<G>[];
  /** The finalist with the best mean dev score over complete seeds; undefined until one has them. */
  winner?: FinalRow<G>;
  baseline?: FinalRow<G>;
  complete: boolean;
  /** The winner's dev accuracy lead over the baseline, example by example (when every run kept its dev record). */
  lead?: DevLead;
  /** When the baseline itself wins: the best other finalist by mean dev, and its lead (negative) over the baseline. */
  runnerUp?: { id: string; lead: DevLead };
}

/**
 * A paired comparison of two finalists on the same dev examples: the mean over seeds of the winner's
 * accuracy minus the baseline's, in points, and a 95% percentile bootstrap interval over the dev
 * examples (Efron and Tibshirani 1993; resampling examples, not seeds, since the question is
 * whether another sample of dev sentences would likely agree).
 */
export interface DevLead {
  points: number;
  low: number;
  high: number;
  /** Dev examples compared. */
  n: number;
  resamples: number;
}

/** Bootstrap resamples for DevLead: enough for a stable 95% interval (about 0.1-0.2 s for 1,000 examples and 2 seeds on the 2-core machine). */
export const LEAD_RESAMPLES = 2000;

/**
 * DevLead of `a` over `b` from their runs' per-example dev records, seeds paired by position (both
 * lists the same length; every record the same length); undefined when a record is missing or
 * they do not fit. Seeded: the same records give the same interval.
 */
export function devLead(a: readonly (string | undefined)[], b: readonly (string | undefined)[], resamples = LEAD_RESAMPLES): DevLead | undefined {
  const all = [...a, ...b];
  if (!a.length || a.length !== b.length || all.some((r) => typeof r !== 'string')) return undefined;
  const n = (all[0] as string).length;
  if (!n || all.some((r) => r!.length !== n || /[^01]/.test(r!))) return undefined;
  // per example: the mean over seeds of (a right) - (b right), in -1..1
  const diff = new Float64Array(n);
  for (let s = 0; s < a.length; s++) for (let j = 0; j < n; j++) diff[j] += (a[s]!.charCodeAt(j) - b[s]!.charCodeAt(j)) / a.length;
  let total = 0;
  for (let j = 0; j < n; j++) total += diff[j];
  const rng = new Rng(0);
  const means = new Float64Array(resamples);
  for (let k = 0; k < resamples; k++) {
    let t = 0;
    for (let j = 0; j < n; j++) t += diff[rng.int(n)];
    means[k] = (100 * t) / n;
  }
  means.sort();
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return { points: (100 * total) / n, low: at(0.025), high: at(0.975), n, resamples };
}

/**
 * The final table: mean ± std over seeds per finalist, and the winner by mean dev score. With
 * `leads` (the default) also the example-by-example comparison with the baseline, a bootstrap:
 * callers that only need the winner pass false.
 */
export function finalResult<G>(state: FinalState<G>, seeds: number, o: { leads?: boolean } = {}): FinalResult<G> {
  const rows = state.finalists.map((f) => {
    const runs = state.runs.filter((r) => r.id === f.id);
    const ok = runs.filter((r) => r.status === 'ok');
    const lat = ok.map((r) => r.latency).filter((x): x is number => typeof x === 'number');
    return {
      ...f,
      dev: meanStd(ok.map((r) => r.dev!)),
      test: meanStd(ok.map((r) => r.test!)),
      ...(lat.length ? { latency: lat.reduce((a, b) => a + b, 0) / lat.length } : {}),
      failed: runs.length - ok.length,
    };
  });
  /** The best mean dev over complete seeds among `among`. */
  const best = (among: FinalRow<G>[]) => {
    let top: FinalRow<G> | undefined;
    for (const r of among) if (r.dev && r.dev.n === seeds && (!top || r.dev.mean > top.dev!.mean)) top = r;
    return top;
  };
  const winner = best(rows);
  const baseline = rows.find((r) => r.baseline);
  const result: FinalResult<G> = { rows, winner, baseline, complete: state.runs.length >= finalJobs(state, seeds).length };
  if (o.leads === false || !winner || !baseline) return result;
  const records = (id: string) => {
    const ok = state.runs.filter((r) => r.id === id && r.status === 'ok').sort((x, y) => x.seed - y.seed);
    return ok.length === seeds ? ok.map((r) => r.devCorrect) : [];
  };
  // the winner against the baseline; when the baseline itself wins, the best other finalist against it
  const other = winner === baseline ? best(rows.filter((r) => r !== baseline)) : winner;
  const lead = other && devLead(records(other.id), records(baseline.id));
  if (lead) Object.assign(result, other === winner ? { lead } : { runnerUp: { id: other!.id, lead } });
  return result;
}

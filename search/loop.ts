import { MAXIMISED, SetupError, type Evaluator } from '../evaluators/types.js';
import { OpnasError } from '../spaces/base/errors.js';
import { DEFAULT_SHAPE, type SearchSpace, type Shape } from '../spaces/types.js';
import { seedFrom } from '../spaces/base/rng.js';
import type { Candidate, Scores, Strategy, Trial } from './types.js';

/**
 * The one search loop. Every strategy and evaluator runs through it:
 *   ask a batch -> drop duplicates -> reject invalid / over-limit genomes (never trained) ->
 *   evaluate (concurrently) -> record each trial as it finishes -> tell the batch in ask order.
 * The batch size is fixed and each candidate's seed derives from the run seed and its id, so the
 * result does not depend on how many evaluations run at once or which finishes first. State is
 * persisted after every trial; a pending batch is re-evaluated (only its missing trials) on resume.
 * docs/ARCHITECTURE.md follows a search through the layers around it.
 */

export interface Limits {
  maxParams?: number;
  maxFlops?: number;
  maxLatencyMs?: number;
}

/** The part of a run the loop reads and writes. */
export interface SearchState<G> {
  trials: Trial<G>[];
  /** A batch asked but not yet told: its candidates and the trial index of the first one. */
  pending?: { batch: number; base: number; candidates: Candidate<G>[] };
  nextBatch: number;
  strategyState?: unknown;
}

export interface SearchOptions<G> {
  space: SearchSpace<G>;
  strategy: Strategy;
  evaluator: Evaluator<G>;
  seed: number;
  /** Evaluations (ok or failed trials) the run should have in total. */
  budget: number;
  /** Candidates per ask. */
  batch: number;
  /** Evaluations at once (worker count). */
  concurrency?: number;
  /** Score names; the first is the fitness strategies rank by. */
  objectives: string[];
  limits?: Limits;
  /** Sizes for analytic costs (params, FLOPs). */
  shape?: Shape;
  /** Forward latency of a candidate in ms, measured without training (for maxLatencyMs). */
  measureLatency?: (c: Candidate<G>) => Promise<number>;
  /** Resume from this state (it is updated in place). */
  state?: SearchState<G>;
  /**
   * Save the state after a change: a trial recorded (`change.trial`, already in `s.trials`), or the
   * batch state (pending, nextBatch, strategyState) changed.
   */
  persist?: (s: SearchState<G>, change: { trial: Trial<G> } | { state: true }) => Promise<void>;
  signal?: AbortSignal;
  onTrial?: (t: Trial<G>, s: SearchState<G>) => void;
  onEvaluationStart?: (c: Candidate<G>) => void;
}

/** Bigger is better: maximised scores as they are, minimised ones negated. */
export function fitnessOf(scores: Scores, objective: string): number | undefined {
  const v = scores[objective];
  if (v === undefined || !Number.isFinite(v)) return undefined;
  return MAXIMISED.has(objective) ? v : -v;
}

export function evaluatedCount(trials: readonly Trial[]): number {
  return trials.filter((t) => t.status === 'ok' || t.status === 'failed').length;
}

/** Batches in a row that may yield nothing to evaluate before the loop gives up. */
const MAX_EMPTY_BATCHES = 50;

export class SearchAborted extends Error {
  constructor() {
    super('search interrupted');
  }
}

export async function search<G>(o: SearchOptions<G>): Promise<SearchState<G>> {
  if (!(Number.isInteger(o.budget) && o.budget > 0)) throw new OpnasError(`budget must be a positive integer, got ${o.budget}`);
  if (!(Number.isInteger(o.batch) && o.batch > 0)) throw new OpnasError(`batch must be a positive integer, got ${o.batch}`);
  if (!o.objectives.length) throw new OpnasError('name at least one objective');
  const state: SearchState<G> = o.state ?? { trials: [], nextBatch: 0 };
  if (state.strategyState !== undefined) {
    try {
      o.strategy.restore(state.strategyState);
    } catch (e) {
      throw new OpnasError(`the saved strategy state does not fit the ${o.strategy.name} strategy (${(e as Error).message})`);
    }
  }
  const persist = async () => o.persist?.(state, { state: true });
  const seen = new Set(state.trials.map((t) => t.id));
  let emptyBatches = 0;

  while (evaluatedCount(state.trials) < o.budget || state.pending) {
    // let signals and output errors in: an evaluator and a store that never wait on I/O (a table
    // lookup, journal appends) would otherwise keep the event loop busy until the run ends
    await new Promise((r) => setImmediate(r));
    if (o.signal?.aborted) throw new SearchAborted();
    if (!state.pending) {
      const want = Math.min(o.batch, o.budget - evaluatedCount(state.trials));
      const candidates = askDistinct<G>(o.strategy, want, seen);
      if (!candidates.length) throw new OpnasError('the strategy proposes only genomes already tried: the space looks exhausted');
      state.pending = { batch: state.nextBatch, base: state.trials.length, candidates };
      state.strategyState = o.strategy.state();
      await persist();
    }
    const batch = await runBatch(o, state, seen);
    o.strategy.tell(batch);
    state.strategyState = o.strategy.state();
    state.pending = undefined;
    state.nextBatch++;
    await persist();
    emptyBatches = batch.some((t) => t.status === 'ok' || t.status === 'failed') ? 0 : emptyBatches + 1;
    if (emptyBatches >= MAX_EMPTY_BATCHES)
      throw new OpnasError(`${MAX_EMPTY_BATCHES} batches in a row had nothing to evaluate: the limits (--max-params/--max-flops/--max-latency-ms) reject every candidate`);
  }
  return state;
}

/** Ask until `want` candidates with ids never tried (and not repeated in the batch) are found. */
function askDistinct<G>(strategy: Strategy, want: number, seen: Set<string>): Candidate<G>[] {
  const out: Candidate<G>[] = [];
  const ids = new Set<string>();
  for (let attempt = 0; attempt < 100 && out.length < want; attempt++) {
    for (const c of strategy.ask(want - out.length) as Candidate<G>[]) {
      if (seen.has(c.id) || ids.has(c.id)) continue;
      ids.add(c.id);
      out.push(c);
    }
  }
  return out;
}

async function runBatch<G>(o: SearchOptions<G>, state: SearchState<G>, seen: Set<string>): Promise<Trial<G>[]> {
  const { candidates, base, batch } = state.pending!;
  const shape = o.shape ?? DEFAULT_SHAPE;
  const done = new Map(state.trials.filter((t) => t.batch === batch).map((t) => [t.index, t]));
  const record = async (t: Trial<G>) => {
    // keep the trial list in ask order whatever order evaluations finish in
    let at = state.trials.length;
    while (at > 0 && state.trials[at - 1].index > t.index) at--;
    state.trials.splice(at, 0, t);
    done.set(t.index, t);
    seen.add(t.id);
    await o.persist?.(state, { trial: t });
    o.onTrial?.(t, state);
  };
  type Unscored = Omit<Trial<G>, 'status' | 'scores' | 'seconds'>;
  const todo: { c: Candidate<G>; trial: Unscored }[] = [];
  /** Candidates that get (or got) scored, in ask order: what `prepare` sees, the same on resume. */
  const evaluable: Candidate<G>[] = [];
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i];
    const index = base + i;
    seen.add(c.id);
    const prior = done.get(index);
    if (prior) {
      if (prior.status === 'ok' || prior.status === 'failed') evaluable.push(c);
      continue;
    }
    const blank = { index, batch, id: c.id, genome: c.genome, parent: c.parent, origin: c.origin };
    const checked = o.space.check(c.genome);
    if (!checked.genome) {
      const reason = checked.errors.join('; ');
      await record({ ...blank, formula: '', status: 'invalid', reason, scores: {}, seconds: 0, cost: { params: 0, flops: 0 }, ops: [] });
      continue;
    }
    const cost = o.space.cost(c.genome, shape);
    const trial: Unscored = { ...blank, formula: o.space.render(c.genome), cost, ops: o.space.ops(c.genome) };
    const over = await overLimit(o, c, cost);
    if (over) {
      await record({ ...trial, status: 'over-budget', reason: over.reason, scores: over.scores, seconds: 0 });
      continue;
    }
    todo.push({ c, trial });
    evaluable.push(c);
  }
  if (todo.length && o.evaluator.prepare) {
    try {
      await o.evaluator.prepare({ batch, candidates: evaluable, trials: state.trials.filter((t) => t.batch < batch), signal: o.signal });
    } catch (e) {
      if (o.signal?.aborted) throw new SearchAborted();
      throw e;
    }
    if (o.signal?.aborted) throw new SearchAborted();
  }

  let next = 0;
  let setupFailure: SetupError | undefined;
  const worker = async () => {
    while (next < todo.length) {
      if (o.signal?.aborted || setupFailure) return;
      const { c, trial } = todo[next++];
      const cost = trial.cost;
      o.onEvaluationStart?.(c);
      const t0 = performance.now();
      try {
        const r = await o.evaluator.score(c, { seed: seedFrom(o.seed, c.id), signal: o.signal });
        const scores = { params: cost.params, flops: cost.flops, ...r.scores };
        await record({ ...trial, status: 'ok', scores, fitness: fitnessOf(scores, o.objectives[0]), seconds: r.seconds });
      } catch (e) {
        if (o.signal?.aborted) return; // not a failure: the batch stays pending and resumes
        // every candidate would fail the same way: stop the run rather than spend the budget
        if (e instanceof SetupError) return void (setupFailure ??= e);
        const seconds = (performance.now() - t0) / 1000;
        await record({ ...trial, status: 'failed', reason: (e as Error)?.message ?? String(e), scores: {}, seconds });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 1, todo.length)) }, worker));
  if (o.signal?.aborted) throw new SearchAborted();
  if (setupFailure) throw setupFailure;
  return candidates.map((_, i) => done.get(base + i)!);
}

async function overLimit<G>(o: SearchOptions<G>, c: Candidate<G>, cost: { params: number; flops: number }): Promise<{ reason: string; scores: Scores } | undefined> {
  const l = o.limits ?? {};
  if (l.maxParams !== undefined && cost.params > l.maxParams) return { reason: `params ${cost.params} > --max-params ${l.maxParams}`, scores: {} };
  if (l.maxFlops !== undefined && cost.flops > l.maxFlops) return { reason: `FLOPs/token ${Math.round(cost.flops)} > --max-flops ${l.maxFlops}`, scores: {} };
  if (l.maxLatencyMs !== undefined && o.measureLatency) {
    const ms = await o.measureLatency(c);
    if (ms > l.maxLatencyMs) return { reason: `latency ${ms.toFixed(2)} ms > --max-latency-ms ${l.maxLatencyMs}`, scores: { latency: ms } };
  }
  return undefined;
}

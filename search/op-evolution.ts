import type { OpPriority, SearchSpace } from '../spaces/types.js';
import { DEFAULT_EVOLUTION, Evolution, type EvolutionOptions, type EvolutionState } from './evolution.js';
import type { Trial } from './types.js';

/**
 * Operation-priority evolution (AutoBERT-Zero, arXiv 2107.07445). The paper steers mutations with
 * a per-op priority; its exact formula and constants could not be read from any copy we have, so
 * this is opnas's own reading in the standard UCB1 form:
 *
 *   priority_i = mu_i + c * sqrt(2 ln N / N_i)
 *
 * mu_i: mean fitness of evaluated candidates that contain op i; N_i: how many; N: all evaluated.
 * Ops never seen have no priority and are drawn first. Priorities are shifted to be >= 0 before
 * a mutation draws an op proportionally to them. Parents come from aging evolution's tournament.
 */

export interface OpEvolutionOptions extends EvolutionOptions {
  /** Exploration constant c of the UCB score. */
  c: number;
}

export const DEFAULT_OP_EVOLUTION: OpEvolutionOptions = { ...DEFAULT_EVOLUTION, c: 0.1 };

export interface OpStat {
  sum: number;
  n: number;
}

/** The UCB priority of every op in `stats` (ops never seen are absent: untried). */
export function ucbPriorities(stats: Readonly<Record<string, OpStat>>, evaluated: number, c: number): Record<string, number> {
  const out: Record<string, number> = {};
  const lnN = Math.log(Math.max(evaluated, 1));
  for (const [op, s] of Object.entries(stats)) out[op] = s.sum / s.n + c * Math.sqrt((2 * lnN) / s.n);
  return out;
}

/** Add one told trial to the statistics; returns whether it counted (it needs a finite fitness). */
function count(stats: Record<string, OpStat>, t: Pick<Trial, 'fitness' | 'ops'>): boolean {
  if (t.fitness === undefined || !Number.isFinite(t.fitness)) return false;
  for (const op of new Set(t.ops)) {
    const s = (stats[op] ??= { sum: 0, n: 0 });
    s.sum += t.fitness;
    s.n++;
  }
  return true;
}

/** The statistics and priorities as they stood after one batch was told. */
export interface OpPrioritySnapshot {
  batch: number;
  evaluated: number;
  stats: Record<string, OpStat>;
  priorities: Record<string, number>;
}

/**
 * What the strategy knew after each batch, replayed from a run's trials: the statistics depend
 * only on the fitness and ops of the trials told (a batch is told whole, in ask order), so every
 * run holds its own history. Batches at or after `upTo` (a batch asked but not yet told) are left out.
 */
export function opPriorityHistory(trials: readonly Pick<Trial, 'batch' | 'fitness' | 'ops'>[], c: number, upTo = Infinity): OpPrioritySnapshot[] {
  const byBatch = new Map<number, Pick<Trial, 'batch' | 'fitness' | 'ops'>[]>();
  for (const t of trials) if (t.batch < upTo) byBatch.set(t.batch, [...(byBatch.get(t.batch) ?? []), t]);
  const stats: Record<string, OpStat> = {};
  let evaluated = 0;
  const out: OpPrioritySnapshot[] = [];
  for (const batch of [...byBatch.keys()].sort((a, b) => a - b)) {
    for (const t of byBatch.get(batch)!) if (count(stats, t)) evaluated++;
    out.push({ batch, evaluated, stats: structuredClone(stats), priorities: ucbPriorities(stats, evaluated, c) });
  }
  return out;
}

export interface OpEvolutionState<G> extends EvolutionState<G> {
  ops: Record<string, OpStat>;
  evaluated: number;
}

export class OpEvolution<G> extends Evolution<G> {
  private stats: Record<string, OpStat> = {};
  private evaluated = 0;
  private readonly c: number;

  constructor(space: SearchSpace<G>, seed: number, opts: Partial<OpEvolutionOptions> = {}, name = 'op-evolution') {
    const o = { ...DEFAULT_OP_EVOLUTION, ...opts };
    super(name, space, seed, o);
    if (!(o.c >= 0)) throw new RangeError(`c must be >= 0, got ${o.c}`);
    this.c = o.c;
  }

  /** UCB score of every op seen so far (the others stay absent: untried). */
  priorities(): Record<string, number> {
    return ucbPriorities(this.stats, this.evaluated, this.c);
  }

  protected override priority(): OpPriority {
    const p = this.priorities();
    const values = Object.values(p);
    if (!values.length) return {};
    const min = Math.min(...values);
    const spread = Math.max(...values) - min || 1;
    // shift to >= 0 with a floor so the weakest op keeps a small chance
    for (const k of Object.keys(p)) p[k] = p[k] - min + 0.05 * spread;
    return p;
  }

  override tell(trials: Trial[]): void {
    super.tell(trials);
    for (const t of trials) if (count(this.stats, t)) this.evaluated++;
  }

  override state(): OpEvolutionState<G> {
    return { ...super.state(), ops: structuredClone(this.stats), evaluated: this.evaluated };
  }

  override restore(s: OpEvolutionState<G>): void {
    super.restore(s);
    const stats = Object.values((s.ops ?? undefined) as object ?? {});
    if (typeof s.ops !== 'object' || s.ops === null || !stats.every((v) => typeof v?.sum === 'number' && typeof v?.n === 'number') || typeof s.evaluated !== 'number') {
      throw new TypeError('expected op statistics { ops: { OP: { sum, n } }, evaluated }');
    }
    this.stats = structuredClone(s.ops);
    this.evaluated = s.evaluated;
  }
}

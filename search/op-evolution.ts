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

interface OpStat {
  sum: number;
  n: number;
}

export interface OpEvolutionState<G> extends EvolutionState<G> {
  ops: Record<string, OpStat>;
  evaluated: number;
}

export class OpEvolution<G> extends Evolution<G> {
  private stats: Record<string, OpStat> = {};
  private evaluated = 0;
  private readonly c: number;

  constructor(space: SearchSpace<G>, seed: number, opts: Partial<OpEvolutionOptions> = {}) {
    const o = { ...DEFAULT_OP_EVOLUTION, ...opts };
    super('op-evolution', space, seed, o);
    if (!(o.c >= 0)) throw new RangeError(`c must be >= 0, got ${o.c}`);
    this.c = o.c;
  }

  /** UCB score of every op seen so far (the others stay absent: untried). */
  priorities(): Record<string, number> {
    const out: Record<string, number> = {};
    const lnN = Math.log(Math.max(this.evaluated, 1));
    for (const [op, s] of Object.entries(this.stats)) out[op] = s.sum / s.n + this.c * Math.sqrt((2 * lnN) / s.n);
    return out;
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
    for (const t of trials) {
      if (t.fitness === undefined || !Number.isFinite(t.fitness)) continue;
      this.evaluated++;
      for (const op of new Set(t.ops)) {
        const s = (this.stats[op] ??= { sum: 0, n: 0 });
        s.sum += t.fitness;
        s.n++;
      }
    }
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

import type { Cost } from '../spaces/types.js';

/**
 * A strategy only proposes (ask) and learns (tell); the one loop in search/loop.ts does the rest:
 * dedupe, constraint checks, evaluation, recording, checkpoints.
 */

/** Where a candidate came from. */
export type Origin = 'sample' | 'mutate' | 'seed';

export interface Candidate<G = unknown> {
  genome: G;
  /** The space's functional id of the genome. */
  id: string;
  /** Id of the parent it was mutated from. */
  parent?: string;
  origin: Origin;
}

/**
 * ok: evaluated. invalid: failed the space's check. over-budget: broke a --max-* limit (never
 * trained). failed: the evaluator threw or its worker died (reason says why).
 */
export type TrialStatus = 'ok' | 'invalid' | 'over-budget' | 'failed';

/** Named scores, e.g. { dev: 0.84, test: 0.82, latency: 1.9, params: 1.4e6, flops: 8.7e5 }. */
export type Scores = Record<string, number>;

export interface Trial<G = unknown> {
  /** Position in the run, 0-based. */
  index: number;
  /** Batch (ask) the trial belongs to. */
  batch: number;
  id: string;
  genome: G;
  formula: string;
  parent?: string;
  origin: Origin;
  status: TrialStatus;
  reason?: string;
  scores: Scores;
  /**
   * The scalar a strategy ranks by (the first objective, signed so bigger is better), or
   * undefined when the trial was not evaluated.
   */
  fitness?: number;
  cost: Cost;
  /** Primitive ops the genome uses (for operation-priority statistics). */
  ops: string[];
  /** Seconds the evaluation took. */
  seconds: number;
}

export interface Strategy<S = unknown> {
  name: string;
  /** Propose n candidates. May return fewer only if the space is exhausted. */
  ask(n: number): Candidate[];
  /** Learn from evaluated trials, in the order their candidates were asked. */
  tell(trials: Trial[]): void;
  /** Everything needed to continue exactly: population, statistics, queue, generator state. */
  state(): S;
  restore(s: S): void;
}

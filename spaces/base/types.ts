/**
 * The data every layer passes around: the sizes a cost is computed for, a cost, and a search's
 * candidates and trials with their scores. Plain types (and one constant), importing nothing.
 */

/** Sizes a cost is computed for. FLOPs are per token (one sequence of seqLen tokens / seqLen). */
export interface Shape {
  seqLen: number;
  vocabSize: number;
  numClasses: number;
}

export const DEFAULT_SHAPE: Shape = { seqLen: 64, vocabSize: 8192, numClasses: 2 };

export interface Cost {
  params: number;
  flops: number;
}

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


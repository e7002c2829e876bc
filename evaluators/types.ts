import { OpnasError } from '../spaces/base/errors.js';
import type { Candidate, Scores, Trial } from '../search/types.js';

export interface EvalContext {
  /** Seed for everything random in this evaluation: derived from the run seed and the genome id. */
  seed: number;
  signal?: AbortSignal;
}

export interface EvalResult {
  scores: Scores;
  /** Seconds the evaluation took. */
  seconds: number;
  /**
   * Stand-alone training only: per dev example, in split order, '1' where the trained model is
   * right and '0' where not, so the final stage can compare two finalists example by example.
   */
  devCorrect?: string;
}

/** Scores one candidate. Implementations: stand-alone training, NAS-Bench-201 lookup, supernet. */
export interface Evaluator<G = unknown> {
  name: string;
  /** Score names this evaluator produces, e.g. ['dev', 'test', 'latency']. */
  scoreNames: string[];
  score(c: Candidate<G>, ctx: EvalContext): Promise<EvalResult>;
  /**
   * Called by the search loop before it scores a batch (also when a resumed run re-enters one):
   * `candidates` are the batch's evaluable candidates in ask order (those already scored included),
   * `trials` everything recorded before the batch. A supernet evaluator trains on them here. Must
   * give the same result however often it is called for the same batch.
   */
  prepare?(p: { batch: number; candidates: Candidate<G>[]; trials: readonly Trial<G>[]; signal?: AbortSignal }): Promise<void>;
  close?(): Promise<void>;
}

/** Objectives: bigger is better for these, smaller for every other score. */
export const MAXIMISED = new Set(['dev', 'test', 'accuracy', 'f1', 'mcc', 'cifar10', 'cifar100', 'imagenet16']);

/**
 * A problem every candidate would hit (a worker cannot load the supernet, the task will not load):
 * the search loop stops the run with it instead of recording each candidate as failed.
 */
export class SetupError extends OpnasError {}

import type { Candidate, Scores } from '../search/types.js';

export interface EvalContext {
  /** Seed for everything random in this evaluation: derived from the run seed and the genome id. */
  seed: number;
  signal?: AbortSignal;
}

export interface EvalResult {
  scores: Scores;
  /** Seconds the evaluation took. */
  seconds: number;
}

/** Scores one candidate. Implementations: stand-alone training, NAS-Bench-201 lookup, supernet. */
export interface Evaluator<G = unknown> {
  name: string;
  /** Score names this evaluator produces, e.g. ['dev', 'test', 'latency']. */
  scoreNames: string[];
  score(c: Candidate<G>, ctx: EvalContext): Promise<EvalResult>;
  close?(): Promise<void>;
}

/** Objectives: bigger is better for these, smaller for every other score. */
export const MAXIMISED = new Set(['dev', 'test', 'accuracy', 'f1', 'mcc', 'cifar10', 'cifar100', 'imagenet16']);

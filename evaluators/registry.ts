import type { Candidate } from '../search/types.js';
import type { BackboneGenome } from '../spaces/types.js';
import { STANDALONE_SCORES, StandaloneEvaluator, type StandaloneConfig } from './standalone.js';
import { SUPERNET_SCORES, SupernetEvaluator, type SupernetEvaluatorConfig } from './supernet/supernet.js';
import type { EvalContext, EvalResult, Evaluator } from './types.js';

/**
 * The evaluators that run in worker processes (evaluators/pool.ts, evaluators/worker-main.ts), by
 * kind. A new one is an entry here and a kind in `WorkerConfigs`; the pool, the worker and the
 * session find its scores and constructor here instead of testing names.
 */

/** What a worker runs: an Evaluator that reports training progress and can measure latency. */
export interface WorkerEvaluator extends Evaluator<BackboneGenome> {
  score(c: Candidate<BackboneGenome>, ctx: EvalContext, onStep?: (step: number, steps: number) => void): Promise<EvalResult>;
  latency(c: Candidate<BackboneGenome>): Promise<number>;
  /** Switch to another checkpoint of the weights it scores with (a supernet trained batch by batch). */
  reload?(checkpoint: string): Promise<void>;
}

interface WorkerConfigs {
  /** Stand-alone training of every candidate. */
  standalone: StandaloneConfig;
  /** A trained supernet, read-only. */
  supernet: SupernetEvaluatorConfig;
}

export type WorkerKind = keyof WorkerConfigs;

/** What each worker builds its evaluator from (JSON: it is sent to the worker process). */
export type WorkerConfig<K extends WorkerKind = WorkerKind> = { [k in K]: WorkerConfigs[k] & { kind: k } }[K];

type Registry = { [K in WorkerKind]: { scores: string[]; create(c: WorkerConfigs[K]): Promise<WorkerEvaluator> } };

export const WORKER_EVALUATORS: Registry = {
  standalone: { scores: STANDALONE_SCORES, create: (c) => StandaloneEvaluator.create(c) },
  supernet: { scores: SUPERNET_SCORES, create: (c) => SupernetEvaluator.create(c) },
};

export function createWorkerEvaluator<K extends WorkerKind>(c: WorkerConfig<K>): Promise<WorkerEvaluator> {
  const entry: Registry[K] = WORKER_EVALUATORS[c.kind];
  return entry.create(c);
}

/** Messages from the pool to a worker. */
export type ToWorker =
  | { type: 'init'; config: WorkerConfig }
  | { type: 'score'; job: number; candidate: Candidate<BackboneGenome>; seed: number; checkpoint?: string }
  | { type: 'latency'; job: number; candidate: Candidate<BackboneGenome> };

/** A job as the pool queues it, before it is given its number. */
export type WorkerJob = ToWorker extends infer M ? (M extends { job: number } ? Omit<M, 'job'> : never) : never;

/** Messages from a worker to the pool. job -1: the worker could not build its evaluator. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; job: number; step: number; steps: number }
  | { type: 'result'; job: number; result: unknown; tensors?: number }
  | { type: 'error'; job: number; message: string; setup?: boolean };

import type { FinalState } from '../search/final.js';
import type { SearchState } from '../search/loop.js';
import type { TrialStatus } from '../search/types.js';
import type { SearchConfig } from './session.js';

/** running: a process holds it. interrupted: stopped early (signal, crash); resumable. */
export type RunStatus = 'running' | 'interrupted' | 'finished' | 'failed';

export const RUN_STATUSES: readonly RunStatus[] = ['running', 'interrupted', 'finished', 'failed'];
/** Every trial status, in the order reports count them. */
export const TRIAL_STATUSES: readonly TrialStatus[] = ['ok', 'invalid', 'over-budget', 'failed'];

export const RUN_FORMAT = 'opnas-run';
export const RUN_VERSION = 1;

/** `run.json`: everything a resume needs to continue exactly where the run stopped; the loop's state is part of it. */
export interface RunFile<G = unknown> extends SearchState<G> {
  format: typeof RUN_FORMAT;
  version: typeof RUN_VERSION;
  name: string;
  /** ISO times. */
  created: string;
  updated: string;
  status: RunStatus;
  /** Why the run was interrupted or failed. */
  statusReason?: string;
  seed: number;
  /**
   * The resolved search config (space, strategy, evaluator, objectives: string[], budget, batch,
   * workers, limits, task, train steps, ...): a resume reads it instead of the command line.
   */
  config: SearchConfig;
  /** The strategy's full state (population, op statistics, its generator's state). */
  strategyState: unknown;
  /** The final selection stage (stand-alone trainings of the top candidates and the baseline). */
  final?: FinalState<G>;
  /** Sequence number of the last journal line this snapshot holds (journal.jsonl lines after it are newer). */
  journalSeq?: number;
  /** Anything else a resume needs (tokenizer vocab, ...). */
  extra?: Record<string, unknown>;
}

/** What a new run starts from; the store fills in the bookkeeping fields. */
export type RunInit<G = unknown> = Omit<
  RunFile<G>,
  'format' | 'version' | 'name' | 'created' | 'updated' | 'status' | 'nextBatch' | 'trials'
> &
  Partial<Pick<RunFile<G>, 'status' | 'nextBatch' | 'trials'>>;

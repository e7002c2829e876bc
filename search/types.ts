import type { Candidate, Trial } from '../spaces/base/types.js';

/**
 * A strategy only proposes (ask) and learns (tell); the one loop in search/loop.ts does the rest:
 * dedupe, constraint checks, evaluation, recording, checkpoints.
 */

// candidates, trials and scores are shared by every layer: they live in the base layer
export type { Candidate, Origin, Scores, Trial, TrialStatus } from '../spaces/base/types.js';

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

import type { Rng } from './base/rng.js';
import type { OpPriority } from './types.js';

/**
 * Draw the op a mutation inserts or replaces. Without priorities: uniform. With them (operation
 * priority, AutoBERT-Zero): ops with no finite priority are untried and drawn first; otherwise
 * proportional to the priority (negatives count as 0).
 */
export function drawOp(ops: readonly string[], rng: Rng, priority?: OpPriority): string {
  if (!priority) return rng.choice(ops);
  const untried = ops.filter((o) => !Number.isFinite(priority[o]));
  if (untried.length) return rng.choice(untried);
  return ops[rng.weighted(ops.map((o) => Math.max(0, priority[o])))];
}

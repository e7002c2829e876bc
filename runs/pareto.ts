import { MAXIMISED } from '../evaluators/types.js';
import type { Trial } from '../search/types.js';

/** A trial's value for an objective: its score, else its cost (params, flops); undefined if neither. */
export function objectiveValue(t: Trial, objective: string): number | undefined {
  const s = t.scores[objective];
  if (typeof s === 'number' && !Number.isNaN(s)) return s;
  const c = (t.cost as unknown as Record<string, unknown> | undefined)?.[objective];
  return typeof c === 'number' && !Number.isNaN(c) ? c : undefined;
}

/** The value signed so that bigger is better: objectives in MAXIMISED as they are, others negated. */
function gain(t: Trial, objective: string): number | undefined {
  const v = objectiveValue(t, objective);
  return v === undefined ? undefined : MAXIMISED.has(objective) ? v : -v;
}

/** a is at least as good as b on every objective and better on one; a trial lacking a value never dominates. */
export function dominates(a: Trial, b: Trial, objectives: readonly string[]): boolean {
  let better = false;
  for (const o of objectives) {
    const x = gain(a, o);
    const y = gain(b, o);
    if (x === undefined) return false;
    if (y === undefined) {
      better = true;
      continue;
    }
    if (x < y) return false;
    if (x > y) better = true;
  }
  return better;
}

/**
 * The ok trials no other ok trial dominates, best on the first objective first. Trials with equal
 * values all stay on the front; trials missing a value for an objective are left out.
 */
export function paretoFront<G>(trials: readonly Trial<G>[], objectives: readonly string[]): Trial<G>[] {
  if (objectives.length === 0) throw new RangeError('paretoFront: name at least one objective');
  const cands = trials.filter((t) => t.status === 'ok' && objectives.every((o) => objectiveValue(t, o) !== undefined));
  // sorted best-first on the gains in order, a trial can only be dominated by one before it
  const key = (t: Trial<G>) => objectives.map((o) => gain(t, o)!);
  cands.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return kb[i] - ka[i];
    return a.index - b.index;
  });
  const front: Trial<G>[] = [];
  for (const t of cands) if (!front.some((f) => dominates(f, t, objectives))) front.push(t);
  return front;
}

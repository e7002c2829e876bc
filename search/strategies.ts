import { OpnasError } from '../spaces/base/errors.js';
import type { SearchSpace } from '../spaces/types.js';
import { DEFAULT_EVOLUTION } from './evolution.js';
import { DEFAULT_OP_EVOLUTION, OpEvolution } from './op-evolution.js';
import { RandomSearch } from './random.js';
import { regularizedEvolution } from './regularized-evolution.js';
import type { Strategy } from './types.js';

export interface StrategyOptions {
  population?: number;
  tournament?: number;
  /** UCB exploration constant (op-evolution). */
  c?: number;
  /** Evolution: start the population from the space's known-good genomes. */
  seeded?: boolean;
}

/** Every strategy by its --strategy name; docs/ARCHITECTURE.md says what a new one must provide. */
export const STRATEGIES: Record<string, { describe: string; make: <G>(space: SearchSpace<G>, seed: number, o: StrategyOptions) => Strategy }> = {
  'op-evolution': {
    describe: `operation-priority evolution (AutoBERT-Zero; UCB priorities, P=${DEFAULT_OP_EVOLUTION.population}, S=${DEFAULT_OP_EVOLUTION.tournament}, c=${DEFAULT_OP_EVOLUTION.c})`,
    make: (space, seed, o) => new OpEvolution(space, seed, clean(o)),
  },
  'regularized-evolution': {
    describe: `aging evolution (Real et al. 2019; P=${DEFAULT_EVOLUTION.population}, S=${DEFAULT_EVOLUTION.tournament})`,
    make: (space, seed, o) => regularizedEvolution(space, seed, clean(o)),
  },
  random: { describe: 'uniform random search', make: (space, seed) => new RandomSearch(space, seed) },
};

function clean(o: StrategyOptions): StrategyOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

export function makeStrategy<G>(name: string, space: SearchSpace<G>, seed: number, opts: StrategyOptions = {}): Strategy {
  const s = STRATEGIES[name];
  if (!s) throw new OpnasError(`unknown strategy '${name}' (known: ${Object.keys(STRATEGIES).join(', ')})`);
  try {
    return s.make(space, seed, opts);
  } catch (e) {
    if (e instanceof RangeError) throw new OpnasError(`strategy ${name}: ${e.message}`);
    throw e;
  }
}

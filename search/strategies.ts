import { OpnasError } from '../spaces/base/errors.js';
import type { SearchSpace } from '../spaces/types.js';
import { DEFAULT_EVOLUTION } from './evolution.js';
import { CoarseToFine } from './coarse-to-fine.js';
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
  /** The search's budget (coarse-to-fine gives the first half to the block stage). */
  budget?: number;
}

/** Every strategy by its --strategy name; docs/ARCHITECTURE.md says what a new one must provide. */
export const STRATEGIES: Record<string, { describe: string; make: <G>(space: SearchSpace<G>, seed: number, o: StrategyOptions) => Strategy; /** Only for spaces with a macro shape (SearchSpace.coarse): not nb201. */ needsShape?: boolean }> = {
  'op-evolution': {
    describe: `operation-priority evolution (AutoBERT-Zero; UCB priorities, P=${DEFAULT_OP_EVOLUTION.population}, S=${DEFAULT_OP_EVOLUTION.tournament}, c=${DEFAULT_OP_EVOLUTION.c})`,
    make: (space, seed, o) => new OpEvolution(space, seed, clean(o)),
  },
  'coarse-to-fine': {
    describe: 'op-evolution over the blocks at one fixed shape for half the budget, then over depth, width, heads, FFN ratios and readout around the best blocks (EfficientBERT; P = a quarter of the budget, at most 20)',
    make: (space, seed, o) => {
      // half the budget for the blocks; unless told otherwise the population is half of that, so
      // the block stage evolves for as long as it samples (with the default budget 40: P = 10)
      const stage1 = Math.ceil((o.budget ?? 2) / 2);
      const population = o.population ?? Math.max(2, Math.min(DEFAULT_OP_EVOLUTION.population, Math.ceil(stage1 / 2)));
      const tournament = o.tournament ?? Math.min(DEFAULT_OP_EVOLUTION.tournament, population);
      return new CoarseToFine(space, seed, { ...clean(o), population, tournament, stage1 });
    },
    needsShape: true,
  },
  'regularized-evolution': {
    describe: `aging evolution (Real et al. 2019; P=${DEFAULT_EVOLUTION.population}, S=${DEFAULT_EVOLUTION.tournament})`,
    make: (space, seed, o) => regularizedEvolution(space, seed, clean(o)),
  },
  random: { describe: 'uniform random search', make: (space, seed) => new RandomSearch(space, seed) },
};

/** The evolution options that are set (the budget is not one). */
function clean(o: StrategyOptions): StrategyOptions {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'budget'));
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

import type { SearchSpace } from '../spaces/types.js';
import { DEFAULT_EVOLUTION, Evolution, type EvolutionOptions } from './evolution.js';

/** Regularized (aging) evolution, Real et al. 2019: uniform mutations. */
export function regularizedEvolution<G>(space: SearchSpace<G>, seed: number, opts: Partial<EvolutionOptions> = {}) {
  return new Evolution('regularized-evolution', space, seed, { ...DEFAULT_EVOLUTION, ...opts });
}

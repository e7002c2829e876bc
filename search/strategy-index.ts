export { STRATEGIES, makeStrategy, type StrategyOptions } from './strategies.js';
export { RandomSearch } from './random.js';
export { Evolution, DEFAULT_EVOLUTION, type EvolutionOptions } from './evolution.js';
export { regularizedEvolution } from './regularized-evolution.js';
export { OpEvolution, DEFAULT_OP_EVOLUTION, type OpEvolutionOptions } from './op-evolution.js';
export { CoarseToFine, type CoarseToFineOptions } from './coarse-to-fine.js';

export type { Evaluator, EvalContext, EvalResult } from './types.js';
export { MAXIMISED } from './types.js';
export { initBackend, currentBackend, BACKEND_CHOICES, type BackendChoice } from './backend.js';
export { Model, compile, type ModelConfig } from './compile.js';
export { trainStandalone, encodeTask, DEFAULT_TRAIN, type TrainConfig, type TrainResult } from './train.js';
export { StandaloneEvaluator, type StandaloneConfig } from './standalone.js';
export { Nb201Evaluator, expectedRandomBest, nb201Stats } from './nb201.js';
export * as tasks from './tasks/index.js';

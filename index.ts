/**
 * opnas as a library: run the one search loop with your own space, strategy or evaluator.
 *
 *   import { search, spaces, strategies, evaluators } from 'opnas';
 *   const state = await search.search({ space: spaces.nb201Space, strategy: strategies.makeStrategy('op-evolution', spaces.nb201Space, 0),
 *     evaluator: evaluators.Nb201Evaluator.load(), seed: 0, budget: 100, batch: 4, objectives: ['cifar10'] });
 *
 *   import { loadModel } from 'opnas';
 *   const m = loadModel('model');                 // a folder from `opnas train --out` or `opnas export --model`
 *   m.predict(['a gorgeous, witty film']);        // [{ label: 'positive', index: 1, probs: {...} }]
 *   m.dispose();
 *
 *   import { writeWebPage, browserLatency } from 'opnas';
 *   writeWebPage('model', 'page');                // the page of `opnas export --from-model model --web page`
 *   await browserLatency(onnxBytes, 64);          // { ms, runtime }: ONNX Runtime Web in headless Chromium
 */
import * as loop from './search/loop.js';
import { benchStrategies } from './runs/bench-strategies.js';
import { Rng, seedFrom } from './spaces/base/rng.js';

export const search = { ...loop, benchStrategies, Rng, seedFrom };
export type { Limits, SearchOptions, SearchState } from './search/loop.js';
export type { Candidate, Origin, Scores, Strategy, Trial, TrialStatus } from './search/types.js';

export * as spaces from './spaces/index.js';
export * as strategies from './search/strategy-index.js';
export * as evaluators from './evaluators/index.js';
export * as runs from './runs/index.js';
export { loadModel } from './evaluators/model-dir/folder.js';
export type { LoadedModel, ModelConfigFile, Prediction } from './evaluators/model-dir/folder.js';
export { writeWebPage } from './evaluators/model-dir/web.js';
export { browserLatency, BrowserRuntime } from './evaluators/browser-latency.js';

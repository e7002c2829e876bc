import { Nb201Evaluator, type Nb201Dataset } from '../evaluators/nb201.js';
import { nb201Space } from '../spaces/nb201.js';
import { search } from '../search/loop.js';
import { makeStrategy, type StrategyOptions } from '../search/strategies.js';

/**
 * Strategy benchmark on NAS-Bench-201: every strategy runs through the same loop as a real search,
 * with accuracies looked up instead of trained, so a comparison takes seconds. It uses only what
 * the library exports (search, spaces, strategies, evaluators), as a user's own benchmark would.
 */
export interface StrategyBenchResult {
  strategy: string;
  /** Best test accuracy (percent) each seed reached. */
  best: number[];
  mean: number;
  std: number;
}

export async function benchStrategies(opts: {
  strategies: string[];
  queries: number;
  seeds: number;
  dataset?: Nb201Dataset;
  batch?: number;
  strategyOptions?: StrategyOptions;
  onSeed?: (strategy: string, seed: number, best: number) => void;
}): Promise<StrategyBenchResult[]> {
  const dataset = opts.dataset ?? 'cifar10';
  const evaluator = Nb201Evaluator.load();
  const out: StrategyBenchResult[] = [];
  for (const name of opts.strategies) {
    const best: number[] = [];
    for (let seed = 0; seed < opts.seeds; seed++) {
      const strategy = makeStrategy(name, nb201Space, seed, opts.strategyOptions);
      const state = await search({ space: nb201Space, strategy, evaluator, seed, budget: opts.queries, batch: opts.batch ?? 1, objectives: [dataset] });
      const b = Math.max(...state.trials.filter((t) => t.status === 'ok').map((t) => t.scores[dataset]));
      best.push(b);
      opts.onSeed?.(name, seed, b);
    }
    const mean = best.reduce((a, b) => a + b, 0) / best.length;
    const std = Math.sqrt(best.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, best.length - 1));
    out.push({ strategy: name, best, mean, std });
  }
  return out;
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expectedRandomBest } from '../evaluators/nb201.js';
import { DEFAULT_SEARCH, startSearch, type SearchConfig } from '../runs/session.js';
import { benchStrategies, type StrategyBenchResult } from '../runs/bench-strategies.js';

/** Section 5: the strategies on NAS-Bench-201 through the real loop (CIFAR-10, 100 queries). */
export async function strategyBench(queries: number, seeds: number): Promise<{ results: StrategyBenchResult[]; expected: number; seconds: number }> {
  const t0 = performance.now();
  const results = await benchStrategies({ strategies: ['random', 'regularized-evolution', 'op-evolution'], queries, seeds });
  return { results, expected: expectedRandomBest('cifar10', queries, { replacement: false }), seconds: (performance.now() - t0) / 1000 };
}

export interface ParallelRow {
  workers: number;
  candidates: number;
  seconds: number;
  perMinute: number;
}

/** Section 6: the same stand-alone search on SST-2 with 1 and with 2 worker processes. */
export async function parallelBench(budget: number, trainSteps: number): Promise<ParallelRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'opnas-bench-'));
  const config: SearchConfig = {
    ...DEFAULT_SEARCH,
    evaluator: 'standalone',
    // the space and candidates this section has always measured: random samples, no final stage
    macro: { ...DEFAULT_SEARCH.macro, layers: [1, 2], hidden: [64, 128], pool: undefined, embed: undefined },
    seeded: false,
    budget,
    batch: 4,
    train: { ...DEFAULT_SEARCH.train, steps: trainSteps },
    final: undefined,
    seed: 1,
  };
  const rows: ParallelRow[] = [];
  try {
    for (const workers of [1, 2]) {
      const t0 = performance.now();
      const run = await startSearch(dir, `w${workers}`, config, { workers, backend: 'wasm' });
      const seconds = (performance.now() - t0) / 1000;
      const candidates = run.trials.filter((t) => t.status === 'ok').length;
      rows.push({ workers, candidates, seconds, perMinute: (60 * candidates) / seconds });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

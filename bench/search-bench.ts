/** Sections 5 and 6 of `npm run bench`: search strategies on NAS-Bench-201, and parallel candidate evaluation. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expectedRandomBest } from '../evaluators/nb201.js';
import { DEFAULT_SEARCH, startSearch, type SearchConfig } from '../runs/session.js';
import { benchStrategies, type StrategyBenchResult } from '../runs/bench-strategies.js';
import { fmt, table } from './common.js';

export interface StrategyResult {
  results: StrategyBenchResult[];
  expected: number;
  seconds: number;
}

/** Section 5: the strategies on NAS-Bench-201 through the real loop (CIFAR-10, 100 queries). */
export async function strategyBench(queries: number, seeds: number): Promise<StrategyResult> {
  const t0 = performance.now();
  const results = await benchStrategies({ strategies: ['random', 'regularized-evolution', 'op-evolution'], queries, seeds });
  return { results, expected: expectedRandomBest('cifar10', queries, { replacement: false }), seconds: (performance.now() - t0) / 1000 };
}

/** Section 5's markdown; `seeds` as measured. */
export function renderStrategies(strat: StrategyResult, seeds: number): string[] {
  const out: string[] = [];
  out.push('## 5. Search strategies on NAS-Bench-201', '');
  out.push(
    `\`opnas bench-strategies --queries 100 --seeds ${seeds}\` (the same loop and strategies as \`opnas search\`; accuracies looked up in ` +
      `data/nas-bench-201). Best CIFAR-10 test accuracy after 100 queries, mean ± std over seeds; ${fmt(strat.seconds, 1)} s in all.`,
    '',
  );
  out.push(
    table(
      ['strategy', 'mean best (%)', 'std', 'vs exact random expectation'],
      [
        ...strat.results.map((r) => [r.strategy, fmt(r.mean, 2), fmt(r.std, 2), `${r.mean - strat.expected >= 0 ? '+' : ''}${fmt(r.mean - strat.expected, 2)}`]),
        ['exact expectation, uniform random search', fmt(strat.expected, 2), '', ''],
      ],
    ),
    '',
  );
  return out;
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

/** Section 6's markdown; `trainSteps` as measured. */
export function renderParallel(par: ParallelRow[], trainSteps: number): string[] {
  const out: string[] = [];
  out.push('## 6. Parallel candidate evaluation', '');
  out.push(
    `A stand-alone search on SST-2 (op-evolution, seed 1, layers 1-2, hidden 64/128, ${trainSteps} training steps a candidate, batch 4), ` +
      'run twice in this process through `startSearch`: with 1 worker process and with 2. Wall time includes starting the workers.',
    '',
  );
  out.push(
    table(
      ['workers', 'candidates', 'seconds', 'candidates / minute', 'speed-up'],
      par.map((r) => [r.workers, r.candidates, fmt(r.seconds, 1), fmt(r.perMinute, 2), `${fmt(r.perMinute / par[0].perMinute, 2)}×`]),
    ),
    '',
  );
  return out;
}

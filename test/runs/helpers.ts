import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Trial } from '../../search/types.js';
import type { RunFile, RunInit } from '../../runs/types.js';

export function tmpDir(): string {
  return mkdtempSync(join(tmpdir(), 'opnas-runs-'));
}

/** An ok trial scored on dev; fitness is dev unless given. */
export function trial(index: number, over: Partial<Trial<string>> = {}): Trial<string> {
  const scores = over.scores ?? { dev: 0.5 };
  return {
    index,
    batch: 0,
    id: `id${String(index).padStart(4, '0')}ffffffffff`,
    genome: `g${index}`,
    formula: `f${index}`,
    origin: 'sample',
    status: 'ok',
    scores,
    fitness: scores.dev,
    cost: { params: 1000 * (index + 1), flops: 500 * (index + 1) },
    ops: [],
    seconds: 1,
    ...over,
  };
}

export function init(over: Partial<RunInit<string>> = {}): RunInit<string> {
  return {
    seed: 7,
    config: { space: 'backbone', strategy: 'evolution', evaluator: 'train', objectives: ['dev', 'latency'], budget: 10 },
    strategyState: { population: [] },
    ...over,
  };
}

export function run(trials: Trial<string>[], config: Record<string, unknown> = { objectives: ['dev'] }): RunFile<string> {
  return {
    format: 'opnas-run',
    version: 1,
    name: 'r',
    created: '2026-11-27T10:00:00.000Z',
    updated: '2026-11-27T11:30:00.000Z',
    status: 'finished',
    seed: 1,
    config,
    strategyState: null,
    nextBatch: 1,
    trials,
  };
}

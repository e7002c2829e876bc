import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { initBackend } from '../../evaluators/backend.js';
import { StandaloneEvaluator, trainTokenizer } from '../../evaluators/standalone.js';
import { loadTask } from '../../evaluators/tasks/named.js';
import { Rng, seedFrom } from '../../spaces/base/rng.js';
import { backboneSpace } from '../../spaces/backbone.js';

const TINY_TSV = join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/search/tiny.tsv');

it('the live tensor count does not grow across 200 candidate evaluations', async () => {
  await initBackend('wasm');
  const spec = { train: TINY_TSV, textColumn: 'sentence', labelColumn: 'label' };
  const tokenizer = trainTokenizer(loadTask(spec), 64);
  const evaluator = await StandaloneEvaluator.create({ task: spec, taskSeed: 0, tokenizer, train: { steps: 2, batchSize: 16, maxLen: 16, evalEvery: 0, patience: 0 } });
  const space = backboneSpace({ layers: [1, 2], hidden: [16, 24], heads: [1, 2], convProbability: 0.3 });
  const rng = new Rng('leak');
  let g = space.sample(rng);
  const counts: number[] = [];
  for (let i = 0; i < 200; i++) {
    g = i % 10 === 0 ? space.sample(rng) : space.mutate(g, rng);
    const r = await evaluator.score({ genome: g, id: space.id(g), origin: 'mutate' }, { seed: seedFrom(1, i) });
    expect(r.scores.dev).toBeGreaterThanOrEqual(0);
    counts.push(tf.memory().numTensors);
  }
  expect(counts[199]).toBe(counts[0]);
  expect(new Set(counts).size).toBe(1);
}, 300_000);

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import { exercise, spaceForTests } from './compile-fuzz.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it('1,000 mutated genomes (a mutation chain) pass check, compile, and run forward and backward without NaN', () => {
  const space = spaceForTests();
  const rng = new Rng('mutated');
  let g = space.sample(rng);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) {
    // restart the chain now and then so mutations act on many different parents
    g = i % 50 === 0 ? space.sample(rng) : space.mutate(g, rng);
    exercise(g, rng);
  }
  expect(tf.memory().numTensors).toBe(before);
}, 600_000);

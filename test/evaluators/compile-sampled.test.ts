import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import { exercise, spaceForTests } from './compile-fuzz.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it('1,000 sampled genomes pass check, compile, and run forward and backward without NaN or leaks', () => {
  const space = spaceForTests();
  const rng = new Rng('sampled');
  const before = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) exercise(space.sample(rng), rng);
  expect(tf.memory().numTensors).toBe(before);
}, 600_000);

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { expect } from 'vitest';
import { Model } from '../../evaluators/compile.js';
import { Rng } from '../../spaces/base/rng.js';
import { backboneCost, backboneSpace, checkBackbone } from '../../spaces/backbone.js';
import type { MacroRanges } from '../../spaces/macro.js';
import type { BackboneGenome } from '../../spaces/types.js';

export const TINY: MacroRanges = { layers: [1, 3], hidden: [16, 24, 32], heads: [1, 2], convProbability: 0.3 };
export const TINY_CFG = { vocabSize: 30, maxLen: 8, numClasses: 3 };

/** Check, compile, run forward and backward on a tiny padded batch; assert finite and exact param count. */
export function exercise(g: BackboneGenome, rng: Rng): void {
  const checked = checkBackbone(JSON.parse(JSON.stringify(g)));
  expect(checked.errors).toEqual([]);
  const model = new Model(g, TINY_CFG, rng);
  const cost = backboneCost(g, { seqLen: TINY_CFG.maxLen, vocabSize: TINY_CFG.vocabSize, numClasses: TINY_CFG.numClasses });
  expect(model.paramCount()).toBe(cost.params);
  const B = 2;
  const T = 6;
  const ids = tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.int(TINY_CFG.vocabSize)), [B, T], 'int32');
  const mask = tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], [B, T]);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 2], 'int32'), TINY_CFG.numClasses));
  const { value, grads } = tf.variableGrads(() => {
    const { logits } = model.forward(ids, mask);
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  }, model.weights());
  const loss = value.dataSync()[0];
  if (!Number.isFinite(loss)) throw new Error(`non-finite loss ${loss} for ${JSON.stringify(g)}`);
  for (const [name, gr] of Object.entries(grads)) {
    const data = gr.dataSync();
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) throw new Error(`non-finite gradient in ${name} for ${JSON.stringify(g)}`);
  }
  tf.dispose([value, ...Object.values(grads), ids, mask, labels]);
  model.dispose();
}

export function spaceForTests() {
  return backboneSpace(TINY);
}

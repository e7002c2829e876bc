// ONNX export: onnxruntime-node's logits equal opnas's within 1e-4 on 100+ sampled genomes covering every op.
import * as ort from 'onnxruntime-node';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '../../../evaluators/backend.js';
import { toOnnx } from '../../../evaluators/model-dir/onnx.js';
import { CLASSES, coverage, EVERYTHING, IDS, MASK, reference, sampleGenomes, SHAPE } from './parity.js';

beforeAll(async () => {
  await initBackend('cpu', { log: () => {} });
});

it('matches opnas on sampled genomes: every attention op, mask, dconv, pool, embed, conv mixer and FFN op', async () => {
  const genomes = sampleGenomes(100, 12);
  expect(genomes.length).toBeGreaterThanOrEqual(100);
  expect([...EVERYTHING].filter((k) => !coverage(genomes).has(k))).toEqual([]);
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(IDS, BigInt), SHAPE),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(MASK, BigInt), SHAPE),
  };
  let worst = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (const [i, g] of genomes.entries()) {
    const { weights, logits } = reference(g, i);
    for (const v of logits) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    const session = await ort.InferenceSession.create(toOnnx(g, weights, { numClasses: CLASSES }));
    const out = (await session.run(feeds)).logits;
    expect(out.dims).toEqual([SHAPE[0], CLASSES]);
    const got = out.data as Float32Array;
    for (let j = 0; j < logits.length; j++) {
      const diff = Math.abs(got[j] - logits[j]);
      worst = Math.max(worst, diff);
      if (!(diff <= 1e-4)) throw new Error(`genome ${i} (${JSON.stringify(g)}): logit ${j} is ${got[j]} in ONNX Runtime, ${logits[j]} in opnas`);
    }
    await session.release();
  }
  const spread = hi - lo;
  expect(worst).toBeLessThanOrEqual(1e-4);
  console.log(`ONNX parity: ${genomes.length} genomes, largest logit difference ${worst.toExponential(2)}, logit spread ${spread.toFixed(2)}`);
  // the weights are large enough that the genomes compute visibly different functions
  expect(spread).toBeGreaterThan(0.5);
}, 120_000);

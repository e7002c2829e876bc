import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../evaluators/compile.js';
import { Rng } from '../../spaces/base/rng.js';
import { backboneCost, bertBaseline } from '../../spaces/backbone.js';
import { parseAttentionFormula } from '../../spaces/attention-graph.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const CFG = { vocabSize: 40, maxLen: 10, numClasses: 3 };

/** Textbook BERT written independently of the compiler: heads via reshape/transpose of [B,T,H,dh]. */
function handWritten(m: Model, ids: tf.Tensor2D, mask: tf.Tensor2D, heads: number): tf.Tensor {
  const p = (n: string) => m.params.get(n)!;
  const [B, T] = ids.shape;
  const d = p('emb.tok').shape[1]!;
  const dh = d / heads;
  const ln = (x: tf.Tensor, n: string) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-6))), p(`${n}.g`)), p(`${n}.b`));
  };
  const lin = (x: tf.Tensor, n: string) => tf.add(tf.matMul(x as tf.Tensor2D, p(`${n}.w`) as tf.Tensor2D), p(`${n}.b`));
  const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  let x = tf.add(tf.gather(p('emb.tok'), ids), tf.slice(p('emb.pos'), [0, 0], [T, d])); // [B,T,d]
  x = ln(x, 'emb.ln');
  const flat = (t: tf.Tensor) => tf.reshape(t, [B * T, d]);
  const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, heads, dh]), [0, 2, 1, 3]); // [B,H,T,dh]
  const rows = tf.reshape(mask, [B, T, 1]);
  const q = split(tf.mul(tf.reshape(lin(flat(x), 'l0.att.Q'), [B, T, d]), rows));
  const k = split(tf.mul(tf.reshape(lin(flat(x), 'l0.att.K'), [B, T, d]), rows));
  const v = split(tf.mul(tf.reshape(lin(flat(x), 'l0.att.V'), [B, T, d]), rows));
  const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh)), tf.reshape(tf.mul(tf.sub(1, mask), -1e9), [B, 1, 1, T]));
  const ctx = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [B * T, d]);
  let h = ln(tf.add(flat(x), lin(ctx, 'l0.att.O')), 'l0.mix.ln');
  h = ln(tf.add(h, lin(gelu(lin(h, 'l0.ffn0.L1')), 'l0.ffn0.L2')), 'l0.ffn0.ln');
  const cls = tf.reshape(tf.slice(tf.reshape(h, [B, T, d]), [0, 0, 0], [B, 1, d]), [B, d]);
  return lin(tf.tanh(lin(cls, 'pool')), 'cls');
}

describe('model compiler', () => {
  it('standard-attention genome matches a hand-written BERT layer on the same weights to 1e-5', () => {
    const g = bertBaseline(1, 16, 2);
    const m = new Model(g, { ...CFG, initStd: 0.3 }, new Rng(5));
    const ids = tf.tensor2d([[2, 5, 7, 9, 3, 0], [2, 11, 12, 3, 0, 0]], [2, 6], 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], [2, 6]);
    const got = tf.tidy(() => m.forward(ids, mask).logits.arraySync());
    const want = tf.tidy(() => handWritten(m, ids, mask, 2).arraySync() as number[][]);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(Math.abs(got[i][j] - want[i][j])).toBeLessThan(1e-5);
    m.dispose();
  });

  it('padding does not change the real tokens: a sequence gives the same logits alone and padded', () => {
    const g = bertBaseline(2, 16, 2);
    const m = new Model(g, CFG, new Rng(1));
    const alone = tf.tidy(() => m.forward(tf.tensor2d([[2, 5, 7, 3]], [1, 4], 'int32'), tf.ones([1, 4])).logits.arraySync());
    const padded = tf.tidy(() => m.forward(tf.tensor2d([[2, 5, 7, 3, 0, 0]], [1, 6], 'int32'), tf.tensor2d([[1, 1, 1, 1, 0, 0]])).logits.arraySync());
    for (let j = 0; j < 3; j++) expect(padded[0][j]).toBeCloseTo(alone[0][j], 5);
    m.dispose();
  });

  it('allocates projections only for the inputs the graph uses, and counts them exactly', () => {
    const g = bertBaseline(1, 16, 2);
    const graph = parseAttentionFormula('matmul(softmax(scale(matmul(Q, transpose(neg(logsigmoid(neg(K))))))), add(Q, K))').graph!;
    g.layers[0].mixer = { type: 'attention', graph };
    const m = new Model(g, CFG, new Rng(1));
    expect([...m.params.keys()].filter((k) => k.includes('.att.'))).toEqual(['l0.att.Q.w', 'l0.att.Q.b', 'l0.att.K.w', 'l0.att.K.b', 'l0.att.O.w', 'l0.att.O.b']);
    expect(m.paramCount()).toBe(backboneCost(g, { seqLen: CFG.maxLen, vocabSize: CFG.vocabSize, numClasses: CFG.numClasses }).params);
    m.dispose();
  });

  it('is seeded: the same seed gives the same weights', () => {
    const g = bertBaseline(1, 16, 2);
    const a = new Model(g, CFG, new Rng(9));
    const b = new Model(g, CFG, new Rng(9));
    expect(a.params.get('l0.att.Q.w')!.dataSync()).toEqual(b.params.get('l0.att.Q.w')!.dataSync());
    a.dispose();
    b.dispose();
  });
});

describe('weights on disk', () => {
  it('save and load round-trip into a model compiled from the same genome, and refuse another genome', async () => {
    const { saveWeights, loadWeights } = await import('../../evaluators/checkpoint.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = join(mkdtempSync(join(tmpdir(), 'opnas-w-')), 'm');
    const a = new Model(bertBaseline(1, 16, 2), CFG, new Rng(1));
    saveWeights(a.params, dir);
    const b = new Model(bertBaseline(1, 16, 2), CFG, new Rng(2));
    loadWeights(b.params, dir);
    const ids = tf.tensor2d([[2, 5, 7, 3]], [1, 4], 'int32');
    const mask = tf.ones([1, 4]) as tf.Tensor2D;
    const la = tf.tidy(() => m2a(a.forward(ids, mask).logits));
    const lb = tf.tidy(() => m2a(b.forward(ids, mask).logits));
    expect(lb).toEqual(la);
    const c = new Model(bertBaseline(1, 32, 2), CFG, new Rng(1));
    expect(() => loadWeights(c.params, dir)).toThrow(/weights do not fit this model .*has shape \[40,16\], the model needs \[40,32\]/);
    for (const m of [a, b, c]) m.dispose();
  });
});

function m2a(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

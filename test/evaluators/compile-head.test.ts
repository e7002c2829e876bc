// Readout, factorised embedding and Primer's dconv: each checked against an independent reading.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../evaluators/compile.js';
import { Rng } from '../../spaces/base/rng.js';
import { backboneCost, backboneFamily, backboneSpace, bertBaseline, convReference, deepReference, hybridReference, knownGood, referenceBaseline, REFERENCES } from '../../spaces/backbone.js';
import { REFERENCE_NAMES } from '../../search/final.js';
import { referenceNames } from '../../runs/session.js';
import { checkAttention, renderAttention } from '../../spaces/attention-graph.js';
import { DEFAULT_MACRO } from '../../spaces/macro.js';
import type { BackboneGenome } from '../../spaces/types.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const CFG = { vocabSize: 40, maxLen: 10, numClasses: 3, initStd: 0.3 };
const ids = () => tf.tensor2d([[2, 5, 7, 9, 3, 0], [2, 11, 3, 0, 0, 0]], [2, 6], 'int32');
const mask = () => tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], [2, 6]);

function logits(m: Model, i = ids(), k = mask()): number[][] {
  return tf.tidy(() => m.forward(i, k).logits.arraySync());
}

describe('pooling, factorised embedding, dconv', () => {
  it('mean pooling reads the average of the real tokens, not [CLS], and ignores padding', () => {
    const g: BackboneGenome = { ...bertBaseline(1, 16, 2), pool: 'mean' };
    const m = new Model(g, CFG, new Rng(3));
    const cls = new Model(bertBaseline(1, 16, 2), CFG, new Rng(3)); // the same weights, [CLS] readout
    const got = logits(m);
    expect(got).not.toEqual(logits(cls));
    // same sequence padded further: same logits
    const longer = logits(m, tf.tensor2d([[2, 11, 3, 0, 0, 0, 0, 0]], [1, 8], 'int32'), tf.tensor2d([[1, 1, 1, 0, 0, 0, 0, 0]]));
    for (let j = 0; j < 3; j++) expect(longer[0][j]).toBeCloseTo(got[1][j], 5);
    // the readout by hand: mean of the last hidden state over real tokens, then pooler and classifier
    const want = tf.tidy(() => {
      const h = m.forward(ids(), mask()).hidden[0]; // [B, T, d]
      const w = tf.reshape(mask(), [2, 6, 1]);
      const mean = tf.div(tf.sum(tf.mul(h, w), 1), tf.sum(w, 1));
      const lin = (x: tf.Tensor, n: string) => tf.add(tf.matMul(x as tf.Tensor2D, m.params.get(`${n}.w`) as tf.Tensor2D), m.params.get(`${n}.b`)!);
      return lin(tf.tanh(lin(mean, 'pool')), 'cls').arraySync() as number[][];
    });
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(got[i][j]).toBeCloseTo(want[i][j], 5);
    m.dispose();
    cls.dispose();
  });

  it('max pooling takes the per-channel maximum over real tokens only', () => {
    const m = new Model({ ...bertBaseline(1, 16, 2), pool: 'max' }, CFG, new Rng(4));
    const got = logits(m);
    const want = tf.tidy(() => {
      const h = m.forward(ids(), mask()).hidden[0].arraySync() as number[][][];
      const real = [5, 3];
      const max = h.map((seq, b) => seq[0].map((_, c) => Math.max(...seq.slice(0, real[b]).map((row) => row[c]))));
      const lin = (x: tf.Tensor, n: string) => tf.add(tf.matMul(x as tf.Tensor2D, m.params.get(`${n}.w`) as tf.Tensor2D), m.params.get(`${n}.b`)!);
      return lin(tf.tanh(lin(tf.tensor2d(max), 'pool')), 'cls').arraySync() as number[][];
    });
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(got[i][j]).toBeCloseTo(want[i][j], 5);
    m.dispose();
  });

  it('a factorised embedding has a narrow table and a projection, and its cost counts them', () => {
    const g: BackboneGenome = { ...bertBaseline(1, 16, 2), embed: 4 };
    const m = new Model(g, CFG, new Rng(1));
    expect(m.shapes.get('emb.tok')).toEqual([40, 4]);
    expect(m.shapes.get('emb.proj.w')).toEqual([4, 16]);
    expect(m.paramCount()).toBe(backboneCost(g, { seqLen: 10, vocabSize: 40, numClasses: 3 }).params);
    expect(backboneCost(g).params).toBeLessThan(backboneCost(bertBaseline(1, 16, 2)).params);
    expect(logits(m).flat().every(Number.isFinite)).toBe(true);
    m.dispose();
  });

  it('dconv with an identity filter is plain attention; a learned filter mixes neighbours', () => {
    const plain = bertBaseline(1, 16, 2);
    const withDconv = structuredClone(plain);
    if (withDconv.layers[0].mixer.type !== 'attention') throw new Error('unreachable');
    withDconv.layers[0].mixer.graph.dconv = true;
    const a = new Model(plain, CFG, new Rng(7));
    const b = new Model(withDconv, CFG, new Rng(8), { mode: 'copy', get: (name, shape) => {
      if (name.endsWith('.dconv.w')) return tf.tensor2d(Array.from({ length: shape[0] * shape[1] }, (_, i) => (Math.floor(i / shape[1]) === 1 ? 1 : 0)), shape as [number, number]);
      if (name.endsWith('.dconv.b')) return tf.zeros(shape);
      return tf.clone(a.params.get(name)!);
    } });
    const x = logits(a);
    const y = logits(b);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(y[i][j]).toBeCloseTo(x[i][j], 5);
    b.params.get('l0.att.K.dconv.w')!.assign(tf.fill([3, 16], 0.5));
    expect(logits(b)).not.toEqual(y);
    expect(b.paramCount()).toBe(backboneCost(withDconv, { seqLen: 10, vocabSize: 40, numClasses: 3 }).params);
    a.dispose();
    b.dispose();
  });

  it('formulas carry [dconv]; it changes the id; bad values are named', () => {
    const r = checkAttention('matmul(softmax(scale(matmul(Q, transpose(K)))), V) [mask band:2] [dconv]');
    expect(r.errors).toEqual([]);
    expect(r.genome).toMatchObject({ mask: 'band:2', dconv: true });
    expect(renderAttention(r.genome!)).toBe('matmul(softmax(scale(matmul(Q, transpose(K)))), V) [mask band:2] [dconv]');
    const space = backboneSpace();
    const g = bertBaseline(1, 16, 2);
    const d = structuredClone(g);
    (d.layers[0].mixer as { graph: { dconv?: boolean } }).graph.dconv = true;
    expect(space.id(d)).not.toBe(space.id(g));
    expect(space.id({ ...g, pool: 'mean' })).not.toBe(space.id(g));
    expect(space.id({ ...g, embed: 8 })).not.toBe(space.id(g));
    expect(checkAttention({ formula: 'matmul(softmax(matmul(Q, transpose(K))), V)', dconv: 'yes' }).errors.join()).toMatch(/dconv: expected true or false/);
    const bad = space.check({ ...g, pool: 'avg', embed: 32 });
    expect(bad.errors).toEqual([expect.stringMatching(/^pool: expected one of cls, mean, max/), expect.stringMatching(/^embed: .* 1\.\.hidden, got 32/)]);
  });

  it("SparseBERT's learnt mask (dam): plain attention at 0, a weight per layer that training moves, in the cost and the id", () => {
    const g = bertBaseline(2, 16, 2);
    const withDam = structuredClone(g);
    for (const l of withDam.layers) if (l.mixer.type === 'attention') l.mixer.graph.mask = 'dam';
    const a = new Model(g, CFG, new Rng(5));
    const b = new Model(withDam, CFG, new Rng(5)); // a zero-init mask draws nothing: the other weights are the same
    expect(b.params.get('l1.att.dam')!.shape).toEqual([CFG.maxLen, CFG.maxLen]);
    const plain = logits(a);
    const at0 = logits(b);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(at0[i][j]).toBeCloseTo(plain[i][j], 5);
    // the parameter count the search uses is the model's own
    const shape = { seqLen: CFG.maxLen, vocabSize: CFG.vocabSize, numClasses: CFG.numClasses };
    const count = (m: Model) => [...m.params.values()].reduce((n, v) => n + v.size, 0);
    expect(backboneCost(withDam, shape).params).toBe(count(b));
    expect(backboneCost(withDam, shape).params - backboneCost(g, shape).params).toBe(2 * CFG.maxLen * CFG.maxLen);
    // the loss reaches the mask: a gradient step changes it, and a dropped pair changes the output
    const alpha = b.params.get('l0.att.dam')!;
    const grad = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(b.forward(ids(), mask()).logits)) as tf.Scalar, [alpha]);
      return tf.max(tf.abs(grads[alpha.name])).dataSync()[0];
    });
    expect(grad).toBeGreaterThan(0);
    alpha.assign(tf.tensor2d(Array.from({ length: CFG.maxLen ** 2 }, (_, i) => (i % CFG.maxLen === 0 ? -30 : 0)), [CFG.maxLen, CFG.maxLen]));
    expect(logits(b)).not.toEqual(at0);
    // formulas, ids and checks
    const r = checkAttention('matmul(softmax(scale(matmul(Q, transpose(K)))), V) [mask dam]');
    expect(r.errors).toEqual([]);
    expect(r.genome!.mask).toBe('dam');
    expect(renderAttention(r.genome!)).toBe('matmul(softmax(scale(matmul(Q, transpose(K)))), V) [mask dam]');
    const space = backboneSpace();
    expect(space.id(withDam)).not.toBe(space.id(g));
    expect(checkAttention('tanh(matmul(Q, transpose(K))) [mask dam]').errors.join()).toMatch(/a mask needs a softmax over \[T,T\] scores/);
    expect(checkAttention('matmul(softmax(matmul(Q, transpose(K))), V) [mask learnt]').errors.join()).toMatch(/unknown mask "learnt" \(expected .*'dam'\)/);
  });

  it('known-good seeds start with the textbook layer and stay inside the ranges', () => {
    const r = { ...DEFAULT_MACRO, layers: [1, 2] as [number, number], hidden: [64, 128], pool: ['cls' as const, 'mean' as const], embed: [64] };
    const seeds = knownGood(r);
    expect(backboneSpace(r).id(seeds[0])).toBe(backboneSpace(r).id(bertBaseline(2, 128, 2)));
    expect(new Set(seeds.map((g) => backboneSpace(r).id(g))).size).toBe(seeds.length);
    for (const g of seeds) {
      expect(backboneSpace(r).check(g).errors).toEqual([]);
      expect(g.layers.length).toBeLessThanOrEqual(2);
    }
    expect(seeds.some((g) => g.pool === 'mean' && g.embed === 64)).toBe(true);
    // no 'max' readout in these ranges: the convolution-only seed reads out by mean
    expect(seeds.filter((g) => backboneFamily(g) === 'conv').map((g) => g.pool)).toEqual(['mean']);
  });

  it('a convolution-only seed with max pooling (Kim 2014) when the ranges allow max, none with [CLS] only', () => {
    const r = { ...DEFAULT_MACRO, layers: [1, 2] as [number, number], hidden: [64, 128], pool: ['cls' as const, 'mean' as const, 'max' as const], embed: [64] };
    const conv = knownGood(r).filter((g) => backboneFamily(g) === 'conv');
    expect(conv).toHaveLength(1);
    expect(conv[0]).toMatchObject({ hidden: 128, heads: 4, pool: 'max' });
    expect(conv[0].embed).toBeUndefined();
    expect(conv[0].layers.map((l) => l.mixer)).toEqual([
      { type: 'conv', kernel: 3 },
      { type: 'conv', kernel: 7 },
    ]);
    expect(backboneSpace(r).check(conv[0]).errors).toEqual([]);
    expect(knownGood({ ...r, heads: [1, 2] })[knownGood(r).length - 1].heads).toBe(2);
    expect(knownGood({ ...DEFAULT_MACRO, layers: [1, 2], hidden: [128] }).some((g) => backboneFamily(g) === 'conv')).toBe(false);
    // the same genome is the final stage's reference; none without a max or mean readout
    expect(convReference(r)).toEqual(conv[0]);
    expect(convReference({ ...r, pool: ['cls'] })).toBeUndefined();
    expect(convReference({ ...r, heads: [1, 2, 4, 8] })!.heads).toBe(8);
    // the hybrid reference: the baseline with a kernel-3 convolution first; none for one layer
    const hybrid = hybridReference(r)!;
    expect(hybrid).toMatchObject({ hidden: 128, heads: 2 });
    expect(hybrid.pool).toBeUndefined();
    expect(hybrid.layers.map((l) => l.mixer.type)).toEqual(['conv', 'attention']);
    expect(hybrid.layers[0].mixer).toEqual({ type: 'conv', kernel: 3 });
    expect(hybrid.layers[1]).toEqual(referenceBaseline(r).layers[1]);
    expect(backboneFamily(hybrid)).toBe('hybrid');
    expect(backboneSpace(r).check(hybrid).errors).toEqual([]);
    expect(hybridReference({ ...r, layers: [1, 1] })).toBeUndefined();
    // the deep reference: the conv reference's two convolutions, then the baseline's attention above
    // them, every FFN at ratio 2; no more parameters than the baseline
    const r8 = { ...r, heads: [1, 2, 4, 8] };
    const deep = deepReference(r8)!;
    expect(deep).toMatchObject({ hidden: 128, heads: 8, pool: 'max' });
    expect(deep.layers.map((l) => (l.mixer.type === 'conv' ? `conv${l.mixer.kernel}` : 'attention'))).toEqual(['conv3', 'conv7', 'attention']);
    expect(deep.layers[2].mixer).toEqual(referenceBaseline(r8).layers[1].mixer);
    expect(deep.layers.map((l) => l.ffn.ratio)).toEqual([2, 2, 2]);
    expect(backboneCost(deep).params).toBeLessThanOrEqual(backboneCost(referenceBaseline(r8)).params);
    expect(backboneSpace(r8).check(deep).errors).toEqual([]);
    expect(deepReference({ ...r8, layers: [1, 3] })!.layers.map((l) => l.mixer.type)).toEqual(['conv', 'conv', 'attention', 'attention']);
    expect(deepReference({ ...r8, layers: [1, 1] })).toBeUndefined();
    expect(deepReference({ ...r8, pool: ['cls'] })).toBeUndefined();
    expect(Object.keys(REFERENCES)).toEqual([...REFERENCE_NAMES]);
    // what a saved final config means: `true` is a run saved when the conv reference was the only one
    expect(referenceNames(true)).toEqual(['conv']);
    expect(referenceNames(['conv', 'hybrid'])).toEqual(['conv', 'hybrid']);
    expect(referenceNames(false)).toEqual([]);
    expect(referenceNames(undefined)).toEqual([]);
    // families by token mixer
    const base = bertBaseline(2, 128, 2);
    expect(backboneFamily(base)).toBe('attention');
    expect(backboneFamily({ ...base, layers: [conv[0].layers[0], base.layers[1]] })).toBe('hybrid');
  });
});

// Stand-alone training: memory, determinism, learning, early stopping, the optimizer and encoding.
// Tiny models on tiny synthetic tasks, on the wasm backend (much faster than plain-JS cpu for training).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../evaluators/backend.js';
import { Model } from '../../evaluators/compile.js';
import { AdamW, DEFAULT_ADAMW, learningRate, type AdamWConfig } from '../../evaluators/optimizer.js';
import { encodeTask, predict, scoreSplit, seededDropout, trainStandalone, trainStep, type EncodedTask, type StepInfo } from '../../evaluators/train.js';
import type { Batch } from '../../evaluators/tasks/batching.js';
import type { Split, TaskData } from '../../evaluators/tasks/named.js';
import { CLS, SEP, UNK } from '../../evaluators/tasks/tokenizer.js';
import { Rng } from '../../spaces/base/rng.js';
import { bertBaseline } from '../../spaces/backbone.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const TINY = bertBaseline(1, 16, 2);
const MAX_LEN = 10;
const WORDS = ['apple', 'bear', 'cat', 'dog', 'eel', 'fox', 'gnu', 'hen', 'ibis', 'jay'];

/** Texts of 3..7 words from WORDS[1..]; label 1 when 'apple' was inserted somewhere (half of them). */
function split(n: number, seed: number, invert = false): Split {
  const rng = new Rng(seed);
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = Array.from({ length: rng.range(3, 7) }, () => WORDS[rng.range(1, WORDS.length - 1)]);
    const y = i % 2;
    if (y) w.splice(rng.int(w.length + 1), 0, 'apple');
    texts.push(w.join(' '));
    labels.push(invert ? 1 - y : y);
  }
  return { texts, labels };
}

function taskData(opts: { invertDev?: boolean } = {}): TaskData {
  return {
    name: 'has-apple',
    train: split(160, 1),
    dev: split(40, 2, opts.invertDev),
    test: split(40, 3),
    numClasses: 2,
    labelNames: ['no', 'yes'],
    metric: 'accuracy',
    sources: { train: 'synthetic', dev: 'synthetic', test: 'synthetic' },
  };
}

const TASK: EncodedTask = encodeTask(taskData(), { vocabSize: 20, maxLen: MAX_LEN });
const BASE = { batchSize: 16, maxLen: MAX_LEN, lr: 3e-3, patience: 0 } as const;

/** A random batch of valid ids ([CLS] w... [SEP], padded with 0) for driving trainStep directly. */
function randomBatch(rng: Rng, vocab: number, B: number, T: number): Batch {
  const ids = new Int32Array(B * T);
  const mask = new Float32Array(B * T);
  const labels = new Int32Array(B);
  for (let r = 0; r < B; r++) {
    const len = rng.range(2, T);
    ids[r * T] = CLS;
    for (let j = 1; j < len - 1; j++) ids[r * T + j] = rng.range(4, vocab - 1);
    ids[r * T + len - 1] = SEP;
    mask.fill(1, r * T, r * T + len);
    labels[r] = rng.int(2);
  }
  return { ids, mask, labels, indices: Int32Array.from({ length: B }, (_, i) => i), batchSize: B, seqLen: T };
}

describe('memory', () => {
  it('holds the live tensor count flat over 500 trainStep/AdamW steps, and frees it all on dispose', () => {
    const before = tf.memory().numTensors;
    const model = new Model(TINY, { vocabSize: 30, maxLen: 8, numClasses: 2 }, new Rng(0));
    const opt = new AdamW(model.params, DEFAULT_ADAMW);
    const rng = new Rng(5);
    let at10 = -1;
    for (let step = 1; step <= 500; step++) {
      const T = rng.range(3, 8); // varying shapes, as bucketed batches have
      const loss = trainStep(model, opt, randomBatch(rng, 30, 4, T), learningRate(step - 1, 500, 1e-3, 0.1));
      loss.dispose();
      if (step === 10) at10 = tf.memory().numTensors;
    }
    expect(opt.stepCount).toBe(500);
    // params + Adam's two moments per param, nothing else
    expect(at10).toBe(before + 3 * model.params.size);
    expect(tf.memory().numTensors).toBe(at10);
    opt.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('holds the tensor count flat inside trainStandalone (read from onStep) and frees everything after', async () => {
    const before = tf.memory().numTensors;
    const seen: { step: number; n: number }[] = [];
    await trainStandalone(TINY, TASK, { ...BASE, steps: 100, evalEvery: 30 }, { logEvery: 10, onStep: (s) => seen.push({ step: s.step, n: tf.memory().numTensors }) });
    expect(seen).toHaveLength(10);
    // before the first evaluation no best-weights copy exists; after it, exactly one
    const early = new Set(seen.filter((s) => s.step < 30).map((s) => s.n));
    const late = new Set(seen.filter((s) => s.step >= 30).map((s) => s.n));
    expect(early.size).toBe(1);
    expect(late.size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('does not grow across several trainStandalone calls (also one aborted midway)', async () => {
    const counts: number[] = [tf.memory().numTensors];
    for (let i = 0; i < 3; i++) {
      await trainStandalone(TINY, TASK, { ...BASE, steps: 20, evalEvery: 10, seed: i });
      counts.push(tf.memory().numTensors);
    }
    const ctl = new AbortController();
    await expect(
      trainStandalone(TINY, TASK, { ...BASE, steps: 100, evalEvery: 10 }, { logEvery: 5, signal: ctl.signal, onStep: (s) => s.step >= 30 && ctl.abort() }),
    ).rejects.toThrow(/aborted/);
    counts.push(tf.memory().numTensors);
    expect(counts).toEqual(counts.map(() => counts[0]));
  });
});

describe('trainStandalone', () => {
  const curve = async (seed: number) => {
    const log: StepInfo[] = [];
    const r = await trainStandalone(TINY, TASK, { ...BASE, steps: 30, evalEvery: 10, seed }, { logEvery: 5, onStep: (s) => log.push(s) });
    return { r, losses: log.map((s) => s.loss), dev: log.map((s) => s.devScore) };
  };

  it('is deterministic: the same seed gives the same loss curve and scores, another seed differs', async () => {
    const a = await curve(1);
    const b = await curve(1);
    const c = await curve(2);
    expect(a.losses).toHaveLength(6);
    expect(b.losses).toEqual(a.losses);
    expect(b.dev).toEqual(a.dev);
    expect(b.r.dev).toEqual(a.r.dev);
    expect(b.r.test).toEqual(a.r.test);
    expect(b.r.bestStep).toBe(a.r.bestStep);
    expect(b.r.params).toBe(a.r.params);
    expect(c.losses).not.toEqual(a.losses);
    for (const l of [...a.losses, ...c.losses]) expect(Number.isFinite(l)).toBe(true);
  });

  it('learns a separable task (label = whether "apple" occurs) to high dev and test accuracy', async () => {
    const log: StepInfo[] = [];
    const r = await trainStandalone(TINY, TASK, { ...BASE, steps: 150, evalEvery: 50 }, { logEvery: 10, onStep: (s) => log.push(s) });
    expect(r.dev.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.test.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(r.dev.score).toBe(r.dev.accuracy); // the task's metric is accuracy
    expect(log.at(-1)!.loss).toBeLessThan(0.3 * log[0].loss);
    expect(r.steps).toBe(150);
    expect(r.stoppedEarly).toBe(false);
    expect(r.params).toBe(new Model(TINY, { vocabSize: TASK.tokenizer.vocabSize, maxLen: MAX_LEN, numClasses: 2 }, new Rng(0)).paramCount());
    expect(r.latencyMs).toBeGreaterThan(0);
    expect(r.flopsPerToken).toBeGreaterThan(0);
    expect(r.tokensPerSecond).toBeGreaterThan(0);
    expect(r.paddingFraction).toBeGreaterThanOrEqual(0);
    expect(r.paddingFraction).toBeLessThan(1);
  });

  it('stops early on a plateau (patience 1) and reports the first, best evaluation', async () => {
    const log: StepInfo[] = [];
    // a learning rate this small cannot change a prediction: every dev score is the same
    const r = await trainStandalone(TINY, TASK, { ...BASE, steps: 100, evalEvery: 5, patience: 1, lr: 1e-12 }, { logEvery: 5, onStep: (s) => log.push(s) });
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBe(10);
    expect(r.bestStep).toBe(5);
    expect(log.map((s) => s.devScore)).toEqual([log[0].devScore, log[0].devScore]);
    expect(r.dev.score).toBe(log[0].devScore);
  });

  it('restores the best weights: dev labels inverted, so learning makes dev worse and training stops at the first drop', async () => {
    const task = encodeTask(taskData({ invertDev: true }), { vocabSize: 20, maxLen: MAX_LEN });
    const log: StepInfo[] = [];
    const r = await trainStandalone(TINY, task, { ...BASE, steps: 400, evalEvery: 20, patience: 1 }, { logEvery: 20, onStep: (s) => log.push(s) });
    const evals = log.filter((s) => s.devScore !== undefined);
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBeLessThan(400);
    expect(r.bestStep).toBeLessThan(r.steps);
    expect(evals.at(-1)!.step).toBe(r.steps);
    const best = Math.max(...evals.map((s) => s.devScore!));
    expect(evals.find((s) => s.step === r.bestStep)!.devScore).toBe(best);
    expect(evals.at(-1)!.devScore).toBeLessThan(best); // the weights at the stop were worse...
    expect(r.dev.score).toBe(best); // ...and the reported dev score is the best one's: its weights were restored
  });

  it('dropout: seeded (the same run twice is identical), changes the curve, still learns, and leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const plain = await curve(1);
    const run = async () => {
      const log: StepInfo[] = [];
      const r = await trainStandalone(TINY, TASK, { ...BASE, steps: 30, evalEvery: 10, seed: 1, dropout: 0.3 }, { logEvery: 5, onStep: (s) => log.push(s) });
      return { r, losses: log.map((s) => s.loss) };
    };
    const a = await run();
    const b = await run();
    expect(b.losses).toEqual(a.losses);
    expect(b.r.dev).toEqual(a.r.dev);
    expect(a.losses).not.toEqual(plain.losses);
    expect(a.losses[0]).not.toBe(plain.losses[0]); // the very first step already dropped units
    expect(tf.memory().numTensors).toBe(before);
    const learnt = await trainStandalone(TINY, TASK, { ...BASE, steps: 150, evalEvery: 50, dropout: 0.1 });
    expect(learnt.dev.accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('dropout 0 trains exactly as no dropout option at all', async () => {
    const plain = await curve(2);
    const log: StepInfo[] = [];
    await trainStandalone(TINY, TASK, { ...BASE, steps: 30, evalEvery: 10, seed: 2, dropout: 0 }, { logEvery: 5, onStep: (s) => log.push(s) });
    expect(log.map((s) => s.loss)).toEqual(plain.losses);
  });

  it('dropout acts only in training: a forward pass without it is deterministic, one with it is not the same', () => {
    const model = new Model(TINY, { vocabSize: TASK.tokenizer.vocabSize, maxLen: MAX_LEN, numClasses: 2 }, new Rng(4));
    try {
      const s = TASK.dev.seqs[0];
      const logits = (dropout?: (x: tf.Tensor2D) => tf.Tensor2D) =>
        tf.tidy(() => Array.from(model.forward(tf.tensor2d(s, [1, s.length], 'int32'), tf.ones([1, s.length]) as tf.Tensor2D, { dropout }).logits.dataSync()));
      expect(logits()).toEqual(logits());
      const drop = seededDropout(0.5, new Rng(1))!;
      expect(logits(drop)).not.toEqual(logits());
      expect(seededDropout(0, new Rng(1))).toBeUndefined();
    } finally {
      model.dispose();
    }
  });

  it('with patience 0 trains every step even when dev never improves', async () => {
    const r = await trainStandalone(TINY, TASK, { ...BASE, steps: 20, evalEvery: 5, lr: 1e-12 });
    expect(r.steps).toBe(20);
    expect(r.stoppedEarly).toBe(false);
    expect(r.bestStep).toBe(5);
  });
});

describe('predict and scoreSplit', () => {
  it('puts predictions back in split order whatever the length-sorted batching', () => {
    const model = new Model(TINY, { vocabSize: TASK.tokenizer.vocabSize, maxLen: MAX_LEN, numClasses: 2 }, new Rng(3));
    try {
      const seqs = TASK.dev.seqs.slice(0, 12);
      const one = seqs.map((s) =>
        tf.tidy(() => {
          const ids = tf.tensor2d(s, [1, s.length], 'int32');
          const logits = model.forward(ids, tf.ones([1, s.length]) as tf.Tensor2D).logits;
          return tf.argMax(logits, 1).dataSync()[0];
        }),
      );
      const split = { seqs, labels: TASK.dev.labels.slice(0, 12) };
      expect(predict(model, split, 4, MAX_LEN)).toEqual(one);
      const acc = one.filter((p, i) => p === split.labels[i]).length / 12;
      expect(scoreSplit(model, split, { metric: 'accuracy', numClasses: 2, maxLen: MAX_LEN }).accuracy).toBeCloseTo(acc, 12);
    } finally {
      model.dispose();
    }
  });
});

describe('learningRate', () => {
  it('warms up linearly to the peak, then decays linearly towards 0', () => {
    const lr = (s: number) => learningRate(s, 100, 0.01, 0.1); // 10 warm-up steps
    expect(lr(0)).toBeCloseTo(0.001, 12);
    expect(lr(4)).toBeCloseTo(0.005, 12);
    expect(lr(9)).toBeCloseTo(0.01, 12);
    expect(lr(10)).toBeCloseTo(0.01, 12);
    expect(lr(55)).toBeCloseTo(0.005, 12);
    expect(lr(99)).toBeCloseTo(0.01 / 90, 12);
    expect(lr(100)).toBe(0);
    expect(lr(150)).toBe(0);
    for (let s = 1; s < 10; s++) expect(lr(s)).toBeGreaterThan(lr(s - 1));
    for (let s = 11; s <= 100; s++) expect(lr(s)).toBeLessThan(lr(s - 1));
    // no warm-up: the peak at once; a warm-up of at least one step whatever the fraction
    expect(learningRate(0, 100, 0.01, 0)).toBeCloseTo(0.01, 12);
    expect(learningRate(0, 10, 0.01, 0.01)).toBeCloseTo(0.01, 12);
    expect(learningRate(0, 1, 0.01, 0.06)).toBeCloseTo(0.01, 12);
  });
});

describe('AdamW', () => {
  /** Float64 reference of one AdamW step over named params (decayed names given), in place. */
  function reference(
    state: { p: Record<string, number[]>; m: Record<string, number[]>; v: Record<string, number[]>; t: number },
    grads: Record<string, number[]>,
    lr: number,
    cfg: AdamWConfig,
    decayed: Set<string>,
  ) {
    state.t++;
    const norm = Math.sqrt(Object.values(grads).flat().reduce((a, g) => a + g * g, 0));
    const scale = cfg.clipNorm > 0 ? cfg.clipNorm / Math.max(norm, cfg.clipNorm) : 1;
    for (const [n, g0] of Object.entries(grads)) {
      const p = state.p[n];
      g0.forEach((gRaw, i) => {
        const g = gRaw * scale;
        state.m[n][i] = cfg.beta1 * state.m[n][i] + (1 - cfg.beta1) * g;
        state.v[n][i] = cfg.beta2 * state.v[n][i] + (1 - cfg.beta2) * g * g;
        const mh = state.m[n][i] / (1 - cfg.beta1 ** state.t);
        const vh = state.v[n][i] / (1 - cfg.beta2 ** state.t);
        let u = mh / (Math.sqrt(vh) + cfg.eps);
        if (cfg.weightDecay > 0 && decayed.has(n)) u += cfg.weightDecay * p[i];
        p[i] -= lr * u;
      });
    }
  }

  const INIT: Record<string, number[]> = {
    'l0.ffn0.L1.w': [1, -2, 0.5],
    'l0.ffn0.L1.b': [0.5, 0.25, -1],
    'emb.tok': [2, -1],
    'emb.ln.g': [1.5, 1],
    'emb.ln.b': [0.3, -0.3],
    'l0.conv.k': [0.7, -0.7],
  };
  const DECAYED = new Set(['l0.ffn0.L1.w', 'emb.tok']);

  function run(cfg: AdamWConfig, steps: { grads: Record<string, number[]>; lr: number }[]) {
    const params = new Map(
      Object.entries(INIT).map(([n, x]) => {
        const init = tf.tensor1d(x);
        const v = tf.variable(init, true);
        init.dispose();
        return [n, v];
      }),
    );
    const opt = new AdamW(params, cfg);
    const state = {
      p: structuredClone(INIT),
      m: Object.fromEntries(Object.entries(INIT).map(([n, x]) => [n, x.map(() => 0)])),
      v: Object.fromEntries(Object.entries(INIT).map(([n, x]) => [n, x.map(() => 0)])),
      t: 0,
    };
    for (const { grads, lr } of steps) {
      const g = Object.fromEntries(Object.entries(grads).map(([n, x]) => [n, tf.tensor1d(x)]));
      opt.apply(g, lr);
      tf.dispose(Object.values(g));
      reference(state, grads, lr, cfg, DECAYED);
    }
    const got = Object.fromEntries([...params].map(([n, v]) => [n, Array.from(v.dataSync())]));
    opt.dispose();
    tf.dispose([...params.values()]);
    return { got, want: state.p };
  }

  const expectClose = (got: Record<string, number[]>, want: Record<string, number[]>) => {
    for (const n of Object.keys(want)) want[n].forEach((w, i) => expect(got[n][i], `${n}[${i}]`).toBeCloseTo(w, 5));
  };

  const GRADS1 = { 'l0.ffn0.L1.w': [3, -4, 0], 'l0.ffn0.L1.b': [1, 0, -2], 'emb.tok': [0.5, 0.5], 'emb.ln.g': [-1, 2], 'emb.ln.b': [0, 1], 'l0.conv.k': [6, -6] };
  const GRADS2 = { 'l0.ffn0.L1.w': [-1, 2, 1], 'l0.ffn0.L1.b': [0.5, 0.5, 0.5], 'emb.tok': [0, -3], 'emb.ln.g': [1, 1], 'emb.ln.b': [-2, 0], 'l0.conv.k': [0, 0.1] };

  it('matches a hand computation over two steps (bias correction, clipping, decoupled decay)', () => {
    const cfg: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 0.5, weightDecay: 0.1, clipNorm: 1 };
    const before = tf.memory().numTensors;
    const { got, want } = run(cfg, [
      { grads: GRADS1, lr: 0.1 },
      { grads: GRADS2, lr: 0.05 },
    ]);
    expectClose(got, want);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('decays only weight matrices and embedding tables, not biases, LayerNorm (emb.ln too) or conv kernel logits', () => {
    // zero gradients: Adam's step is 0, so any change is the decay alone
    const zero = Object.fromEntries(Object.entries(INIT).map(([n, x]) => [n, x.map(() => 0)]));
    const { got } = run({ ...DEFAULT_ADAMW, weightDecay: 0.5 }, [{ grads: zero, lr: 0.1 }]);
    for (const [n, x] of Object.entries(INIT)) {
      const want = DECAYED.has(n) ? x.map((p) => p * (1 - 0.1 * 0.5)) : x;
      want.forEach((w, i) => expect(got[n][i], `${n}[${i}]`).toBeCloseTo(w, 6));
    }
  });

  it('clipping bounds the update: huge gradients move a parameter by at most lr·c/(c+eps)', () => {
    const huge = Object.fromEntries(Object.entries(GRADS1).map(([n, x]) => [n, x.map((g) => g * 1e6)]));
    const cfg: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1, weightDecay: 0, clipNorm: 1 };
    const clipped = run(cfg, [{ grads: huge, lr: 0.1 }]);
    expectClose(clipped.got, clipped.want);
    const unclipped = run({ ...cfg, clipNorm: 0 }, [{ grads: huge, lr: 0.1 }]);
    expectClose(unclipped.got, unclipped.want);
    let maxClipped = 0;
    let maxUnclipped = 0;
    for (const n of Object.keys(INIT)) {
      INIT[n].forEach((p0, i) => {
        maxClipped = Math.max(maxClipped, Math.abs(clipped.got[n][i] - p0));
        maxUnclipped = Math.max(maxUnclipped, Math.abs(unclipped.got[n][i] - p0));
      });
    }
    // each clipped gradient entry is at most 1 in size, so |m̂/(√v̂+1)| <= 1/2
    expect(maxClipped).toBeLessThanOrEqual(0.1 * 0.5 + 1e-6);
    expect(maxUnclipped).toBeGreaterThan(0.1 * 0.99);
  });
});

describe('encodeTask', () => {
  it('encodes a pair task as [CLS] a [SEP] b [SEP], the tokenizer trained on both sides of train only', () => {
    const data: TaskData = {
      name: 'pairs',
      train: { texts: ['a man sleeps', 'dogs bark loudly'], pairs: ['a person rests', 'cats purr'], labels: [1, 0] },
      dev: { texts: ['a man barks'], pairs: ['zebras purr'], labels: [0] },
      test: { texts: ['cats bark'], pairs: ['dogs sleeps'], labels: [1] },
      numClasses: 2,
      labelNames: ['no', 'yes'],
      metric: 'f1',
      sources: { train: 'x', dev: 'x', test: 'x' },
    };
    const t = encodeTask(data, { vocabSize: 100, maxLen: 12 });
    const id = (w: string) => t.tokenizer.id(w);
    expect(id('rests')).not.toBe(UNK); // a word only in the pair column is in the vocabulary
    expect(id('purr')).not.toBe(UNK);
    expect(Array.from(t.train.seqs[0])).toEqual([CLS, id('a'), id('man'), id('sleeps'), SEP, id('a'), id('person'), id('rests'), SEP]);
    expect(Array.from(t.train.seqs[1])).toEqual([CLS, id('dogs'), id('bark'), id('loudly'), SEP, id('cats'), id('purr'), SEP]);
    // dev-only words are unknown: the tokenizer never sees dev or test text
    expect(Array.from(t.dev.seqs[0])).toEqual([CLS, id('a'), id('man'), UNK, SEP, UNK, id('purr'), SEP]);
    expect(id('barks')).toBe(UNK);
    expect(Array.from(t.test.seqs[0])).toEqual([CLS, id('cats'), id('bark'), SEP, id('dogs'), id('sleeps'), SEP]);
    expect(t.train.labels).toEqual([1, 0]);
    expect(t).toMatchObject({ name: 'pairs', metric: 'f1', numClasses: 2, maxLen: 12, labelNames: ['no', 'yes'] });
    // truncated longest-first to maxLen, both [SEP]s kept
    const short = encodeTask(data, { vocabSize: 100, maxLen: 7 });
    expect(Array.from(short.train.seqs[0])).toEqual([CLS, id('a'), id('man'), SEP, id('a'), id('person'), SEP]);
    for (const s of [...short.train.seqs, ...short.dev.seqs, ...short.test.seqs]) expect(s.length).toBeLessThanOrEqual(7);
  });

  it('a pair task trains end to end', async () => {
    const data = taskData();
    const pairTask: TaskData = {
      ...data,
      train: { ...data.train, pairs: data.train.texts.map((_, i) => WORDS[1 + (i % 9)]) },
      dev: { ...data.dev, pairs: data.dev.texts.map(() => 'bear') },
      test: { ...data.test, pairs: data.test.texts.map(() => 'cat') },
    };
    const t = encodeTask(pairTask, { vocabSize: 20, maxLen: 12 });
    expect(t.train.seqs.every((s) => s[0] === CLS && s.filter((x) => x === SEP).length === 2)).toBe(true);
    const r = await trainStandalone(TINY, t, { ...BASE, maxLen: 12, steps: 10, evalEvery: 5 });
    expect(r.dev.score).toBeGreaterThanOrEqual(0);
    expect(r.dev.score).toBeLessThanOrEqual(1);
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../spaces/base/rng.js';
import { backboneCost } from '../spaces/backbone.js';
import type { BackboneGenome } from '../spaces/types.js';
import { OpnasError } from '../spaces/base/errors.js';
import { Model, type Dropout } from './compile.js';
import { AdamW, DEFAULT_ADAMW, learningRate } from './optimizer.js';
import { BatchIterator, evalBatches, type Batch } from './tasks/batching.js';
import { computeMetric, type TaskMetric } from './tasks/metrics.js';
import type { TaskData } from './tasks/named.js';
import { Tokenizer, type TokenizerModel } from './tasks/tokenizer.js';

/**
 * Stand-alone training: the ground truth the cheaper evaluators are checked against. AdamW with
 * warm-up + linear decay, global-norm clipping, early stopping on the dev metric (the best weights
 * are kept and scored on test), all draws seeded.
 */

export interface TrainConfig {
  /** Optimizer steps at most. */
  steps: number;
  batchSize: number;
  /** Longest sequence in tokens, [CLS] and [SEP] included. */
  maxLen: number;
  /** Peak learning rate. */
  lr: number;
  /** Fraction of the steps spent warming up. */
  warmup: number;
  weightDecay: number;
  clipNorm: number;
  /** Evaluate on dev every this many steps (0: only at the end). */
  evalEvery: number;
  /** Stop after this many evaluations without a better dev score (0: never stop early). */
  patience: number;
  /** Group examples of similar length into batches (arXiv 2305.13144). */
  bucket: boolean;
  /**
   * Hidden dropout rate while training (0: none): embeddings, each mixer's and FFN's output, the
   * pooled summary (Model.forward). BERT trains with 0.1 (Devlin et al. 2019, section A.2).
   */
  dropout: number;
  seed: number;
}

export const DEFAULT_TRAIN: TrainConfig = {
  steps: 2000,
  batchSize: 32,
  maxLen: 64,
  lr: 1e-3,
  warmup: 0.06,
  weightDecay: 0.01,
  clipNorm: 1,
  evalEvery: 250,
  patience: 4,
  bucket: true,
  dropout: 0,
  seed: 0,
};

export interface EncodedSplit {
  seqs: Int32Array[];
  labels: number[];
}

export interface EncodedTask {
  name: string;
  metric: TaskMetric;
  numClasses: number;
  labelNames: string[];
  tokenizer: Tokenizer;
  maxLen: number;
  train: EncodedSplit;
  dev: EncodedSplit;
  test: EncodedSplit;
  /** See TaskData.trainRows. */
  trainRows?: TaskData['trainRows'];
}

/** Train a tokenizer on the training text (or reuse a saved one) and encode every split. */
export function encodeTask(task: TaskData, opts: { vocabSize: number; maxLen: number; tokenizer?: Tokenizer; tokenizerModel?: TokenizerModel }): EncodedTask {
  const tokenizer = opts.tokenizer ?? Tokenizer.train(task.train.pairs ? [...task.train.texts, ...task.train.pairs] : task.train.texts, opts.vocabSize, opts.tokenizerModel);
  const enc = (s: TaskData['train']): EncodedSplit => ({ seqs: tokenizer.encodeAll(s.texts, s.pairs, opts.maxLen), labels: s.labels });
  return {
    name: task.name,
    metric: task.metric,
    numClasses: task.numClasses,
    labelNames: task.labelNames,
    tokenizer,
    maxLen: opts.maxLen,
    train: enc(task.train),
    dev: enc(task.dev),
    test: enc(task.test),
    ...(task.trainRows ? { trainRows: task.trainRows } : {}),
  };
}

export interface SplitScores {
  /** The task's own metric (accuracy, F1 or Matthews correlation). */
  score: number;
  accuracy: number;
  f1: number;
  mcc: number;
}

export interface StepInfo {
  step: number;
  steps: number;
  loss: number;
  tokensPerSecond: number;
  devScore?: number;
}

export interface TrainResult {
  dev: SplitScores;
  /** Per dev example, in split order: 1 where the trained model's prediction is right (for paired comparisons). */
  devCorrect: Uint8Array;
  test: SplitScores;
  params: number;
  /** Analytic FLOPs per token of the forward pass. */
  flopsPerToken: number;
  /** Measured forward latency for one example of maxLen tokens, median of several runs. */
  latencyMs: number;
  wallSeconds: number;
  steps: number;
  bestStep: number;
  stoppedEarly: boolean;
  /** Real (non-padding) tokens processed per second of training. */
  tokensPerSecond: number;
  paddingFraction: number;
}

export interface TrainHooks {
  onStep?: (info: StepInfo) => void;
  signal?: AbortSignal;
  /** How often to read the loss back (a sync point); default every 20 steps. */
  logEvery?: number;
  /** Called with the trained model (best weights restored) before it is disposed. */
  onTrained?: (model: Model) => void;
}

function batchTensors(b: Batch) {
  return {
    ids: tf.tensor2d(b.ids, [b.batchSize, b.seqLen], 'int32'),
    mask: tf.tensor2d(b.mask, [b.batchSize, b.seqLen]),
    labels: tf.tensor1d(b.labels, 'int32'),
  };
}

/** Predictions for a whole split, in the split's order. */
export function predict(model: Model, split: EncodedSplit, batchSize: number, maxLen: number): number[] {
  const pred = new Array<number>(split.seqs.length).fill(0);
  for (const b of evalBatches(split.seqs, split.labels, { batchSize: Math.max(batchSize, 64), maxLen })) {
    const out = tf.tidy(() => {
      const t = batchTensors(b);
      return tf.argMax(model.forward(t.ids, t.mask).logits, 1);
    });
    const p = out.dataSync();
    out.dispose();
    b.indices.forEach((idx, i) => (pred[idx] = p[i]));
  }
  return pred;
}

export function scoreSplit(model: Model, split: EncodedSplit, task: Pick<EncodedTask, 'metric' | 'numClasses' | 'maxLen'>, batchSize = 64): SplitScores {
  return scoresOf(predict(model, split, batchSize, task.maxLen), split, task);
}

/** A split's scores from its predictions. */
export function scoresOf(pred: number[], split: EncodedSplit, task: Pick<EncodedTask, 'metric' | 'numClasses'>): SplitScores {
  return {
    score: computeMetric(task.metric, pred, split.labels, task.numClasses),
    accuracy: computeMetric('accuracy', pred, split.labels, task.numClasses),
    f1: computeMetric('f1', pred, split.labels, task.numClasses),
    mcc: computeMetric('mcc', pred, split.labels, task.numClasses),
  };
}

/** Median forward time of one maxLen example, in ms. */
export function measureLatency(model: Model, maxLen: number, reps = 5): number {
  const ids = tf.fill([1, maxLen], 2, 'int32') as tf.Tensor2D;
  const mask = tf.ones([1, maxLen]) as tf.Tensor2D;
  const times: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const t0 = performance.now();
    const out = tf.tidy(() => model.forward(ids, mask).logits);
    out.dataSync();
    out.dispose();
    if (r > 0) times.push(performance.now() - t0); // the first run warms up kernels
  }
  tf.dispose([ids, mask]);
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/**
 * Dropout at `rate` whose masks are drawn from `rng` (one seed per mask), so a seeded training run
 * drops the same units every time; undefined for rate 0 (the forward pass is then exactly as without).
 */
export function seededDropout(rate: number, rng: Rng): Dropout | undefined {
  if (!(rate > 0)) return undefined;
  return (x) => tf.dropout(x, rate, undefined, Math.floor(rng.next() * 2 ** 31)) as tf.Tensor2D;
}

/** One optimizer step; returns the loss tensor (the caller decides when to read it). */
export function trainStep(model: Model, opt: AdamW, b: Batch, lr: number, dropout?: Dropout): tf.Scalar {
  return tf.tidy(() => {
    const t = batchTensors(b);
    const onehot = tf.oneHot(t.labels, model.cfg.numClasses);
    const names = [...model.params.keys()];
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(onehot, model.forward(t.ids, t.mask, { dropout }).logits) as tf.Scalar,
      model.weights(),
    );
    const byName: Record<string, tf.Tensor> = {};
    const vars = model.weights();
    names.forEach((n, i) => (byName[n] = grads[vars[i].name]));
    opt.apply(byName, lr);
    return value;
  });
}

/** Training blew up (loss NaN or infinite): the scores would mean nothing. */
export class TrainingDiverged extends OpnasError {
  constructor(
    readonly step: number,
    readonly loss: number,
  ) {
    super(`training diverged: the loss is ${loss} at step ${step} (a lower --lr usually helps)`);
  }
}

export async function trainStandalone(genome: BackboneGenome, task: EncodedTask, config: Partial<TrainConfig> = {}, hooks: TrainHooks = {}): Promise<TrainResult> {
  const cfg = { ...DEFAULT_TRAIN, ...config };
  const t0 = performance.now();
  const rng = new Rng(cfg.seed);
  const model = new Model(genome, { vocabSize: task.tokenizer.vocabSize, maxLen: cfg.maxLen, numClasses: task.numClasses }, rng);
  const opt = new AdamW(model.params, { ...DEFAULT_ADAMW, weightDecay: cfg.weightDecay, clipNorm: cfg.clipNorm });
  const batches = new BatchIterator(task.train.seqs, task.train.labels, { batchSize: cfg.batchSize, maxLen: cfg.maxLen, bucket: cfg.bucket }, rng.fork().next());
  // forked after everything else that draws from rng, so a run without dropout draws as before
  const dropout = cfg.dropout > 0 ? seededDropout(cfg.dropout, rng.fork()) : undefined;
  const logEvery = hooks.logEvery ?? 20;
  let best = -Infinity;
  let bestStep = 0;
  let bestWeights: tf.Tensor[] | undefined;
  let sinceBest = 0;
  let stoppedEarly = false;
  let realTokens = 0;
  let allTokens = 0;
  let step = 0;
  let pendingLoss: tf.Scalar | undefined;
  const evaluate = (): number => {
    const s = scoreSplit(model, task.dev, task, cfg.batchSize).score;
    if (s > best) {
      best = s;
      bestStep = step;
      tf.dispose(bestWeights ?? []);
      bestWeights = model.weights().map((w) => tf.clone(w));
      sinceBest = 0;
    } else sinceBest++;
    return s;
  };
  try {
    let windowStart = performance.now();
    let windowTokens = 0;
    while (step < cfg.steps) {
      if (hooks.signal?.aborted) throw new Error('aborted');
      const b = batches.next();
      const tokens = b.mask.reduce((a, x) => a + x, 0);
      realTokens += tokens;
      allTokens += b.mask.length;
      windowTokens += tokens;
      pendingLoss?.dispose();
      pendingLoss = trainStep(model, opt, b, learningRate(step, cfg.steps, cfg.lr, cfg.warmup), dropout);
      step++;
      const last = step === cfg.steps;
      const evalNow = (cfg.evalEvery > 0 && step % cfg.evalEvery === 0) || last;
      if (step % logEvery === 0 || evalNow) {
        const loss = (await pendingLoss.data())[0];
        // once the loss is NaN or infinite every weight after it is garbage: stop and say why
        if (!Number.isFinite(loss)) throw new TrainingDiverged(step, loss);
        const now = performance.now();
        const tps = (windowTokens / (now - windowStart)) * 1000;
        windowStart = now;
        windowTokens = 0;
        let devScore: number | undefined;
        if (evalNow) {
          devScore = evaluate();
          windowStart = performance.now();
        }
        hooks.onStep?.({ step, steps: cfg.steps, loss, tokensPerSecond: tps, devScore });
        if (cfg.patience > 0 && sinceBest >= cfg.patience) {
          stoppedEarly = !last;
          break;
        }
      }
      // yield so signals, timers and progress output get a turn
      if (step % logEvery === 0) await new Promise((r) => setImmediate(r));
    }
    pendingLoss?.dispose();
    pendingLoss = undefined;
    if (bestWeights) model.weights().forEach((w, i) => w.assign(bestWeights![i]));
    const trainWall = (performance.now() - t0) / 1000;
    const devPred = predict(model, task.dev, cfg.batchSize, task.maxLen);
    const dev = scoresOf(devPred, task.dev, task);
    const test = scoreSplit(model, task.test, task, cfg.batchSize);
    const cost = backboneCost(genome, { seqLen: cfg.maxLen, vocabSize: task.tokenizer.vocabSize, numClasses: task.numClasses });
    hooks.onTrained?.(model);
    return {
      dev,
      devCorrect: Uint8Array.from(devPred, (p, i) => (p === task.dev.labels[i] ? 1 : 0)),
      test,
      params: model.paramCount(),
      flopsPerToken: cost.flops,
      latencyMs: measureLatency(model, cfg.maxLen),
      wallSeconds: (performance.now() - t0) / 1000,
      steps: step,
      bestStep,
      stoppedEarly,
      tokensPerSecond: realTokens / trainWall,
      paddingFraction: allTokens ? 1 - realTokens / allTokens : 0,
    };
  } finally {
    pendingLoss?.dispose(); // still held when training stopped by an abort or an error
    tf.dispose(bestWeights ?? []);
    opt.dispose();
    model.dispose();
  }
}

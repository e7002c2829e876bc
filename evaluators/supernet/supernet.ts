import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../spaces/base/rng.js';
import type { Candidate } from '../../search/types.js';
import { backboneSpace, bertBaseline } from '../../spaces/backbone.js';
import { CONV_KERNELS } from '../../spaces/conv.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { hashId } from '../../spaces/base/hash.js';
import { FFN_MAX_STACK, FFN_RATIOS } from '../../spaces/ffn-tree.js';
import { headsFor, type MacroRanges } from '../../spaces/macro.js';
import type { BackboneGenome } from '../../spaces/types.js';
import { loadWeights, savedNames, saveWeights } from '../checkpoint.js';
import { initialValues, Model, weightLayout, type ModelConfig, type WeightSpec } from '../compile.js';
import { AdamW, DEFAULT_ADAMW, learningRate } from '../optimizer.js';
import { BatchIterator, type Batch } from '../tasks/batching.js';
import { initBackend, type BackendChoice } from '../backend.js';
import { loadTask, type TaskSpec } from '../tasks/named.js';
import { Tokenizer, type TokenizerJSON } from '../tasks/tokenizer.js';
import { candidateLatency, type LatencyRuntime } from '../latency.js';
import { encodeTask, measureLatency, scoreSplit, trainStep, type EncodedSplit, type EncodedTask, type StepInfo } from '../train.js';
import type { EvalContext, EvalResult, Evaluator } from '../types.js';

/**
 * Weight-sharing supernet with bi-branch weight sharing (AutoBERT-Zero's BIWS, HAT's leading
 * slices). Every layer holds both token mixers at their widest: an attention branch (Q, K, V, O
 * projections, shared by every attention graph, since primitive ops carry no weights) and a
 * lightweight-conv branch (one kernel of the widest size per head; a smaller kernel uses its
 * centre taps). FFN weights exist at the widest ratio for the deepest stack. A candidate of width
 * d takes the leading d rows/columns of each matrix, its i-th layer is the supernet's i-th layer,
 * its s-th stacked FFN the supernet's s-th. Embeddings, pooler and classifier are shared too.
 *
 * The candidate itself is compiled by compile.ts: `view` gives a Model whose every weight is a
 * differentiable slice of a supernet variable (training, scoring as is), `extract` a Model that
 * owns copies of its slices (fine-tuning without touching the supernet).
 */

export interface SupernetConfig {
  /** The space's macro ranges: the widest width, most heads and deepest encoder come from here. */
  macro: MacroRanges;
  vocabSize: number;
  /** Longest sequence (rows of the position table). */
  maxLen: number;
  numClasses: number;
  /** Std of the normal initialiser (BERT's 0.02). */
  initStd?: number;
}

/** Widest sizes a supernet holds for its config. */
export function supernetShape(cfg: SupernetConfig): { width: number; depth: number; heads: number; ratio: number; stack: number; kernel: number } {
  return {
    width: Math.max(...cfg.macro.hidden),
    depth: cfg.macro.layers[1],
    heads: Math.max(...cfg.macro.heads),
    ratio: Math.max(...FFN_RATIOS),
    stack: FFN_MAX_STACK,
    kernel: Math.max(...CONV_KERNELS),
  };
}

/** Every supernet weight: the candidate layout at the widest sizes, each layer holding both mixers. */
function layout(cfg: SupernetConfig): WeightSpec[] {
  const { width, depth, heads, ratio, stack, kernel } = supernetShape(cfg);
  return weightLayout({
    width,
    vocabSize: cfg.vocabSize,
    maxLen: cfg.maxLen,
    numClasses: cfg.numClasses,
    // a factorised candidate reads the table's leading columns and the projection's leading slice
    embed: cfg.macro.embed?.length ? width : undefined,
    layers: Array.from({ length: depth }, () => ({ attention: { inputs: ['Q', 'K', 'V'], dconv: true, dam: true }, conv: { heads, kernel }, ffn: { stack, inner: ratio * width } })),
  });
}

export class Supernet {
  /** Supernet weights by name, plus any extra trained with it (distillation projections, `kd.*`). */
  readonly vars = new Map<string, tf.Variable>();
  readonly shape: ReturnType<typeof supernetShape>;
  private readonly modelCfg: ModelConfig;
  /** Names of the supernet's own weights (the rest of `vars` are extras such as `kd.*`). */
  private readonly layoutNames = new Set<string>();

  private constructor(readonly cfg: SupernetConfig, values: (w: WeightSpec) => tf.Tensor) {
    this.shape = supernetShape(cfg);
    this.modelCfg = { vocabSize: cfg.vocabSize, maxLen: cfg.maxLen, numClasses: cfg.numClasses, initStd: cfg.initStd };
    for (const w of layout(cfg)) {
      this.layoutNames.add(w.name);
      this.addVar(w.name, values(w));
    }
  }

  /** A freshly initialised supernet (seeded). */
  static create(cfg: SupernetConfig, rng: Rng): Supernet {
    const std = cfg.initStd ?? 0.02;
    return new Supernet(cfg, (w) => tf.tensor(initialValues(w, rng, std), w.shape));
  }

  /** Takes ownership of `t`. */
  addVar(name: string, t: tf.Tensor): tf.Variable {
    if (this.vars.has(name)) throw new Error(`supernet: weight '${name}' exists`);
    const v = tf.variable(t, true);
    t.dispose();
    this.vars.set(name, v);
    return v;
  }

  /** Why a genome does not fit in this supernet (empty when it does). */
  covers(g: BackboneGenome): string[] {
    const s = this.shape;
    const problems: string[] = [];
    if (g.hidden > s.width) problems.push(`hidden ${g.hidden} > the supernet's widest ${s.width}`);
    if (g.layers.length > s.depth) problems.push(`${g.layers.length} layers > the supernet's ${s.depth}`);
    if (g.heads > s.heads) problems.push(`${g.heads} heads > the supernet's ${s.heads}`);
    if (g.embed && !this.vars.has('emb.proj.w')) problems.push(`a factorised embedding (${g.embed}) in a supernet whose space has none`);
    g.layers.forEach((l, i) => {
      if (l.ffn.stack > s.stack) problems.push(`layer ${i}: FFN stack ${l.ffn.stack} > ${s.stack}`);
      if (l.ffn.ratio > s.ratio) problems.push(`layer ${i}: FFN ratio ${l.ffn.ratio} > ${s.ratio}`);
      if (l.mixer.type === 'conv' && l.mixer.kernel > s.kernel) problems.push(`layer ${i}: kernel ${l.mixer.kernel} > ${s.kernel}`);
    });
    return problems;
  }

  private check(g: BackboneGenome): void {
    const p = this.covers(g);
    if (p.length) throw new OpnasError(`candidate does not fit the supernet: ${p.join('; ')}`);
  }

  /**
   * A candidate's weight `name` of `shape` as a slice of the supernet's: leading rows/columns,
   * except the conv input projection (its two GLU halves are sliced apart) and the conv kernel
   * (the first heads, the centre taps).
   */
  slice(name: string, shape: number[]): tf.Tensor {
    const v = this.vars.get(name);
    if (!v) throw new Error(`supernet: no weight '${name}'`);
    const D = this.shape.width;
    if (name.endsWith('.conv.in.w') || name.endsWith('.conv.in.b')) {
      const d = shape[shape.length - 1] / 2;
      if (name.endsWith('.w')) return tf.concat([tf.slice(v, [0, 0], [shape[0], d]), tf.slice(v, [0, D], [shape[0], d])], 1);
      return tf.concat([tf.slice(v, [0], [d]), tf.slice(v, [D], [d])], 0);
    }
    if (name.endsWith('.conv.k')) return tf.slice(v, [0, (v.shape[1]! - shape[1]) / 2], shape);
    if (shape.every((s, i) => s === v.shape[i])) return v;
    return tf.slice(v, shape.map(() => 0), shape);
  }

  /** The candidate as a Model whose weights are live slices of this supernet (gradients reach it). */
  view(g: BackboneGenome): Model {
    this.check(g);
    return new Model(g, this.modelCfg, new Rng(0), { mode: 'shared', get: (n, s) => this.slice(n, s) });
  }

  /** The candidate as a Model that owns copies of its slices: training it leaves the supernet as it was. */
  extract(g: BackboneGenome): Model {
    this.check(g);
    return new Model(g, this.modelCfg, new Rng(0), { mode: 'copy', get: (n, s) => tf.tidy(() => tf.clone(this.slice(n, s))) });
  }

  paramCount(): number {
    let n = 0;
    for (const [name, v] of this.vars) if (this.layoutNames.has(name)) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }

  // ---------------------------------------------------------------- checkpoints

  /**
   * Write the checkpoint to `dir` (created if needed): the weights (checkpoint.ts: `weights.bin` +
   * `weights.json`), then `supernet.json` (config, the extra weights' shapes, `meta`). The manifest
   * is written last, by rename, so a folder with one is complete.
   */
  async save(dir: string, meta: Record<string, unknown> = {}): Promise<void> {
    saveWeights(this.vars, dir);
    const extras = [...this.vars].filter(([n]) => !this.layoutNames.has(n)).map(([n, v]) => ({ name: n, shape: [...v.shape] }));
    const manifest = { format: SUPERNET_FORMAT, version: 1, config: canonicalConfig(this.cfg), extras, meta };
    writeFileSync(join(dir, `${SUPERNET_MANIFEST}.tmp`), JSON.stringify(manifest, null, 1));
    renameSync(join(dir, `${SUPERNET_MANIFEST}.tmp`), join(dir, SUPERNET_MANIFEST));
  }

  /**
   * Load a checkpoint written by `save`. With `expect`, a checkpoint built for another space,
   * vocabulary, sequence length or class count is refused with every difference named; with
   * `tokenizer` (tokenizerHash), one trained with another tokenizer.
   */
  static async load(dir: string, expect?: SupernetConfig, tokenizer?: string): Promise<{ supernet: Supernet; meta: Record<string, unknown> }> {
    const fail = (why: string): never => {
      throw new OpnasError(`supernet checkpoint ${dir}: ${why}`);
    };
    const file = join(dir, SUPERNET_MANIFEST);
    if (!existsSync(file)) fail(`no ${SUPERNET_MANIFEST} (not a supernet checkpoint, or its save did not finish)`);
    let m: { format?: unknown; version?: unknown; config?: SupernetConfig; extras?: { name: string; shape: number[] }[]; meta?: Record<string, unknown> };
    try {
      m = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      return fail(`${SUPERNET_MANIFEST} is not valid JSON (${(e as Error).message})`);
    }
    if (m.format !== SUPERNET_FORMAT) fail(`${SUPERNET_MANIFEST} has format ${JSON.stringify(m.format)}, expected '${SUPERNET_FORMAT}'`);
    if (m.version !== 1) fail(`version ${JSON.stringify(m.version)} is not supported (this opnas reads 1)`);
    const cfg = m.config;
    if (!cfg || typeof cfg !== 'object' || !cfg.macro) return fail(`${SUPERNET_MANIFEST} has no config`);
    if (expect) {
      const diff = configDiff(canonicalConfig(cfg), canonicalConfig(expect));
      if (diff.length) fail(`it was built for another space or task (${diff.join('; ')}); train a new supernet for this config`);
    }
    const meta = m.meta ?? {};
    if (tokenizer !== undefined && meta.tokenizer !== tokenizer) fail('it was trained with another tokenizer (another task or vocabulary size)');
    const sn = new Supernet(cfg, (w) => tf.zeros(w.shape));
    try {
      for (const x of m.extras ?? []) sn.addVar(x.name, tf.zeros(x.shape));
      // checkpoints from before the learnt attention mask have no '.att.dam' weights: those stay 0 (no mask)
      const saved = savedNames(dir);
      const optional = (name: string) => name.endsWith('.att.dam') && !saved.has(name);
      const need = [...sn.vars].reduce((a, [name, v]) => a + (optional(name) ? 0 : v.size), 0);
      const bin = join(dir, 'weights.bin');
      const have = existsSync(bin) ? statSync(bin).size / 4 : 0;
      if (have !== need) fail(`weights.bin holds ${have} values, its ${SUPERNET_MANIFEST} needs ${need} (an interrupted save or a mixed-up folder)`);
      loadWeights(sn.vars, dir, optional);
    } catch (e) {
      sn.dispose();
      if (e instanceof OpnasError && e.message.startsWith('supernet checkpoint')) throw e;
      fail((e as Error).message.replace(`${dir}: `, ''));
    }
    return { supernet: sn, meta };
  }
}

/** A tokenizer's identity: supernets and teachers are only valid for the vocabulary they were trained with. */
export function tokenizerHash(t: TokenizerJSON): string {
  return hashId(...t.vocab);
}

export const SUPERNET_FORMAT = 'opnas-supernet';
export const SUPERNET_MANIFEST = 'supernet.json';

/** The config as it is stored and compared: only the fields that change the weights' shapes or meaning. */
function canonicalConfig(c: SupernetConfig): SupernetConfig {
  return {
    macro: {
      layers: [...c.macro.layers] as [number, number],
      hidden: [...c.macro.hidden].sort((a, b) => a - b),
      heads: [...c.macro.heads].sort((a, b) => a - b),
      convProbability: c.macro.convProbability,
      // only where set, so checkpoints of spaces without these choices keep their manifests
      ...(c.macro.embed?.length ? { embed: [...c.macro.embed].sort((a, b) => a - b) } : {}),
    },
    vocabSize: c.vocabSize,
    maxLen: c.maxLen,
    numClasses: c.numClasses,
    initStd: c.initStd ?? 0.02,
  };
}

function configDiff(got: SupernetConfig, want: SupernetConfig): string[] {
  const out: string[] = [];
  const cmp = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${what} ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`);
  };
  cmp('layers', got.macro.layers, want.macro.layers);
  cmp('hidden', got.macro.hidden, want.macro.hidden);
  cmp('heads', got.macro.heads, want.macro.heads);
  cmp('factorised embedding widths', got.macro.embed ?? [], want.macro.embed ?? []);
  cmp('vocabulary', got.vocabSize, want.vocabSize);
  cmp('maxLen', got.maxLen, want.maxLen);
  cmp('classes', got.numClasses, want.numClasses);
  return out;
}

// ---------------------------------------------------------------- training

export interface SupernetTrainConfig {
  /** Optimizer steps; each trains one sampled candidate path. */
  steps: number;
  batchSize: number;
  /** Peak learning rate (AdamW, linear warm-up and decay). */
  lr: number;
  /** Fraction of the steps spent warming up. */
  warmup: number;
  weightDecay: number;
  clipNorm: number;
  /**
   * Also train the largest textbook path (standard attention and FFN at the widest width and full
   * depth) every step, BigNAS's sandwich rule with the space's standard point as the largest child.
   * Without it, paths drawn uniformly disagree so much about the shared Q/K/V roles that the
   * embeddings and classifier never leave chance on SST-2 (measured: loss 0.69 after 1,200 steps).
   */
  sandwich: boolean;
  seed: number;
}

export const DEFAULT_SUPERNET_TRAIN: SupernetTrainConfig = { steps: 800, batchSize: 32, lr: 1e-3, warmup: 0.06, weightDecay: 0.01, clipNorm: 1, sandwich: true, seed: 0 };

/** The sandwich rule's largest child: the textbook BERT layer at the supernet's widest width and full depth. */
export function largestStandard(cfg: SupernetConfig): BackboneGenome {
  const { width, depth } = supernetShape(cfg);
  const heads = headsFor(width, cfg.macro);
  return bertBaseline(depth, width, heads.length ? Math.max(...heads) : 1);
}

/**
 * Which paths the supernet trains: drawn uniformly from the space, or from a population (a search's
 * current candidates, a fidelity run's sample).
 */
export type PathSampling = 'uniform' | 'population';

/** A training objective on one candidate path: the loss, given the path's view and the batch. */
export type PathObjective = (path: Model, b: Batch, t: { ids: tf.Tensor2D; mask: tf.Tensor2D; labels: tf.Tensor1D }) => tf.Scalar;

export const crossEntropy: PathObjective = (path, _b, t) =>
  tf.losses.softmaxCrossEntropy(tf.oneHot(t.labels, path.cfg.numClasses), path.forward(t.ids, t.mask).logits) as tf.Scalar;

export interface SupernetTrainHooks {
  onStep?: (info: StepInfo) => void;
  signal?: AbortSignal;
  /** Draws the path of each step (default: uniformly from the supernet's space). */
  samplePath?: (rng: Rng) => BackboneGenome;
  /** The loss of one path (default: cross-entropy on the labels; distill.ts passes distillation). */
  objective?: PathObjective;
  /** Extra weights trained with every path, by name in `supernet.vars` (distillation projections). */
  extra?: (path: Model) => string[];
  logEvery?: number;
}

/**
 * Train the supernet, one sampled candidate path per step (plus the largest standard path with the
 * sandwich rule; the loss is then their sum). Returns the mean loss of the last logged window.
 */
export async function trainSupernet(sn: Supernet, task: EncodedTask, config: Partial<SupernetTrainConfig> = {}, hooks: SupernetTrainHooks = {}): Promise<{ loss: number; seconds: number }> {
  const cfg = { ...DEFAULT_SUPERNET_TRAIN, ...config };
  const t0 = performance.now();
  const rng = new Rng(cfg.seed);
  const space = backboneSpace(sn.cfg.macro);
  const sample = hooks.samplePath ?? ((r: Rng) => space.sample(r));
  const objective = hooks.objective ?? crossEntropy;
  const anchor = cfg.sandwich ? largestStandard(sn.cfg) : undefined;
  const opt = new AdamW(sn.vars, { ...DEFAULT_ADAMW, weightDecay: cfg.weightDecay, clipNorm: cfg.clipNorm });
  const batches = new BatchIterator(task.train.seqs, task.train.labels, { batchSize: cfg.batchSize, maxLen: sn.cfg.maxLen }, rng.fork().next());
  const pathRng = rng.fork();
  const logEvery = hooks.logEvery ?? 20;
  let lastLoss = NaN;
  const losses: tf.Scalar[] = [];
  let windowTokens = 0;
  let windowStart = performance.now();
  try {
    for (let step = 0; step < cfg.steps; step++) {
      if (hooks.signal?.aborted) throw new Error('aborted');
      const paths = [sn.view(sample(pathRng)), ...(anchor ? [sn.view(anchor)] : [])];
      const b = batches.next();
      windowTokens += b.mask.reduce((a, x) => a + x, 0);
      const names = [...new Set(paths.flatMap((p) => [...p.shapes.keys(), ...(hooks.extra?.(p) ?? [])]))];
      const loss = (t: ReturnType<typeof batchTensors>) => tf.addN(paths.map((p) => objective(p, b, t))) as tf.Scalar;
      losses.push(pathStep(sn, opt, names, b, loss, learningRate(step, cfg.steps, cfg.lr, cfg.warmup)));
      if ((step + 1) % logEvery === 0 || step + 1 === cfg.steps) {
        const vals = await Promise.all(losses.map((l) => l.data()));
        tf.dispose(losses.splice(0));
        const loss = vals.reduce((a, v) => a + v[0], 0) / vals.length;
        lastLoss = loss;
        const now = performance.now();
        hooks.onStep?.({ step: step + 1, steps: cfg.steps, loss, tokensPerSecond: (windowTokens / (now - windowStart)) * 1000 });
        windowTokens = 0;
        windowStart = now;
        await new Promise((r) => setImmediate(r)); // let signals, timers and IPC get a turn
      }
    }
  } finally {
    tf.dispose(losses);
    opt.dispose();
  }
  return { loss: lastLoss, seconds: (performance.now() - t0) / 1000 };
}

function batchTensors(b: Batch) {
  return {
    ids: tf.tensor2d(b.ids, [b.batchSize, b.seqLen], 'int32'),
    mask: tf.tensor2d(b.mask, [b.batchSize, b.seqLen]),
    labels: tf.tensor1d(b.labels, 'int32'),
  };
}

/** One AdamW step on the named supernet weights; returns the loss tensor. */
function pathStep(sn: Supernet, opt: AdamW, names: string[], b: Batch, loss: (t: ReturnType<typeof batchTensors>) => tf.Scalar, lr: number): tf.Scalar {
  return tf.tidy(() => {
    const t = batchTensors(b);
    const vars = names.map((n) => sn.vars.get(n)!);
    const { value, grads } = tf.variableGrads(() => loss(t), vars);
    const byName: Record<string, tf.Tensor> = {};
    names.forEach((n, i) => {
      const g = grads[vars[i].name];
      if (g) byName[n] = g;
    });
    opt.apply(byName, lr);
    return value;
  });
}

/**
 * The supernet in `dir` when it holds one built for this config and tokenizer; otherwise a new one
 * (seeded), warmed up when asked, trained, and saved there. Training is not resumed half-way: it is
 * deterministic, so a run killed while training retrains to the same weights.
 */
export async function ensureSupernet(
  dir: string | undefined,
  cfg: SupernetConfig,
  task: EncodedTask,
  o: {
    train: Partial<SupernetTrainConfig>;
    /** Identifies the tokenizer (the checkpoint is refused for another). */
    tokenizer: string;
    /** A warm-up run before training (distillation); its steps count toward `train.steps`. */
    warmup?: (sn: Supernet, hooks: SupernetTrainHooks) => Promise<{ steps: number; seconds: number }>;
  } & Pick<SupernetTrainHooks, 'samplePath' | 'signal'> & { onStep?: (phase: string, s: StepInfo) => void; log?: (m: string) => void },
): Promise<{ supernet: Supernet; meta: Record<string, unknown>; trained: boolean }> {
  if (dir && existsSync(join(dir, SUPERNET_MANIFEST))) {
    const { supernet, meta } = await Supernet.load(dir, cfg, o.tokenizer);
    o.log?.(`supernet: loaded ${dir} (${meta.steps} steps${meta.warmupSteps ? `, ${meta.warmupSteps} of them distillation warm-up` : ''})`);
    return { supernet, meta, trained: false };
  }
  const train = { ...DEFAULT_SUPERNET_TRAIN, ...o.train };
  const supernet = Supernet.create(cfg, new Rng(`supernet:${train.seed}`));
  const hooks = (phase: string): SupernetTrainHooks => ({ samplePath: o.samplePath, signal: o.signal, onStep: (s) => o.onStep?.(phase, s) });
  const meta: Record<string, unknown> = { tokenizer: o.tokenizer, task: task.name, steps: train.steps, train, warmupSteps: 0 };
  o.log?.(`supernet: training ${train.steps} steps${o.warmup ? ', distillation warm-up first' : ''}${dir ? ` (saved in ${dir})` : ''}`);
  try {
    const t0 = performance.now();
    if (o.warmup) {
      const w = await o.warmup(supernet, hooks('warm-up'));
      Object.assign(meta, { warmupSteps: w.steps, warmupSeconds: w.seconds });
    }
    const rest = train.steps - (meta.warmupSteps as number);
    if (rest > 0) await trainSupernet(supernet, task, { ...train, steps: rest }, hooks('supernet'));
    meta.seconds = (performance.now() - t0) / 1000;
    if (dir) await supernet.save(dir, meta);
  } catch (e) {
    supernet.dispose();
    throw e;
  }
  return { supernet, meta, trained: true };
}

// ---------------------------------------------------------------- scoring

export interface SupernetScoreConfig {
  /** Fine-tune steps on a copy of the inherited weights before scoring (0: score the slice as inherited). */
  fineTuneSteps: number;
  fineTuneLr: number;
  batchSize: number;
  /** Dev examples scored: a fixed seeded subset of this many (0: the whole split). */
  devSize: number;
}

export const DEFAULT_SUPERNET_SCORE: SupernetScoreConfig = { fineTuneSteps: 0, fineTuneLr: 3e-4, batchSize: 32, devSize: 1000 };

/** The dev examples a supernet scores on: the same seeded subset for every candidate. */
export function devSubset(split: EncodedSplit, size: number, seed = 0): EncodedSplit {
  if (size <= 0 || size >= split.seqs.length) return split;
  const idx = new Rng(`dev-subset:${seed}`).shuffle(Array.from({ length: split.seqs.length }, (_, i) => i)).slice(0, size).sort((a, b) => a - b);
  return { seqs: idx.map((i) => split.seqs[i]), labels: idx.map((i) => split.labels[i]) };
}

/**
 * Score a candidate with the supernet: inherit its slice, fine-tune a copy for a few steps when
 * asked (the supernet is not changed), and return the dev metric.
 */
export async function scoreWithSupernet(sn: Supernet, g: BackboneGenome, task: EncodedTask, dev: EncodedSplit, config: Partial<SupernetScoreConfig> = {}, seed = 0): Promise<number> {
  const cfg = { ...DEFAULT_SUPERNET_SCORE, ...config };
  if (cfg.fineTuneSteps <= 0) {
    const view = sn.view(g);
    return scoreSplit(view, dev, task, 64).score;
  }
  const model = sn.extract(g);
  const opt = new AdamW(model.params, DEFAULT_ADAMW);
  try {
    const batches = new BatchIterator(task.train.seqs, task.train.labels, { batchSize: cfg.batchSize, maxLen: sn.cfg.maxLen }, seed);
    for (let s = 0; s < cfg.fineTuneSteps; s++) trainStep(model, opt, batches.next(), learningRate(s, cfg.fineTuneSteps, cfg.fineTuneLr, 0)).dispose();
    return scoreSplit(model, dev, task, 64).score;
  } finally {
    opt.dispose();
    model.dispose();
  }
}

// ---------------------------------------------------------------- the evaluator

/** Everything a supernet evaluator needs, as plain JSON: worker processes build the same one from it. */
export interface SupernetEvaluatorConfig {
  task: string | TaskSpec;
  /** Seed of the task's dev split, where one is drawn. */
  taskSeed: number;
  tokenizer: TokenizerJSON;
  macro: MacroRanges;
  maxLen: number;
  /** The trained supernet's checkpoint folder (in the run folder); read only. */
  checkpoint: string;
  score: Partial<SupernetScoreConfig>;
  backend?: BackendChoice;
  /** Where the `latency` score is measured (default tfjs: the candidate's slice of the supernet). */
  latencyRuntime?: LatencyRuntime;
}

export const SUPERNET_SCORES = ['dev', 'latency', 'params', 'flops'];

/** The task an evaluator config names, encoded with the config's tokenizer (the backend initialised first). */
export async function encodeEvaluatorTask(c: Pick<SupernetEvaluatorConfig, 'task' | 'taskSeed' | 'tokenizer' | 'maxLen' | 'backend'>, log?: (m: string) => void): Promise<EncodedTask> {
  await initBackend(c.backend, { log });
  const data = loadTask(c.task, { seed: c.taskSeed });
  return encodeTask(data, { vocabSize: c.tokenizer.vocab.length, maxLen: c.maxLen, tokenizer: Tokenizer.fromJSON(c.tokenizer) });
}

/** The supernet shape an evaluator config's space and task call for. */
export function supernetConfigFor(c: Pick<SupernetEvaluatorConfig, 'macro' | 'tokenizer' | 'maxLen'>, task: EncodedTask): SupernetConfig {
  return { macro: c.macro, vocabSize: c.tokenizer.vocab.length, maxLen: c.maxLen, numClasses: task.numClasses };
}

/**
 * Scores candidates with a trained supernet: inherit the slice, fine-tune a copy for a few steps
 * when configured, read the dev metric on a fixed subset. The supernet itself is never changed, so
 * scores depend only on the checkpoint, the candidate and its seed (a resumed search gets the same).
 */
export class SupernetEvaluator implements Evaluator<BackboneGenome> {
  readonly name = 'supernet';
  readonly scoreNames = SUPERNET_SCORES;

  private constructor(
    public supernet: Supernet,
    readonly task: EncodedTask,
    private readonly dev: EncodedSplit,
    private readonly cfg: SupernetEvaluatorConfig,
    /** The checkpoint `supernet` was loaded from. */
    public checkpoint: string,
  ) {}

  static async create(cfg: SupernetEvaluatorConfig, log?: (m: string) => void): Promise<SupernetEvaluator> {
    const task = await encodeEvaluatorTask(cfg, log);
    const { supernet } = await Supernet.load(cfg.checkpoint, supernetConfigFor(cfg, task), tokenizerHash(cfg.tokenizer));
    const dev = devSubset(task.dev, cfg.score.devSize ?? DEFAULT_SUPERNET_SCORE.devSize, cfg.taskSeed);
    return new SupernetEvaluator(supernet, task, dev, cfg, cfg.checkpoint);
  }

  /** Switch to another checkpoint of the same supernet (a search that trains it batch by batch). */
  async reload(checkpoint: string): Promise<void> {
    if (checkpoint === this.checkpoint) return;
    const { supernet } = await Supernet.load(checkpoint, this.supernet.cfg, tokenizerHash(this.cfg.tokenizer));
    this.supernet.dispose();
    this.supernet = supernet;
    this.checkpoint = checkpoint;
  }

  async score(c: Candidate<BackboneGenome>, ctx: EvalContext): Promise<EvalResult> {
    const t0 = performance.now();
    if (ctx.signal?.aborted) throw new Error('aborted');
    const dev = await scoreWithSupernet(this.supernet, c.genome, this.task, this.dev, this.cfg.score, ctx.seed);
    return { scores: { dev, latency: await this.latency(c) }, seconds: (performance.now() - t0) / 1000 };
  }

  /** Forward latency of one example through the candidate's slice, or its ONNX graph (its speed does not depend on the weights). */
  async latency(c: Candidate<BackboneGenome>): Promise<number> {
    const shape = { vocabSize: this.cfg.tokenizer.vocab.length, maxLen: this.cfg.maxLen, numClasses: this.task.numClasses };
    return candidateLatency(this.cfg.latencyRuntime, c.genome, shape, () => measureLatency(this.supernet.view(c.genome), this.cfg.maxLen));
  }

  async close(): Promise<void> {
    this.supernet.dispose();
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../search/rng.js';
import { backboneSpace } from '../spaces/backbone.js';
import { CONV_KERNELS } from '../spaces/conv.js';
import { OpnasError } from '../spaces/errors.js';
import { FFN_MAX_STACK, FFN_RATIOS } from '../spaces/ffn-tree.js';
import type { MacroRanges } from '../spaces/macro.js';
import type { BackboneGenome } from '../spaces/types.js';
import { Model, type ModelConfig } from './compile.js';
import { AdamW, DEFAULT_ADAMW, learningRate } from './optimizer.js';
import { BatchIterator, type Batch } from './tasks/batching.js';
import type { EncodedSplit, EncodedTask, StepInfo } from './train.js';
import { scoreSplit, trainStep } from './train.js';

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

type Init = 'normal' | 'zeros' | 'ones';

/** Every supernet weight at its widest: the same names compile.ts gives a candidate's weights. */
function layout(cfg: SupernetConfig): [string, number[], Init][] {
  const { width: D, depth, heads, ratio, stack, kernel } = supernetShape(cfg);
  const out: [string, number[], Init][] = [];
  const dense = (n: string, i: number, o: number) => out.push([`${n}.w`, [i, o], 'normal'], [`${n}.b`, [o], 'zeros']);
  const ln = (n: string) => out.push([`${n}.g`, [D], 'ones'], [`${n}.b`, [D], 'zeros']);
  out.push(['emb.tok', [cfg.vocabSize, D], 'normal'], ['emb.pos', [cfg.maxLen, D], 'normal']);
  ln('emb.ln');
  for (let i = 0; i < depth; i++) {
    for (const p of ['Q', 'K', 'V', 'O']) dense(`l${i}.att.${p}`, D, D);
    dense(`l${i}.conv.in`, D, 2 * D);
    out.push([`l${i}.conv.k`, [heads, kernel], 'normal']);
    dense(`l${i}.conv.out`, D, D);
    ln(`l${i}.mix.ln`);
    for (let s = 0; s < stack; s++) {
      dense(`l${i}.ffn${s}.L1`, D, ratio * D);
      dense(`l${i}.ffn${s}.L2`, ratio * D, D);
      ln(`l${i}.ffn${s}.ln`);
    }
  }
  dense('pool', D, D);
  dense('cls', D, cfg.numClasses);
  return out;
}

export class Supernet {
  /** Supernet weights by name, plus any extra trained with it (distillation projections, `kd.*`). */
  readonly vars = new Map<string, tf.Variable>();
  readonly shape: ReturnType<typeof supernetShape>;
  private readonly modelCfg: ModelConfig;

  private constructor(readonly cfg: SupernetConfig, values: (name: string, shape: number[], init: Init) => tf.Tensor) {
    this.shape = supernetShape(cfg);
    this.modelCfg = { vocabSize: cfg.vocabSize, maxLen: cfg.maxLen, numClasses: cfg.numClasses, initStd: cfg.initStd };
    for (const [name, shape, init] of layout(cfg)) this.addVar(name, values(name, shape, init));
  }

  /** A freshly initialised supernet (seeded). */
  static create(cfg: SupernetConfig, rng: Rng): Supernet {
    const std = cfg.initStd ?? 0.02;
    return new Supernet(cfg, (_, shape, init) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (init === 'ones') data.fill(1);
      else if (init === 'normal') for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
      return tf.tensor(data, shape);
    });
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
    for (const v of this.vars.values()) if (!v.name.startsWith('kd.')) n += v.size;
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }

  // ---------------------------------------------------------------- checkpoints

  /**
   * Write the weights to `dir` (created if needed): `weights.bin` (float32, little-endian, in the
   * manifest's order) then `manifest.json` (config, tensor index, sha256 of the weights, `meta`).
   * Each file is written to a temporary name and renamed, so a reader never sees a half file and
   * a weights file without its manifest is detected by the hash.
   */
  async save(dir: string, meta: Record<string, unknown> = {}): Promise<void> {
    await saveTensors(dir, SUPERNET_FORMAT, this.vars, { config: canonicalConfig(this.cfg), ...meta });
  }

  /**
   * Load a checkpoint written by `save`. With `expect`, a checkpoint built for another space,
   * vocabulary, sequence length or class count is refused with every difference named.
   */
  static async load(dir: string, expect?: SupernetConfig): Promise<{ supernet: Supernet; meta: Record<string, unknown> }> {
    const { meta, tensors } = await loadTensors(dir, SUPERNET_FORMAT);
    const cfg = meta.config as SupernetConfig;
    const fail = (why: string): never => {
      tf.dispose([...tensors.values()]);
      throw new OpnasError(`supernet checkpoint ${dir}: ${why}`);
    };
    if (!cfg || typeof cfg !== 'object' || !cfg.macro) fail('its manifest has no config');
    if (expect) {
      const diff = configDiff(canonicalConfig(cfg), canonicalConfig(expect));
      if (diff.length) fail(`it was built for another space or task (${diff.join('; ')}); train a new supernet for this config`);
    }
    const missing = layout(cfg).filter(([n, s]) => !tensors.has(n) || !sameShape(tensors.get(n)!.shape, s));
    if (missing.length) fail(`weights missing or misshapen: ${missing.slice(0, 5).map(([n]) => n).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    const sn = new Supernet(cfg, (name) => {
      const t = tensors.get(name)!;
      tensors.delete(name);
      return t;
    });
    for (const [name, t] of tensors) sn.addVar(name, t); // extras (distillation projections)
    const { config: _, ...rest } = meta;
    return { supernet: sn, meta: rest };
  }
}

export const SUPERNET_FORMAT = 'opnas-supernet';

/** The config as it is stored and compared: only the fields that change the weights' shapes or meaning. */
function canonicalConfig(c: SupernetConfig): SupernetConfig {
  return {
    macro: { layers: [...c.macro.layers] as [number, number], hidden: [...c.macro.hidden].sort((a, b) => a - b), heads: [...c.macro.heads].sort((a, b) => a - b), convProbability: c.macro.convProbability },
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
  cmp('vocabulary', got.vocabSize, want.vocabSize);
  cmp('maxLen', got.maxLen, want.maxLen);
  cmp('classes', got.numClasses, want.numClasses);
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------- tensor folders

interface TensorIndex {
  name: string;
  shape: number[];
  /** Offset in float32 elements. */
  offset: number;
}

/** A folder of named float32 tensors: `weights.bin` + `manifest.json` (format, version, index, sha256, meta). */
export async function saveTensors(dir: string, format: string, tensors: Map<string, tf.Tensor>, meta: Record<string, unknown>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const index: TensorIndex[] = [];
  let total = 0;
  for (const [name, t] of tensors) {
    index.push({ name, shape: [...t.shape], offset: total });
    total += t.size;
  }
  const all = new Float32Array(total);
  for (const [i, t] of [...tensors.values()].entries()) all.set(await t.data<'float32'>(), index[i].offset);
  const bytes = Buffer.from(all.buffer, all.byteOffset, all.byteLength);
  const manifest = { format, version: 1, sha256: createHash('sha256').update(bytes).digest('hex'), elements: total, tensors: index, meta };
  const write = (file: string, data: string | Buffer) => {
    const tmp = join(dir, `.${file}.${process.pid}.tmp`);
    writeFileSync(tmp, data);
    renameSync(tmp, join(dir, file));
  };
  write('weights.bin', bytes);
  write('manifest.json', JSON.stringify(manifest, null, 1));
}

export async function loadTensors(dir: string, format: string): Promise<{ meta: Record<string, unknown>; tensors: Map<string, tf.Tensor> }> {
  const mf = join(dir, 'manifest.json');
  if (!existsSync(mf)) throw new OpnasError(`${dir}: no manifest.json (not a saved ${format} folder)`);
  let m: { format?: unknown; version?: unknown; sha256?: unknown; elements?: unknown; tensors?: TensorIndex[]; meta?: Record<string, unknown> };
  try {
    m = JSON.parse(readFileSync(mf, 'utf8'));
  } catch (e) {
    throw new OpnasError(`${mf}: not valid JSON (${(e as Error).message})`);
  }
  if (m.format !== format) throw new OpnasError(`${dir}: format ${JSON.stringify(m.format)}, expected '${format}'`);
  if (m.version !== 1) throw new OpnasError(`${dir}: version ${JSON.stringify(m.version)} is not supported (this opnas reads 1)`);
  const wf = join(dir, 'weights.bin');
  if (!existsSync(wf)) throw new OpnasError(`${dir}: weights.bin is missing`);
  const buf = readFileSync(wf);
  if (buf.byteLength !== 4 * Number(m.elements) || createHash('sha256').update(buf).digest('hex') !== m.sha256)
    throw new OpnasError(`${dir}: weights.bin does not match its manifest (an interrupted save or a mixed-up folder)`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const tensors = new Map<string, tf.Tensor>();
  for (const t of m.tensors ?? []) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    tensors.set(t.name, tf.tensor(all.subarray(t.offset, t.offset + n), t.shape));
  }
  return { meta: m.meta ?? {}, tensors };
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
  seed: number;
}

export const DEFAULT_SUPERNET_TRAIN: SupernetTrainConfig = { steps: 2000, batchSize: 32, lr: 1e-3, warmup: 0.06, weightDecay: 0.01, clipNorm: 1, seed: 0 };

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

/** Train the supernet, one sampled candidate path per step. Returns the mean loss of the last 10% of steps. */
export async function trainSupernet(sn: Supernet, task: EncodedTask, config: Partial<SupernetTrainConfig> = {}, hooks: SupernetTrainHooks = {}): Promise<{ loss: number; seconds: number }> {
  const cfg = { ...DEFAULT_SUPERNET_TRAIN, ...config };
  const t0 = performance.now();
  const rng = new Rng(cfg.seed);
  const space = backboneSpace(sn.cfg.macro);
  const sample = hooks.samplePath ?? ((r: Rng) => space.sample(r));
  const objective = hooks.objective ?? crossEntropy;
  const opt = new AdamW(sn.vars, { ...DEFAULT_ADAMW, weightDecay: cfg.weightDecay, clipNorm: cfg.clipNorm });
  const batches = new BatchIterator(task.train.seqs, task.train.labels, { batchSize: cfg.batchSize, maxLen: sn.cfg.maxLen }, rng.fork().next());
  const pathRng = rng.fork();
  const logEvery = hooks.logEvery ?? 20;
  const tail: number[] = [];
  const losses: tf.Scalar[] = [];
  let windowTokens = 0;
  let windowStart = performance.now();
  try {
    for (let step = 0; step < cfg.steps; step++) {
      if (hooks.signal?.aborted) throw new Error('aborted');
      const path = sn.view(sample(pathRng));
      const b = batches.next();
      windowTokens += b.mask.reduce((a, x) => a + x, 0);
      const names = [...path.shapes.keys(), ...(hooks.extra?.(path) ?? [])];
      losses.push(pathStep(sn, opt, names, b, (t) => objective(path, b, t), learningRate(step, cfg.steps, cfg.lr, cfg.warmup)));
      if ((step + 1) % logEvery === 0 || step + 1 === cfg.steps) {
        const vals = await Promise.all(losses.map((l) => l.data()));
        tf.dispose(losses.splice(0));
        const loss = vals.reduce((a, v) => a + v[0], 0) / vals.length;
        if (step >= cfg.steps * 0.9) tail.push(loss);
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
  return { loss: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : NaN, seconds: (performance.now() - t0) / 1000 };
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

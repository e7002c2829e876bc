import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../spaces/base/rng.js';
import { analyse, DCONV_CENTRE, DCONV_WIDTH, hasDam, maskMatrix, parseMask } from '../spaces/attention-graph.js';
import { evalFfnTree } from '../spaces/ffn-tree.js';
import { ffnBinaryTf, ffnUnaryTf } from '../spaces/ffn-ops.js';
import { tanh } from '../spaces/tf-math.js';
import { ATTN_OPS, NEG_INF, type AttnTfCtx } from '../spaces/ops.js';
import type { AttentionGraph, BackboneGenome, FfnGenome } from '../spaces/types.js';

/**
 * Genome -> a tfjs BERT-style classifier. Post-LN encoder as in BERT:
 *   x = LN(tok[ids] (W_e) + pos)               embeddings (W_e: the factorised table's projection)
 *   per layer: x = LN(x + mixer(x))             attention graph or lightweight conv
 *              x = LN(x + ffn_k(x)), k = 1..stack
 *   logits = W_c tanh(W_p x[CLS])               pooler + classifier ([CLS], or the mean over tokens)
 * Weights live in one flat parameter store (name -> Variable), so a supernet or a checkpoint can
 * address them by name.
 */

export interface ModelConfig {
  /** Token vocabulary size (embedding rows). */
  vocabSize: number;
  /** Longest sequence the position table covers. */
  maxLen: number;
  numClasses: number;
  /** Std of the normal initialiser (BERT uses 0.02). */
  initStd?: number;
}

/**
 * Where a model's weights come from instead of its own seeded init. 'shared': every forward reads
 * each weight from `get` (a differentiable view of someone else's variable, e.g. a slice of a
 * supernet's), and the model owns no variables. 'copy': the model owns variables that start as
 * copies of `get`'s tensors (a candidate inherited from a supernet, then fine-tuned on its own);
 * those tensors are handed over, so `get` returns a fresh tensor for each call.
 */
export interface WeightSource {
  mode: 'shared' | 'copy';
  get: (name: string, shape: number[]) => tf.Tensor;
}

/** Training-time dropout of a [N, d] activation (the trainer draws its seeds; see evaluators/train.ts). */
export type Dropout = (x: tf.Tensor2D) => tf.Tensor2D;

export interface ForwardOut {
  logits: tf.Tensor2D;
  /** Hidden state after each layer, [B, T, d] (for distillation). */
  hidden: tf.Tensor3D[];
  /**
   * With `forward(…, { maps: true })`: per layer, its attention map averaged over heads, [B, T, T]
   * (`attentionMapNode` says which node that is), or undefined for a conv layer or a graph whose
   * map is not a row distribution (for distillation: only maps of one kind are compared).
   */
  maps?: (tf.Tensor3D | undefined)[];
}

/**
 * The node of an attention graph that serves as its attention map: the last [T, T] node that feeds
 * the output, provided it is a softmax (a distribution over keys per query, like the textbook
 * layer's); -1 otherwise. Maps of other kinds (a cosine matrix, an unnormalised product) have no
 * counterpart in a standard teacher, so attention-map distillation skips them.
 */
export function attentionMapNode(g: AttentionGraph): number {
  const info = analyse(g).info;
  if (!info) return -1;
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const [r, c] = info.shapes[i];
    if (info.used[i] && r === 'T' && c === 'T') return g.nodes[i].op === 'softmax' ? i : -1;
  }
  return -1;
}

/** identity-tap: a depthwise filter [width, d] whose centre tap is 1 (plus the normal noise), so it starts as the identity. */
export type WeightInit = 'normal' | 'zeros' | 'ones' | 'identity-tap';

export interface WeightSpec {
  name: string;
  shape: number[];
  init: WeightInit;
}

/** One encoder layer as the layout sees it; a supernet layer holds both mixers at once. */
export interface LayerParts {
  attention?: { inputs: readonly ('Q' | 'K' | 'V')[]; dconv: boolean; dam?: boolean };
  conv?: { heads: number; kernel: number };
  ffn: { stack: number; inner: number };
}

export interface LayoutSizes {
  width: number;
  vocabSize: number;
  maxLen: number;
  numClasses: number;
  /** Width of a factorised token table, projected to `width` by `emb.proj`; absent: a full-width table. */
  embed?: number;
  layers: LayerParts[];
}

/**
 * Every weight's name, shape and initialiser, in the order the seeded initialiser draws them. The
 * one list of weight names: a candidate (`genomeLayout`) and the supernet (at its widest sizes)
 * both come from here, so a candidate's names are always a subset of the supernet's.
 */
export function weightLayout(s: LayoutSizes): WeightSpec[] {
  const d = s.width;
  const out: WeightSpec[] = [];
  const add = (name: string, shape: number[], init: WeightInit) => out.push({ name, shape, init });
  const dense = (n: string, i: number, o: number) => (add(`${n}.w`, [i, o], 'normal'), add(`${n}.b`, [o], 'zeros'));
  const ln = (n: string) => (add(`${n}.g`, [d], 'ones'), add(`${n}.b`, [d], 'zeros'));
  add('emb.tok', [s.vocabSize, s.embed ?? d], 'normal');
  add('emb.pos', [s.maxLen, d], 'normal');
  if (s.embed) dense('emb.proj', s.embed, d);
  ln('emb.ln');
  s.layers.forEach((layer, i) => {
    const p = `l${i}`;
    if (layer.attention) {
      for (const input of layer.attention.inputs) dense(`${p}.att.${input}`, d, d);
      dense(`${p}.att.O`, d, d);
      if (layer.attention.dconv)
        for (const input of layer.attention.inputs) add(`${p}.att.${input}.dconv.w`, [DCONV_WIDTH, d], 'identity-tap'), add(`${p}.att.${input}.dconv.b`, [d], 'zeros');
      // SparseBERT's learnt mask: one logit per position pair, 0 = a uniform mask (no effect)
      if (layer.attention.dam) add(`${p}.att.dam`, [s.maxLen, s.maxLen], 'zeros');
    }
    if (layer.conv) {
      dense(`${p}.conv.in`, d, 2 * d);
      add(`${p}.conv.k`, [layer.conv.heads, layer.conv.kernel], 'normal');
      dense(`${p}.conv.out`, d, d);
    }
    ln(`${p}.mix.ln`);
    for (let k = 0; k < layer.ffn.stack; k++) {
      dense(`${p}.ffn${k}.L1`, d, layer.ffn.inner);
      dense(`${p}.ffn${k}.L2`, layer.ffn.inner, d);
      ln(`${p}.ffn${k}.ln`);
    }
  });
  dense('pool', d, d);
  dense('cls', d, s.numClasses);
  return out;
}

/** A candidate's weights: only the mixer each layer uses, the inputs its graph reads, its FFN stack. */
export function genomeLayout(g: BackboneGenome, cfg: ModelConfig): WeightSpec[] {
  return weightLayout({
    width: g.hidden,
    vocabSize: cfg.vocabSize,
    maxLen: cfg.maxLen,
    numClasses: cfg.numClasses,
    embed: g.embed,
    layers: g.layers.map((l) => ({
      ...(l.mixer.type === 'attention' ? { attention: { inputs: usedInputs(l.mixer.graph), dconv: Boolean(l.mixer.graph.dconv), dam: hasDam(l.mixer.graph) } } : { conv: { heads: g.heads, kernel: l.mixer.kernel } }),
      ffn: { stack: l.ffn.stack, inner: Math.round(l.ffn.ratio * g.hidden) },
    })),
  });
}

/** A weight's seeded initial values (normal draws scaled by `std`, in row-major order). */
export function initialValues({ shape, init }: WeightSpec, rng: Rng, std: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  if (init === 'ones') data.fill(1);
  else if (init === 'normal' || init === 'identity-tap') for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
  if (init === 'identity-tap') for (let c = 0; c < shape[1]; c++) data[DCONV_CENTRE * shape[1] + c] += 1;
  return data;
}

const LN_EPS = 1e-6;

export class Model {
  readonly params = new Map<string, tf.Variable>();
  /** Every weight's name and shape, also for a model whose weights are shared. */
  readonly shapes = new Map<string, number[]>();
  private readonly d: number;
  private readonly dh: number;

  constructor(
    readonly genome: BackboneGenome,
    readonly cfg: ModelConfig,
    rng: Rng,
    private readonly source?: WeightSource,
  ) {
    this.d = genome.hidden;
    this.dh = genome.hidden / genome.heads;
    const std = cfg.initStd ?? 0.02;
    for (const w of genomeLayout(genome, cfg)) this.add(w, () => initialValues(w, rng, std));
  }

  /** `init` is called only when the model owns a fresh weight, so a shared or copied model draws nothing from the seed. */
  private add({ name, shape }: WeightSpec, init: () => Float32Array): void {
    this.shapes.set(name, shape);
    if (this.source?.mode === 'shared') return;
    if (this.source?.mode === 'copy') {
      const t = this.source.get(name, shape);
      if (!sameShape(t.shape, shape)) throw new Error(`Model: weight source gave '${name}' shape [${t.shape}], expected [${shape}]`);
      this.params.set(name, tf.variable(t, true));
      t.dispose(); // ours to free (see WeightSource); the variable keeps its own reference
      return;
    }
    const initial = tf.tensor(init(), shape);
    this.params.set(name, tf.variable(initial, true)); // tfjs variable names are global; ours live in `params`
    initial.dispose(); // the variable holds its own reference to the data
  }

  private p(name: string): tf.Tensor {
    if (this.source?.mode === 'shared') {
      const shape = this.shapes.get(name);
      if (!shape) throw new Error(`Model: no parameter '${name}'`);
      return this.source.get(name, shape);
    }
    const v = this.params.get(name);
    if (!v) throw new Error(`Model: no parameter '${name}'`);
    return v;
  }

  /**
   * ids: int32 [B, T]; mask: float32 [B, T], 1 for real tokens. Call inside tf.tidy. `dropout`
   * (training only) is applied where BERT applies its hidden dropout: to the embeddings, to each
   * mixer's and each FFN's output before its residual sum, and to the pooled summary before the
   * classifier. Attention probabilities are not dropped: a searched graph need not have any.
   */
  forward(ids: tf.Tensor2D, mask: tf.Tensor2D, o: { maps?: boolean; dropout?: Dropout } = {}): ForwardOut {
    const [B, T] = ids.shape;
    if (T > this.cfg.maxLen) throw new Error(`Model: sequence length ${T} exceeds maxLen ${this.cfg.maxLen}`);
    const d = this.d;
    const rowMask = tf.reshape(mask, [B * T, 1]);
    const keyPad = tf.reshape(tf.mul(tf.sub(1, mask), NEG_INF), [B, 1, T]);

    const looked = tf.gather(this.p('emb.tok'), tf.reshape(ids, [B * T])) as tf.Tensor2D;
    const tok = tf.reshape(this.genome.embed ? this.dense(looked, 'emb.proj') : looked, [B, T, d]);
    const pos = tf.slice(this.p('emb.pos'), [0, 0], [T, d]);
    const drop = o.dropout ?? ((t: tf.Tensor2D) => t);
    let x = drop(this.layerNorm(tf.reshape(tf.add(tok, pos), [B * T, d]), 'emb.ln')); // [B*T, d]
    const hidden: tf.Tensor3D[] = [];
    const maps: (tf.Tensor3D | undefined)[] | undefined = o.maps ? [] : undefined;
    this.genome.layers.forEach((layer, i) => {
      const p = `l${i}`;
      let mixed: tf.Tensor2D;
      if (layer.mixer.type === 'attention') {
        const a = this.attention(x, layer.mixer.graph, p, { B, T, rowMask, keyPad }, o.maps === true);
        mixed = a.out;
        maps?.push(a.map);
      } else {
        mixed = this.conv(x, layer.mixer.kernel, p, { B, T, rowMask });
        maps?.push(undefined);
      }
      x = this.layerNorm(tf.add(x, drop(mixed)), `${p}.mix.ln`);
      for (let s = 0; s < layer.ffn.stack; s++) x = this.layerNorm(tf.add(x, drop(this.ffn(x, layer.ffn, `${p}.ffn${s}`))), `${p}.ffn${s}.ln`);
      hidden.push(tf.reshape(x, [B, T, d]));
    });
    const pooled = tanh(this.dense(this.readout(x, mask, B, T), 'pool'));
    return { logits: this.dense(drop(pooled as tf.Tensor2D), 'cls') as tf.Tensor2D, hidden, ...(maps ? { maps } : {}) };
  }

  /** The sequence summary the classifier reads: [CLS]'s state, or the mean or max over real tokens. */
  private readout(x: tf.Tensor2D, mask: tf.Tensor2D, B: number, T: number): tf.Tensor2D {
    const d = this.d;
    const pool = this.genome.pool ?? 'cls';
    if (pool === 'cls') return tf.reshape(tf.slice(tf.reshape(x, [B, T, d]), [0, 0, 0], [B, 1, d]), [B, d]);
    // padded positions pushed far below any real value
    if (pool === 'max') return tf.max(tf.add(tf.reshape(x, [B, T, d]), tf.reshape(tf.mul(tf.sub(1, mask), NEG_INF), [B, T, 1])), 1) as tf.Tensor2D;
    // [B, 1, T] x [B, T, d]: a plain batched matmul (no transpose flags, fast on wasm)
    const weights = tf.div(mask, tf.sum(mask, 1, true));
    return tf.reshape(tf.matMul(tf.reshape(weights, [B, 1, T]), tf.reshape(x, [B, T, d])), [B, d]);
  }

  private dense(x: tf.Tensor, name: string): tf.Tensor2D {
    return tf.add(tf.matMul(x as tf.Tensor2D, this.p(`${name}.w`) as tf.Tensor2D), this.p(`${name}.b`));
  }

  private layerNorm(x: tf.Tensor, name: string): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, -1, true);
    const norm = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS)));
    return tf.add(tf.mul(norm, this.p(`${name}.g`)), this.p(`${name}.b`));
  }

  /**
   * All heads at once: each projection [B*T, d] becomes [B*H, T, d_h] (one 4-D transpose, cheap on
   * every backend), so the graph's primitive ops run once over the batch of heads.
   */
  private attention(x: tf.Tensor2D, graph: AttentionGraph, p: string, s: { B: number; T: number; rowMask: tf.Tensor; keyPad: tf.Tensor }, wantMap: boolean): { out: tf.Tensor2D; map?: tf.Tensor3D } {
    const { B, T } = s;
    const { dh, d } = this;
    const H = this.genome.heads;
    const parsed = parseMask(graph.mask);
    const keep = typeof parsed === 'string' ? undefined : maskMatrix(parsed, T);
    const ctx: AttnTfCtx = {
      dh,
      keyPad: H === 1 ? s.keyPad : tf.reshape(tf.tile(s.keyPad, [1, H, 1]), [B * H, 1, T]),
      scoreMask: keep ? tf.tensor2d(Float32Array.from(keep, (k) => (k ? 0 : NEG_INF)), [T, T]) : typeof parsed !== 'string' && parsed.kind === 'dam' ? this.damMask(`${p}.att.dam`, T) : undefined,
    };
    const toHeads = (t: tf.Tensor) => (H === 1 ? tf.reshape(t, [B, T, dh]) : tf.reshape(tf.transpose(tf.reshape(t, [B, T, H, dh]), [0, 2, 1, 3]), [B * H, T, dh]));
    const project = (i: 'Q' | 'K' | 'V') => {
      const y = tf.mul(this.dense(x, `${p}.att.${i}`), s.rowMask) as tf.Tensor2D;
      return toHeads(graph.dconv ? tf.mul(this.dconv(y, `${p}.att.${i}.dconv`, B, T), s.rowMask) : y);
    };
    const projected = new Map(usedInputs(graph).map((i) => [i, project(i)]));
    const vals: tf.Tensor[] = [];
    for (const n of graph.nodes) {
      const ins = n.in.map((r) => (typeof r === 'number' ? vals[r] : projected.get(r)!));
      vals.push(ATTN_OPS.get(n.op)!.tf(ins, ctx));
    }
    const out = vals[vals.length - 1];
    const merged = H === 1 ? tf.reshape(out, [B * T, d]) : tf.reshape(tf.transpose(tf.reshape(out, [B, H, T, dh]), [0, 2, 1, 3]), [B * T, d]);
    const mapNode = wantMap ? attentionMapNode(graph) : -1;
    const map = mapNode < 0 ? undefined : (tf.mean(tf.reshape(vals[mapNode], [B, H, T, T]), 1) as tf.Tensor3D);
    return { out: this.dense(merged, `${p}.att.O`), map };
  }

  /** log(sigmoid(alpha[:T, :T])) of a learnt mask, as -softplus(-x) (see the logsigmoid op for why). */
  private damMask(name: string, T: number): tf.Tensor2D {
    const max = this.cfg.maxLen;
    const alpha = this.p(name);
    const a = T === max ? alpha : tf.slice(alpha, [0, 0], [T, T]);
    return tf.neg(tf.softplus(tf.neg(a))) as tf.Tensor2D;
  }

  /** Primer's depthwise convolution over the sequence: a width-3 filter per channel, zero-padded ends. */
  private dconv(y: tf.Tensor2D, name: string, B: number, T: number): tf.Tensor2D {
    const d = this.d;
    const filter = tf.reshape(this.p(`${name}.w`), [DCONV_WIDTH, 1, d, 1]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(tf.reshape(y, [B, T, 1, d]) as tf.Tensor4D, filter, 1, 'same');
    return tf.add(tf.reshape(out, [B * T, d]), this.p(`${name}.b`));
  }

  /** Lightweight conv (Wu et al. 2019): Linear d->2d, GLU, depthwise conv with one softmaxed kernel per head, Linear. */
  private conv(x: tf.Tensor2D, kernel: number, p: string, s: { B: number; T: number; rowMask: tf.Tensor }) {
    const { B, T } = s;
    const d = this.d;
    const heads = this.genome.heads;
    const h2 = this.dense(x, `${p}.conv.in`);
    const glu = tf.mul(tf.slice(h2, [0, 0], [B * T, d]), tf.sigmoid(tf.slice(h2, [0, d], [B * T, d])));
    const u = tf.reshape(tf.mul(glu, s.rowMask), [B, T, 1, d]);
    // [heads, k] -> one filter per channel, channels of a head sharing its kernel
    const perHead = tf.softmax(this.p(`${p}.conv.k`));
    const filter = tf.reshape(tf.transpose(tf.tile(tf.expandDims(perHead, 1), [1, d / heads, 1]), [2, 0, 1]), [kernel, 1, d, 1]);
    const y = tf.depthwiseConv2d(u as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same');
    return this.dense(tf.reshape(y, [B * T, d]), `${p}.conv.out`);
  }

  private ffn(x: tf.Tensor2D, ffn: FfnGenome, p: string): tf.Tensor2D {
    return evalFfnTree<tf.Tensor>(ffn.tree, x, {
      L1: (t) => this.dense(t, `${p}.L1`),
      L2: (t) => this.dense(t, `${p}.L2`),
      unary: (op, t) => ffnUnaryTf(op, t),
      binary: (op, a, b) => ffnBinaryTf(op, a, b),
    }) as tf.Tensor2D;
  }

  weights(): tf.Variable[] {
    return [...this.params.values()];
  }

  paramCount(): number {
    let n = 0;
    for (const s of this.shapes.values()) n += s.reduce((a, b) => a * b, 1);
    return n;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Q/K/V projections are allocated only for the inputs a graph reads. */
export function usedInputs(g: AttentionGraph): ('Q' | 'K' | 'V')[] {
  const info = analyse(g).info;
  if (!info) throw new Error('compile: invalid attention graph');
  return (['Q', 'K', 'V'] as const).filter((i) => info.inputs.has(i));
}

export function compile(genome: BackboneGenome, cfg: ModelConfig, rng: Rng): Model {
  return new Model(genome, cfg, rng);
}

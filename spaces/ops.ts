import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients; the umbrella package registers all of them.
import '@tensorflow/tfjs';
import { tanh } from './tf-math.js';

/**
 * The primitive operations an attention graph is built from (AutoBERT-Zero, Table 1 of
 * arXiv 2107.07445): unary neg, transpose, scale, softmax, logsigmoid, softsign, plus the common
 * activations, and binary add, mul, matmul, max, cosine. Primitive ops carry no weights, which is
 * what lets a supernet share one set of Q/K/V/O projections between every graph.
 *
 * Each op has three faces: a shape rule over symbolic per-head shapes ([T, D] etc.), a float64
 * JS implementation (for functional fingerprints), and a tfjs implementation over [B, a, b] tensors.
 */

export type Dim = 'T' | 'D';
export type AttnShape = readonly [Dim, Dim];

/** A row-major float64 matrix, for fingerprints. */
export interface Mat {
  r: number;
  c: number;
  d: Float64Array;
}

/** What softmax needs to know: where the score mask and key padding are. */
export interface AttnJsCtx {
  dh: number;
  /** [T, T] 1 = keep, 0 = masked; applied to [T,T] inputs of softmax. */
  mask?: Float64Array;
}

export interface AttnTfCtx {
  dh: number;
  /** [T, T] additive (0 or -1e9), applied to [T,T] inputs of softmax. */
  scoreMask?: tf.Tensor;
  /** [B, 1, T] additive (0 or -1e9) for padded positions, applied whenever softmax runs over T. */
  keyPad?: tf.Tensor;
}

export interface AttnOp {
  name: string;
  arity: 1 | 2;
  /** op(a, b) == op(b, a): canonical forms sort the operands. */
  commutative: boolean;
  doc: string;
  /** Output shape, or a message saying why the inputs don't fit. */
  shape(ins: AttnShape[]): AttnShape | string;
  /** Does the op reduce along an axis of length T (so information moves between positions)? */
  mixes(ins: AttnShape[]): boolean;
  /** Floating-point operations for one head of one sequence. */
  flops(ins: AttnShape[], T: number, D: number): number;
  js(ins: Mat[], ctx: AttnJsCtx): Mat;
  tf(ins: tf.Tensor[], ctx: AttnTfCtx): tf.Tensor;
}

export const NEG_INF = -1e9;

const size = (d: Dim, T: number, D: number) => (d === 'T' ? T : D);
const elems = (s: AttnShape, T: number, D: number) => size(s[0], T, D) * size(s[1], T, D);
const fmt = (s: AttnShape) => `[${s[0]},${s[1]}]`;

function mapMat(a: Mat, f: (x: number) => number): Mat {
  const d = new Float64Array(a.d.length);
  for (let i = 0; i < d.length; i++) d[i] = f(a.d[i]);
  return { r: a.r, c: a.c, d };
}

function zipMat(a: Mat, b: Mat, f: (x: number, y: number) => number): Mat {
  const d = new Float64Array(a.d.length);
  for (let i = 0; i < d.length; i++) d[i] = f(a.d[i], b.d[i]);
  return { r: a.r, c: a.c, d };
}

function matmulJs(a: Mat, b: Mat): Mat {
  const d = new Float64Array(a.r * b.c);
  for (let i = 0; i < a.r; i++)
    for (let k = 0; k < a.c; k++) {
      const x = a.d[i * a.c + k];
      for (let j = 0; j < b.c; j++) d[i * b.c + j] += x * b.d[k * b.c + j];
    }
  return { r: a.r, c: b.c, d };
}

function transposeJs(a: Mat): Mat {
  const d = new Float64Array(a.d.length);
  for (let i = 0; i < a.r; i++) for (let j = 0; j < a.c; j++) d[j * a.r + i] = a.d[i * a.c + j];
  return { r: a.c, c: a.r, d };
}

function rowNormJs(a: Mat): Mat {
  const d = new Float64Array(a.d.length);
  for (let i = 0; i < a.r; i++) {
    let s = 0;
    for (let j = 0; j < a.c; j++) s += a.d[i * a.c + j] ** 2;
    const n = Math.sqrt(s + COSINE_EPS);
    for (let j = 0; j < a.c; j++) d[i * a.c + j] = a.d[i * a.c + j] / n;
  }
  return { r: a.r, c: a.c, d };
}

/** Keeps cosine finite on all-zero rows (padded positions). */
const COSINE_EPS = 1e-6;

const softplusJs = (x: number) => (x > 30 ? x : Math.log1p(Math.exp(x)));
const sigmoidJs = (x: number) => 1 / (1 + Math.exp(-x));

function elementwise(
  name: string,
  doc: string,
  js: (x: number) => number,
  tfImpl: (x: tf.Tensor) => tf.Tensor,
  cost = 1,
): AttnOp {
  return {
    name,
    arity: 1,
    commutative: false,
    doc,
    shape: ([a]) => a,
    mixes: () => false,
    flops: ([a], T, D) => cost * elems(a, T, D),
    js: ([a]) => mapMat(a, js),
    tf: ([a]) => tfImpl(a),
  };
}

function pointwiseBinary(
  name: string,
  doc: string,
  js: (x: number, y: number) => number,
  tfImpl: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
): AttnOp {
  return {
    name,
    arity: 2,
    commutative: true,
    doc,
    shape: ([a, b]) => (a[0] === b[0] && a[1] === b[1] ? a : `shape mismatch: ${fmt(a)} vs ${fmt(b)}`),
    mixes: () => false,
    flops: ([a], T, D) => elems(a, T, D),
    js: ([a, b]) => zipMat(a, b, js),
    tf: ([a, b]) => tfImpl(a, b),
  };
}

function softmaxRowsJs(a: Mat, mask?: Float64Array): Mat {
  const d = new Float64Array(a.d.length);
  for (let i = 0; i < a.r; i++) {
    let m = -Infinity;
    for (let j = 0; j < a.c; j++) {
      const v = mask && mask[i * a.c + j] === 0 ? NEG_INF : a.d[i * a.c + j];
      d[i * a.c + j] = v;
      if (v > m) m = v;
    }
    let s = 0;
    for (let j = 0; j < a.c; j++) s += d[i * a.c + j] = Math.exp(d[i * a.c + j] - m);
    for (let j = 0; j < a.c; j++) d[i * a.c + j] /= s;
  }
  return { r: a.r, c: a.c, d };
}

const OPS: AttnOp[] = [
  elementwise('neg', '-x', (x) => -x, (x) => tf.neg(x)),
  {
    name: 'transpose',
    arity: 1,
    commutative: false,
    doc: 'swap the two axes: [a,b] -> [b,a]',
    shape: ([a]) => [a[1], a[0]],
    mixes: () => false,
    flops: () => 0,
    js: ([a]) => transposeJs(a),
    tf: ([a]) => tf.transpose(a, [0, 2, 1]),
  },
  {
    name: 'scale',
    arity: 1,
    commutative: false,
    doc: 'x / sqrt(d_head)',
    shape: ([a]) => a,
    mixes: () => false,
    flops: ([a], T, D) => elems(a, T, D),
    js: ([a], ctx) => mapMat(a, (x) => x / Math.sqrt(ctx.dh)),
    tf: ([a], ctx) => tf.mul(a, 1 / Math.sqrt(ctx.dh)),
  },
  {
    name: 'softmax',
    arity: 1,
    commutative: false,
    doc: 'softmax over the last axis; [T,T] scores get the layer mask, a T axis skips padding',
    shape: ([a]) => a,
    mixes: ([a]) => a[1] === 'T',
    flops: ([a], T, D) => 5 * elems(a, T, D),
    js: ([a], ctx) => softmaxRowsJs(a, a.r === a.c ? ctx.mask : undefined),
    tf: ([a], ctx) => {
      let x = a;
      const isScores = a.shape[1] === a.shape[2] && ctx.scoreMask !== undefined;
      if (isScores) x = tf.add(x, ctx.scoreMask!);
      if (ctx.keyPad && a.shape[2] === ctx.keyPad.shape[2]) x = tf.add(x, ctx.keyPad);
      return tf.softmax(x);
    },
  },
  elementwise('logsigmoid', 'log(sigmoid(x))', (x) => -softplusJs(-x), // tf.logSigmoid's custom gradient reads a tensor its tape has already disposed when nested in a larger graph
    (x) => tf.neg(tf.softplus(tf.neg(x))),
    4,
  ),
  elementwise('softsign', 'x / (1 + |x|)', (x) => x / (1 + Math.abs(x)), (x) => tf.div(x, tf.add(tf.abs(x), 1)), 3),
  elementwise('sigmoid', '1 / (1 + exp(-x))', sigmoidJs, (x) => tf.sigmoid(x), 4),
  elementwise('tanh', 'tanh(x)', Math.tanh, tanh, 4),
  elementwise('relu', 'max(x, 0)', (x) => Math.max(x, 0), (x) => tf.relu(x)),
  elementwise('squared_relu', 'max(x, 0)^2 (Primer)', (x) => Math.max(x, 0) ** 2, (x) => tf.square(tf.relu(x)), 2),
  elementwise('softplus', 'log(1 + exp(x))', softplusJs, (x) => tf.softplus(x), 4),
  pointwiseBinary('add', 'a + b', (x, y) => x + y, (a, b) => tf.add(a, b)),
  pointwiseBinary('mul', 'a * b (Hadamard)', (x, y) => x * y, (a, b) => tf.mul(a, b)),
  pointwiseBinary('max', 'elementwise maximum', (x, y) => Math.max(x, y), (a, b) => tf.maximum(a, b)),
  {
    name: 'matmul',
    arity: 2,
    commutative: false,
    doc: 'matrix product [a,b] x [b,c] -> [a,c]',
    shape: ([a, b]) => (a[1] === b[0] ? [a[0], b[1]] : `matmul needs inner dims to agree: ${fmt(a)} x ${fmt(b)}`),
    mixes: ([a]) => a[1] === 'T',
    flops: ([a, b], T, D) => 2 * size(a[0], T, D) * size(a[1], T, D) * size(b[1], T, D),
    js: ([a, b]) => matmulJs(a, b),
    tf: ([a, b]) => tf.matMul(a, b),
  },
  {
    name: 'cosine',
    arity: 2,
    commutative: false,
    doc: 'cosine similarity of rows: [a,c] , [b,c] -> [a,b]',
    shape: ([a, b]) => (a[1] === b[1] ? [a[0], b[0]] : `cosine needs equal last dims: ${fmt(a)} , ${fmt(b)}`),
    mixes: ([a]) => a[1] === 'T',
    flops: ([a, b], T, D) => 2 * size(a[0], T, D) * size(a[1], T, D) * size(b[0], T, D) + 3 * (elems(a, T, D) + elems(b, T, D)),
    js: ([a, b]) => matmulJs(rowNormJs(a), transposeJs(rowNormJs(b))),
    tf: ([a, b]) => {
      const norm = (x: tf.Tensor) => tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), -1, true), COSINE_EPS)));
      return tf.matMul(norm(a), tf.transpose(norm(b), [0, 2, 1]));
    },
  },
];

export const ATTN_OPS: ReadonlyMap<string, AttnOp> = new Map(OPS.map((o) => [o.name, o]));
export const ATTN_UNARY = OPS.filter((o) => o.arity === 1).map((o) => o.name);
export const ATTN_BINARY = OPS.filter((o) => o.arity === 2).map((o) => o.name);
export const ATTN_INPUTS = ['Q', 'K', 'V'] as const;

import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients; the umbrella package registers all of them.
import '@tensorflow/tfjs';
import { gelu, tanh } from './tf-math.js';

/**
 * The op registry of the feed-forward expression-tree space (EfficientBERT): element-wise
 * activations and binary ops, each with a float64 scalar form (for functional fingerprints), a
 * tfjs form (for the compiled model) and a rough FLOPs-per-element cost.
 *
 * FLOPs convention: one add, multiply, compare or select is 1 FLOP; exp and tanh are counted as
 * 4 each (a rough stand-in for their polynomial/range-reduction cost; there is no agreed figure).
 * Activations are a few percent of an FFN's FLOPs, so only their relative order matters.
 */

export const FFN_LEAF = 'x';
/** L1 maps d -> r*d, L2 maps r*d -> d; the only ops that carry weights. */
export const FFN_LINEAR = ['L1', 'L2'] as const;

export const FFN_UNARY_OPS = ['gelu', 'relu', 'tanh', 'sigmoid', 'leaky_relu', 'elu', 'swish', 'squared_relu'] as const;
export const FFN_BINARY_OPS = ['add', 'mul', 'max'] as const;

export type FfnUnaryOp = (typeof FFN_UNARY_OPS)[number];
export type FfnBinaryOp = (typeof FFN_BINARY_OPS)[number];

export interface FfnUnarySpec {
  arity: 1;
  js(x: number): number;
  tf(inputs: tf.Tensor[]): tf.Tensor;
  /** FLOPs per output element. */
  flops: number;
}

export interface FfnBinarySpec {
  arity: 2;
  js(a: number, b: number): number;
  tf(inputs: tf.Tensor[]): tf.Tensor;
  flops: number;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;
const LEAKY_SLOPE = 0.01;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));


export const FFN_UNARY: Readonly<Record<FfnUnaryOp, FfnUnarySpec>> = {
  // x^3 (2), scale (1), add (1), scale (1), tanh (4), add (1), two multiplies (2)
  gelu: {
    arity: 1,
    js: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + GELU_K * x * x * x))),
    tf: ([x]) => gelu(x), // tfjs-core has no gelu; BERT's tanh approximation
    flops: 12,
  },
  relu: { arity: 1, js: (x) => (x > 0 ? x : 0), tf: ([x]) => tf.relu(x), flops: 1 },
  tanh: { arity: 1, js: (x) => Math.tanh(x), tf: ([x]) => tanh(x), flops: 4 },
  // negate (1), exp (4), add (1), divide (1)
  sigmoid: { arity: 1, js: sigmoid, tf: ([x]) => tf.sigmoid(x), flops: 7 },
  leaky_relu: {
    arity: 1,
    js: (x) => (x > 0 ? x : LEAKY_SLOPE * x),
    tf: ([x]) => tf.leakyRelu(x, LEAKY_SLOPE),
    flops: 2,
  },
  // compare (1), exp (4), subtract (1)
  elu: { arity: 1, js: (x) => (x > 0 ? x : Math.exp(x) - 1), tf: ([x]) => tf.elu(x), flops: 6 },
  // sigmoid (7) and a multiply
  swish: { arity: 1, js: (x) => x * sigmoid(x), tf: ([x]) => tf.mul(x, tf.sigmoid(x)), flops: 8 },
  squared_relu: {
    arity: 1,
    js: (x) => (x > 0 ? x * x : 0),
    tf: ([x]) => tf.square(tf.relu(x)),
    flops: 2,
  },
};

export const FFN_BINARY: Readonly<Record<FfnBinaryOp, FfnBinarySpec>> = {
  add: { arity: 2, js: (a, b) => a + b, tf: ([a, b]) => tf.add(a, b), flops: 1 },
  mul: { arity: 2, js: (a, b) => a * b, tf: ([a, b]) => tf.mul(a, b), flops: 1 },
  max: { arity: 2, js: (a, b) => (a > b ? a : b), tf: ([a, b]) => tf.maximum(a, b), flops: 1 },
};

/** Every op name a tree may contain, leaf and linears first. */
export const FFN_KNOWN_OPS: readonly string[] = [FFN_LEAF, ...FFN_LINEAR, ...FFN_UNARY_OPS, ...FFN_BINARY_OPS];

export function isFfnUnary(op: string): op is FfnUnaryOp {
  return Object.prototype.hasOwnProperty.call(FFN_UNARY, op);
}

export function isFfnBinary(op: string): op is FfnBinaryOp {
  return Object.prototype.hasOwnProperty.call(FFN_BINARY, op);
}

/** Number of inputs `op` takes, or undefined for an unknown op. */
export function ffnArity(op: string): number | undefined {
  if (op === FFN_LEAF) return 0;
  if (op === 'L1' || op === 'L2') return 1;
  if (isFfnUnary(op)) return 1;
  if (isFfnBinary(op)) return 2;
  return undefined;
}

export function ffnUnaryTf(op: string, t: tf.Tensor): tf.Tensor {
  if (!isFfnUnary(op)) throw new RangeError(`not an FFN activation: '${op}' (known: ${FFN_UNARY_OPS.join(', ')})`);
  return FFN_UNARY[op].tf([t]);
}

export function ffnBinaryTf(op: string, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (!isFfnBinary(op)) throw new RangeError(`not an FFN binary op: '${op}' (known: ${FFN_BINARY_OPS.join(', ')})`);
  return FFN_BINARY[op].tf([a, b]);
}

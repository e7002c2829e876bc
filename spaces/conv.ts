import type { Rng } from './base/rng.js';
import { FFN_UNARY } from './ffn-ops.js';
import type { Cost, MixerGenome } from './types.js';

/**
 * The lightweight-convolution token mixer (AutoBERT-Zero inter-layer space, after Wu et al. 2019):
 * Linear d -> 2d, GLU (d -> d), a depthwise convolution along the sequence whose kernel is shared
 * by the d/heads channels of a head and softmax-normalised over its k taps, then Linear d -> d.
 * The only searched choice is the kernel size.
 */

export type ConvMixer = Extract<MixerGenome, { type: 'conv' }>;

export const CONV_KERNELS = [3, 5, 7, 9, 15, 31, 65] as const;

/** Average number of in-sequence taps of a centred kernel of size k over a sequence of length T. */
function meanTaps(kernel: number, seqLen: number): number {
  const half = (kernel - 1) / 2;
  let taps = 0;
  for (let t = 0; t < seqLen; t++) taps += Math.min(seqLen - 1, t + half) - Math.max(0, t - half) + 1;
  return taps / seqLen;
}

/**
 * Parameters and FLOPs per token of one conv mixer. Params: Linear d->2d with bias, one kernel per
 * head (no conv bias), Linear d->d with bias. FLOPs: the two matmuls (2 per multiply-add), GLU
 * (a sigmoid and a multiply per channel), and the convolution's multiply-adds over the taps that
 * fall inside the sequence ('same' padding contributes zeros, not work). Bias adds and the
 * kernel softmax (once per forward pass, not per token) are left out.
 */
export function convCost(kernel: number, d: number, heads: number, seqLen: number): Cost {
  for (const [name, v] of [['kernel', kernel], ['d', d], ['heads', heads], ['seqLen', seqLen]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`convCost: ${name} must be a positive integer, got ${v}`);
  }
  const params = d * 2 * d + 2 * d + heads * kernel + (d * d + d);
  const glu = d * (FFN_UNARY.sigmoid.flops + 1);
  const flops = 2 * d * 2 * d + glu + 2 * d * meanTaps(kernel, seqLen) + 2 * d * d;
  return { params, flops };
}

/** Problems with a conv mixer genome, each prefixed by `path`; empty when valid. */
export function checkConv(x: unknown, path = 'mixer'): string[] {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    return [`${path}: must be { type: 'conv', kernel }, got ${x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x}`];
  }
  const errors: string[] = [];
  const r = x as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (k !== 'type' && k !== 'kernel') errors.push(`${path}.${k}: unknown field (a conv mixer has type and kernel)`);
  }
  if (r.type !== 'conv') errors.push(`${path}.type: must be 'conv', got ${JSON.stringify(r.type) ?? 'nothing'}`);
  if (!(CONV_KERNELS as readonly unknown[]).includes(r.kernel)) {
    errors.push(`${path}.kernel: must be one of ${CONV_KERNELS.join(', ')}, got ${JSON.stringify(r.kernel) ?? 'nothing'}`);
  }
  return errors;
}

export function sampleConv(rng: Rng): ConvMixer {
  return { type: 'conv', kernel: rng.choice(CONV_KERNELS) };
}

/** Move to a neighbouring kernel size (the list is ordered, so this is a small step). */
export function mutateConv(g: ConvMixer, rng: Rng): ConvMixer {
  const i = CONV_KERNELS.indexOf(g.kernel as (typeof CONV_KERNELS)[number]);
  if (i < 0) return sampleConv(rng);
  const next = i === 0 ? 1 : i === CONV_KERNELS.length - 1 ? i - 1 : rng.bool() ? i + 1 : i - 1;
  return { type: 'conv', kernel: CONV_KERNELS[next] };
}

export function renderConv(g: ConvMixer): string {
  return `lightconv(k=${g.kernel})`;
}

// Shared by the ONNX and PyTorch parity tests: sampled genomes at tiny widths covering every op.
import * as tf from '@tensorflow/tfjs-core';
import { Model } from '../../../evaluators/compile.js';
import { weightsOf } from '../../../evaluators/model-dir/folder.js';
import type { NamedTensor } from '../../../evaluators/model-dir/safetensors.js';
import { Rng } from '../../../spaces/base/rng.js';
import { ATTN_OPS } from '../../../spaces/ops.js';
import { backboneSpace } from '../../../spaces/backbone.js';
import { FFN_BINARY_OPS, FFN_UNARY_OPS } from '../../../spaces/ffn-ops.js';
import type { BackboneGenome, FfnNode } from '../../../spaces/types.js';

export const VOCAB = 20;
export const MAX_LEN = 8;
export const CLASSES = 3;
/** Two sequences of 6 positions, the second padded after 4: T (6) is neither d_head nor hidden. */
export const IDS = [2, 5, 7, 9, 11, 3, 2, 4, 6, 3, 0, 0];
export const MASK = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
export const SHAPE = [2, 6];

const space = backboneSpace({ layers: [1, 2], hidden: [8, 16], heads: [1, 2], convProbability: 0.3, pool: ['cls', 'mean', 'max'], embed: [4] });

function ffnOps(n: FfnNode, out: Set<string>): void {
  out.add(n.op);
  for (const c of n.in ?? []) ffnOps(c, out);
}

/** What a set of genomes exercises, as 'kind:name' strings. */
export function coverage(gs: BackboneGenome[]): Set<string> {
  const out = new Set<string>();
  for (const g of gs) {
    out.add(`pool:${g.pool ?? 'cls'}`);
    out.add(`embed:${g.embed ? 'factorised' : 'full'}`);
    for (const l of g.layers) {
      if (l.mixer.type === 'conv') out.add('mixer:conv');
      else {
        const gr = l.mixer.graph;
        out.add(`mask:${(gr.mask ?? 'none').replace(/:\d+$/, '')}`);
        if (gr.dconv) out.add('dconv');
        for (const n of gr.nodes) out.add(`attn:${n.op}`);
      }
      const f = new Set<string>();
      ffnOps(l.ffn.tree, f);
      for (const op of f) out.add(`ffn:${op}`);
      if (l.ffn.stack > 1) out.add('ffn:stack');
    }
  }
  return out;
}

export const EVERYTHING = [
  ...['cls', 'mean', 'max'].map((p) => `pool:${p}`), 'embed:factorised', 'embed:full', 'mixer:conv', 'dconv', 'ffn:stack',
  ...['none', 'no-diagonal', 'band', 'dam'].map((m) => `mask:${m}`),
  ...[...ATTN_OPS.keys()].map((o) => `attn:${o}`),
  ...[...FFN_UNARY_OPS, ...FFN_BINARY_OPS].map((o) => `ffn:${o}`),
];

/** n sampled genomes (seeded), then more until every op, mask, pool, embed and mixer is covered. */
export function sampleGenomes(n: number, seed: number): BackboneGenome[] {
  const rng = new Rng(seed);
  const gs: BackboneGenome[] = [];
  for (let i = 0; i < n; i++) gs.push(space.sample(rng));
  for (let i = 0; i < 2000 && EVERYTHING.some((k) => !coverage(gs).has(k)); i++) {
    const g = space.sample(rng);
    const have = coverage(gs);
    if ([...coverage([g])].some((k) => !have.has(k))) gs.push(g);
  }
  return gs;
}

/** A model of g with large seeded weights (std 0.5: the ops' differences show in the logits) and its logits on IDS. */
export function reference(g: BackboneGenome, seed: number): { weights: Map<string, NamedTensor>; logits: Float32Array } {
  const m = new Model(g, { vocabSize: VOCAB, maxLen: MAX_LEN, numClasses: CLASSES, initStd: 0.5 }, new Rng(seed));
  // a learnt mask starts at 0 (no effect): give it trained-looking logits so the exports must apply it
  const rng = new Rng(`${seed}:dam`);
  for (const [name, v] of m.params)
    if (name.endsWith('.att.dam')) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => 2 * rng.normal()), v.shape));
  const logits = tf.tidy(() => m.forward(tf.tensor2d(IDS, SHAPE as [number, number], 'int32'), tf.tensor2d(MASK, SHAPE as [number, number])).logits.dataSync() as Float32Array);
  const weights = weightsOf(m.params);
  m.dispose();
  return { weights, logits };
}

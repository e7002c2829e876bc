import * as tf from '@tensorflow/tfjs-core';

/**
 * AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, applied to weight matrices
 * only (not biases, LayerNorm or embeddings' norms), with global-norm gradient clipping. Written
 * out rather than taken from tf.train.adam because the learning rate changes every step (warm-up +
 * decay) and the moments must be saved with a checkpoint.
 */
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  clipNorm: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01, clipNorm: 1 };

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly cfg: AdamWConfig = DEFAULT_ADAMW,
  ) {
    for (const [name, p] of params) {
      this.m.set(name, zeroVariable(p));
      this.v.set(name, zeroVariable(p));
    }
  }

  get stepCount(): number {
    return this.t;
  }

  /** Apply one update. `grads` maps parameter name -> gradient; they are not disposed here. */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.t++;
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.cfg;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    tf.tidy(() => {
      let scale: tf.Scalar | number = 1;
      if (clipNorm > 0) {
        const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
        const norm = tf.sqrt(tf.addN(sq));
        scale = tf.div(clipNorm, tf.maximum(norm, clipNorm)) as tf.Scalar;
      }
      for (const [name, g0] of Object.entries(grads)) {
        const p = this.params.get(name)!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const g = tf.mul(g0, scale);
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        let update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        if (weightDecay > 0 && decays(name)) update = tf.add(update, tf.mul(p, weightDecay));
        p.assign(tf.sub(p, tf.mul(update, lr)));
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}

/** A non-trainable variable of zeros shaped like `p` (the initial tensor is freed: the variable holds its own reference). */
function zeroVariable(p: tf.Tensor): tf.Variable {
  const z = tf.zerosLike(p);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

/**
 * Weight matrices and the token/position embedding tables decay; biases, LayerNorm gains/shifts
 * (the embedding LayerNorm `emb.ln.*` included) and conv kernel logits do not.
 */
export function decays(name: string): boolean {
  return name.endsWith('.w') || (name.startsWith('emb.') && !name.startsWith('emb.ln.'));
}

/** Linear warm-up to the peak, then linear decay to zero (BERT's schedule). */
export function learningRate(step: number, total: number, peak: number, warmupFraction: number): number {
  const warm = Math.max(1, Math.round(total * warmupFraction));
  if (step < warm) return (peak * (step + 1)) / warm;
  return peak * Math.max(0, (total - step) / Math.max(1, total - warm));
}

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import { ATTN_OPS, type AttnShape, type Mat } from '../../spaces/ops.js';

const T = 5;
const D = 3;
const dim = (x: 'T' | 'D') => (x === 'T' ? T : D);

/** Input shapes each op is exercised on (the ones it accepts). */
function shapesFor(arity: number, name: string): AttnShape[] {
  if (arity === 1) return [['T', 'D']];
  if (name === 'matmul') return [['T', 'D'], ['D', 'T']];
  return [['T', 'D'], ['T', 'D']];
}

function randomInput(rng: Rng, s: AttnShape): Float32Array {
  // keep values away from 0 so relu-like kinks don't sit inside the finite-difference step
  return Float32Array.from({ length: dim(s[0]) * dim(s[1]) }, () => {
    const v = rng.normal();
    return Math.abs(v) < 0.1 ? v + Math.sign(v || 1) * 0.2 : v;
  });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('attention primitive ops', () => {
  for (const op of ATTN_OPS.values()) {
    it(`${op.name}: tf gradient matches central finite differences`, () => {
      const rng = new Rng(`grad-${op.name}`);
      const shapes = shapesFor(op.arity, op.name);
      const out = op.shape(shapes) as AttnShape;
      const data = shapes.map((s) => randomInput(rng, s));
      // max has a kink where a == b: keep the operands apart by more than the step
      if (op.name === 'max') data[1] = data[0].map((v, i) => v + (i % 2 ? 0.5 : -0.5));
      const xs = shapes.map((s, i) => tf.tensor3d(data[i], [1, dim(s[0]), dim(s[1])]));
      const weights = tf.tensor3d(randomInput(rng, out), [1, dim(out[0]), dim(out[1])]);
      const loss = (...ins: tf.Tensor[]) => tf.sum(tf.mul(op.tf(ins, { dh: D }), weights)) as tf.Scalar;
      const grads = tf.grads(loss)(xs);
      const eps = 1e-2;
      for (let k = 0; k < xs.length; k++) {
        const base = xs[k].dataSync();
        const analytic = grads[k].dataSync();
        for (let i = 0; i < base.length; i++) {
          const at = (delta: number) => {
            const x = Float32Array.from(base);
            x[i] += delta;
            const ins = xs.map((t, j) => (j === k ? tf.tensor3d(x, t.shape as [number, number, number]) : t));
            return loss(...ins).dataSync()[0];
          };
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          expect(Math.abs(numeric - analytic[i])).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
        }
      }
    });

    it(`${op.name}: tf implementation matches the float64 JS one`, () => {
      const rng = new Rng(`js-${op.name}`);
      const shapes = shapesFor(op.arity, op.name);
      const data = shapes.map((s) => randomInput(rng, s));
      const mats: Mat[] = shapes.map((s, i) => ({ r: dim(s[0]), c: dim(s[1]), d: Float64Array.from(data[i]) }));
      const js = op.js(mats, { dh: D });
      const t = op.tf(shapes.map((s, i) => tf.tensor3d(data[i], [1, dim(s[0]), dim(s[1])])), { dh: D });
      expect(t.shape.slice(1)).toEqual([js.r, js.c]);
      const got = t.dataSync();
      for (let i = 0; i < js.d.length; i++) expect(got[i]).toBeCloseTo(js.d[i], 4);
    });
  }
});

// tfjs keeps one global engine: this file switches it between backends, and vitest isolates files.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, type TestContext } from 'vitest';
import { BACKEND_CHOICES, currentBackend, initBackend } from '../../evaluators/backend.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { WASM_GRADIENT_KERNELS } from '../../evaluators/wasm-kernels.js';

/** Deterministic values in [-1, 1): the same on every backend, unlike backend-side RNG. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(values(tf.util.sizeFromShape(shape), seed), shape);
}

/** A differentiable function of some float inputs, reduced to a scalar loss. */
interface GradCase {
  name: string;
  shapes: number[][];
  f: (...xs: tf.Tensor[]) => tf.Scalar;
}

/** Weights the output by fixed values so that no gradient is trivially constant. */
function weighted(y: tf.Tensor, seed = 99): tf.Scalar {
  return tf.sum(tf.mul(y, rand(y.shape, seed)));
}

async function gradsOn(backend: 'cpu' | 'wasm', c: GradCase): Promise<Float32Array[]> {
  await initBackend(backend);
  const out = tf.tidy(() => tf.grads(c.f)(c.shapes.map((s, i) => rand(s, 7 + 13 * i))));
  const data = await Promise.all(out.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(out);
  return data;
}

function expectClose(actual: Float32Array[], expected: Float32Array[], tol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const a = actual[k]!;
    const e = expected[k]!;
    expect(a.length, `${what}: gradient ${k} size`).toBe(e.length);
    let worst = 0;
    for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i]! - e[i]!) / Math.max(1, Math.abs(e[i]!)));
    expect(worst, `${what}: gradient ${k} differs from cpu`).toBeLessThanOrEqual(tol);
  }
}

let wasmProblem: string | null | undefined;

/** Skips the calling test, with a warning, when the wasm backend cannot start here. */
async function requireWasm(ctx: TestContext): Promise<void> {
  if (wasmProblem === undefined) {
    try {
      await initBackend('wasm');
      wasmProblem = null;
    } catch (err) {
      wasmProblem = err instanceof Error ? err.message : String(err);
    }
  }
  if (wasmProblem !== null) {
    console.warn(`skipping wasm test: ${wasmProblem}`);
    ctx.skip();
  }
}

const ids = [3, 0, 7, 3, 3, 9, 1, 0];
const sequenceMask = (): tf.Tensor => tf.greater(rand([4, 6], 5), 0);

/**
 * What the search spaces differentiate through, written the way the models use it (masks are
 * built from data, not from parameters).
 */
const SWEEP: GradCase[] = [
  { name: 'gather (embedding)', shapes: [[10, 4]], f: (t) => weighted(tf.gather(t!, tf.tensor1d(ids, 'int32'))) },
  { name: 'gather 2-D ids', shapes: [[10, 4]], f: (t) => weighted(tf.gather(t!, tf.tensor2d(ids, [2, 4], 'int32'))) },
  { name: 'matMul', shapes: [[3, 4], [4, 5]], f: (a, b) => weighted(tf.matMul(a!, b!)) },
  { name: 'matMul transposeA', shapes: [[4, 3], [4, 5]], f: (a, b) => weighted(tf.matMul(a!, b!, true, false)) },
  { name: 'matMul transposeB', shapes: [[3, 4], [5, 4]], f: (a, b) => weighted(tf.matMul(a!, b!, false, true)) },
  { name: 'batched matMul', shapes: [[2, 3, 4], [2, 4, 5]], f: (a, b) => weighted(tf.matMul(a!, b!)) },
  { name: 'batched matMul transposeA', shapes: [[2, 4, 3], [2, 4, 5]], f: (a, b) => weighted(tf.matMul(a!, b!, true, false)) },
  { name: 'batched matMul transposeB', shapes: [[2, 3, 4], [2, 5, 4]], f: (a, b) => weighted(tf.matMul(a!, b!, false, true)) },
  { name: 'transpose 3-D', shapes: [[2, 3, 4]], f: (x) => weighted(tf.transpose(x!, [1, 0, 2])) },
  { name: 'softmax', shapes: [[3, 4]], f: (x) => weighted(tf.softmax(x!)) },
  { name: 'logSoftmax', shapes: [[3, 4]], f: (x) => weighted(tf.logSoftmax(x!)) },
  { name: 'log', shapes: [[6]], f: (x) => weighted(tf.log(tf.add(tf.abs(x!), 0.5))) },
  { name: 'exp', shapes: [[6]], f: (x) => weighted(tf.exp(x!)) },
  { name: 'sigmoid', shapes: [[6]], f: (x) => weighted(tf.sigmoid(x!)) },
  { name: 'tanh', shapes: [[6]], f: (x) => weighted(tf.tanh(x!)) },
  { name: 'relu', shapes: [[6]], f: (x) => weighted(tf.relu(x!)) },
  { name: 'elu', shapes: [[6]], f: (x) => weighted(tf.elu(x!)) },
  { name: 'leakyRelu', shapes: [[6]], f: (x) => weighted(tf.leakyRelu(x!, 0.1)) },
  { name: 'softplus', shapes: [[6]], f: (x) => weighted(tf.softplus(x!)) },
  { name: 'logSigmoid', shapes: [[6]], f: (x) => weighted(tf.logSigmoid(x!)) },
  { name: 'abs', shapes: [[6]], f: (x) => weighted(tf.abs(x!)) },
  { name: 'div (broadcast)', shapes: [[3, 4], [4]], f: (a, b) => weighted(tf.div(a!, tf.add(tf.abs(b!), 1))) },
  { name: 'neg', shapes: [[6]], f: (x) => weighted(tf.neg(x!)) },
  { name: 'sqrt', shapes: [[6]], f: (x) => weighted(tf.sqrt(tf.add(tf.abs(x!), 0.5))) },
  { name: 'rsqrt', shapes: [[6]], f: (x) => weighted(tf.rsqrt(tf.add(tf.abs(x!), 0.5))) },
  { name: 'square', shapes: [[6]], f: (x) => weighted(tf.square(x!)) },
  { name: 'maximum', shapes: [[3, 4], [3, 4]], f: (a, b) => weighted(tf.maximum(a!, b!)) },
  { name: 'minimum', shapes: [[3, 4], [3, 4]], f: (a, b) => weighted(tf.minimum(a!, b!)) },
  { name: 'add (broadcast)', shapes: [[3, 4], [1, 4]], f: (a, b) => weighted(tf.add(a!, b!)) },
  { name: 'mul (broadcast)', shapes: [[3, 4], [3, 1]], f: (a, b) => weighted(tf.mul(a!, b!)) },
  { name: 'sub (broadcast)', shapes: [[2, 3, 4], [4]], f: (a, b) => weighted(tf.sub(a!, b!)) },
  { name: 'mean', shapes: [[3, 4]], f: (x) => weighted(tf.mean(x!, -1)) },
  { name: 'sum', shapes: [[3, 4]], f: (x) => weighted(tf.sum(x!, 0)) },
  {
    name: 'moments (LayerNorm)',
    shapes: [[3, 8]],
    f: (x) => {
      const { mean, variance } = tf.moments(x!, -1, true);
      return weighted(tf.div(tf.sub(x!, mean), tf.sqrt(tf.add(variance, 1e-5))));
    },
  },
  { name: 'reshape', shapes: [[3, 4]], f: (x) => weighted(tf.reshape(x!, [2, 6])) },
  { name: 'concat', shapes: [[3, 4], [3, 2]], f: (a, b) => weighted(tf.concat([a!, b!], 1)) },
  { name: 'slice', shapes: [[3, 4]], f: (x) => weighted(tf.slice(x!, [1, 1], [2, 2])) },
  { name: 'stack', shapes: [[3, 4], [3, 4]], f: (a, b) => weighted(tf.stack([a!, b!], 1)) },
  { name: 'pad', shapes: [[3, 4]], f: (x) => weighted(tf.pad(x!, [[1, 0], [0, 2]])) },
  {
    name: 'where/greater (mask)',
    shapes: [[4, 6]],
    f: (x) => weighted(tf.softmax(tf.where(sequenceMask(), x!, tf.fill([4, 6], -1e9)))),
  },
  { name: 'oneHot', shapes: [[3, 4]], f: (x) => weighted(tf.mul(tf.oneHot(tf.tensor1d([0, 2, 1], 'int32'), 4), x!)) },
  { name: 'clipByValue', shapes: [[3, 4]], f: (x) => weighted(tf.clipByValue(x!, -0.5, 0.5)) },
  { name: 'sign', shapes: [[3, 4]], f: (x) => weighted(tf.mul(tf.sign(x!), x!)) },
  { name: 'erf', shapes: [[3, 4]], f: (x) => weighted(tf.erf(x!)) },
  {
    name: 'depthwiseConv2d along a sequence (same)',
    shapes: [[2, 1, 9, 3], [1, 5, 3, 1]],
    f: (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')),
  },
  {
    name: 'depthwiseConv2d along a sequence (causal pad)',
    shapes: [[2, 1, 8, 3], [1, 3, 3, 1]],
    f: (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, [[0, 0], [0, 0], [2, 0], [0, 0]])),
  },
  {
    name: 'depthwiseConv2d 2-D (same)',
    shapes: [[2, 5, 4, 3], [3, 2, 3, 1]],
    f: (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')),
  },
  {
    name: 'depthwiseConv2d 2-D (uneven explicit pads)',
    shapes: [[2, 5, 4, 3], [3, 2, 3, 1]],
    f: (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, [[0, 0], [2, 0], [0, 1], [0, 0]])),
  },
  {
    name: 'depthwiseConv2d strided, multiplier 2 (CPU fallback)',
    shapes: [[1, 6, 6, 2], [3, 3, 2, 2]],
    f: (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid')),
  },
  {
    name: 'conv1d',
    shapes: [[2, 6, 3], [3, 3, 5]],
    f: (x, w) => weighted(tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 1, 'same')),
  },
  {
    name: 'losses.softmaxCrossEntropy',
    shapes: [[3, 4]],
    f: (x) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 2, 1], 'int32'), 4), x!) as tf.Scalar,
  },
];

describe('initBackend', () => {
  it('initialises the cpu backend, once', async () => {
    const lines: string[] = [];
    const info = await initBackend('cpu', { log: (m) => lines.push(m) });
    expect(info.name).toBe('cpu');
    expect(currentBackend()).toBe('cpu');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/backend: cpu/);
    expect(await initBackend('cpu', { log: (m) => lines.push(m) })).toBe(info);
    expect(lines).toHaveLength(1);
    // gradients and chained ops are usable once a backend is up
    expect(tf.grad((x: tf.Tensor) => x.square().sum())(tf.tensor1d([1, 2])).arraySync()).toEqual([2, 4]);
  });

  it('rejects an unknown choice, naming the valid ones', async () => {
    const err = await initBackend('gpu' as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpnasError);
    for (const c of BACKEND_CHOICES) expect((err as Error).message).toContain(c);
  });

  it('reads OPNAS_BACKEND when no choice is given', async () => {
    const saved = process.env.OPNAS_BACKEND;
    process.env.OPNAS_BACKEND = 'bogus';
    try {
      await expect(initBackend()).rejects.toThrow(/OPNAS_BACKEND.*auto, tensorflow, wasm, cpu/);
    } finally {
      if (saved === undefined) delete process.env.OPNAS_BACKEND;
      else process.env.OPNAS_BACKEND = saved;
    }
  });

  it("rejects 'tensorflow' with a one-line reason when tfjs-node does not load", async (ctx) => {
    let err: unknown;
    try {
      await initBackend('tensorflow');
    } catch (e) {
      err = e;
    }
    if (err === undefined) {
      console.warn('tfjs-node loaded here: nothing to check');
      ctx.skip();
    }
    expect(err).toBeInstanceOf(OpnasError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/tfjs-node-gpu: .*tfjs-node: /);
    expect(msg).not.toContain('\n');
  });
});

describe('wasm backend', () => {
  it('initialises and registers the missing gradient kernels', async (ctx) => {
    await requireWasm(ctx);
    expect(currentBackend()).toBe('wasm');
    for (const k of WASM_GRADIENT_KERNELS) expect(tf.getKernel(k, 'wasm'), k).toBeDefined();
  });

  it('trains an embedding through tf.gather like the cpu backend', async (ctx) => {
    await requireWasm(ctx);
    const [V, D] = [12, 5];
    const tokens = [1, 4, 4, 11, 0, 4, 7, 1];
    const step = async (backend: 'cpu' | 'wasm'): Promise<{ loss: number; grad: Float32Array }> => {
      await initBackend(backend);
      const table = tf.variable(rand([V, D], 1), true, `emb_${backend}`);
      const ids = tf.tensor2d(tokens, [2, 4], 'int32');
      const target = rand([2, 4, D], 2);
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.square(tf.sub(tf.gather(table, ids), target))) as tf.Scalar,
        [table],
      );
      const out = { loss: (await value.data())[0]!, grad: (await grads[table.name]!.data()) as Float32Array };
      tf.dispose([table, ids, target, value, grads[table.name]!]);
      return out;
    };
    const cpu = await step('cpu');
    const wasm = await step('wasm');
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-5);
    expectClose([wasm.grad], [cpu.grad], 1e-5, 'embedding');

    // Independent of both backends: d mean((E[ids] - y)²) / dE[v] = Σ over positions of v of 2(E[v] - y)/N.
    const table = values(V * D, 1);
    const target = values(tokens.length * D, 2);
    const expected = new Float32Array(V * D);
    tokens.forEach((v, p) => {
      for (let j = 0; j < D; j++) expected[v * D + j] += (2 * (table[v * D + j]! - target[p * D + j]!)) / (tokens.length * D);
    });
    expectClose([cpu.grad], [expected], 1e-5, 'embedding vs closed form');
  });

  for (const c of SWEEP) {
    it(`gradient of ${c.name} matches cpu`, async (ctx) => {
      await requireWasm(ctx);
      const expected = await gradsOn('cpu', c);
      const actual = await gradsOn('wasm', c);
      expectClose(actual, expected, 1e-4, c.name);
    });
  }

  it('leaks no tensors in the registered kernels', async (ctx) => {
    await requireWasm(ctx);
    await initBackend('wasm');
    const heavy = SWEEP.filter((c) => /gather|depthwise|conv1d/.test(c.name));
    await gradsOn('wasm', heavy[0]!); // warm-up: first use may allocate engine-level state
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds();
    const cpuDataBefore = tf.findBackend('cpu').numDataIds(); // the CPU fallback's copies
    for (const c of heavy) await gradsOn('wasm', c);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    expect(tf.findBackend('cpu').numDataIds()).toBe(cpuDataBefore);
  });
});

describe('UnsortedSegmentSum (replaced on cpu, added on wasm)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`UnsortedSegmentSum on ${backend} drops out-of-range ids and sums repeated ones`, async (ctx) => {
      if (backend === 'wasm') await requireWasm(ctx);
      await initBackend(backend);
      const x = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
      const y = tf.unsortedSegmentSum(x, tf.tensor1d([2, -1, 2, 0], 'int32'), 3);
      expect(y.shape).toEqual([3, 2]);
      expect(await y.array()).toEqual([[7, 8], [0, 0], [6, 8]]);
      tf.dispose([x, y]);
    });
  }
});

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import { drawOp } from '../../spaces/priority.js';
import {
  FFN_BINARY,
  FFN_BINARY_OPS,
  FFN_UNARY,
  FFN_UNARY_OPS,
  ffnBinaryTf,
  ffnUnaryTf,
} from '../../spaces/ffn-ops.js';
import {
  checkFfn,
  checkFfnTree,
  evalFfnTree,
  ffnCost,
  ffnHeight,
  ffnSpace,
  parseFfnFormula,
  renderFfn,
  STANDARD_FFN,
} from '../../spaces/ffn-tree.js';
import { fixedMatrix } from '../../spaces/base/hash.js';
import type { FfnGenome, FfnNode } from '../../spaces/types.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const genome = (formula: string, stack = 1, ratio = 4): FfnGenome => ({ tree: parseFfnFormula(formula), stack, ratio });
const treeErrors = (formula: string) => checkFfnTree(parseFfnFormula(formula)).errors;

describe('ffn tree validity', () => {
  it('accepts the standard FFN with height 4 and L2(L1(x)) with height 3', () => {
    expect(ffnSpace.check(STANDARD_FFN)).toEqual({ genome: STANDARD_FFN, errors: [] });
    expect(ffnHeight(STANDARD_FFN.tree)).toBe(4);
    expect(treeErrors('L2(L1(x))')).toEqual([]);
    expect(ffnHeight(parseFfnFormula('L2(L1(x))'))).toBe(3);
    expect(ffnSpace.render(STANDARD_FFN)).toBe('1 x [r=4] L2(gelu(L1(x)))');
  });

  it('accepts formula strings for the tree or a formula field', () => {
    expect(ffnSpace.check({ formula: 'L2(gelu(L1(x)))', stack: 1, ratio: 4 }).genome).toEqual(STANDARD_FFN);
    expect(ffnSpace.check({ tree: ' L2( gelu (L1(x)) ) ', stack: 1, ratio: 4 }).genome).toEqual(STANDARD_FFN);
    expect(ffnSpace.check({ tree: STANDARD_FFN.tree, formula: 'L2(gelu(L1(x)))', stack: 1, ratio: 4 }).genome).toEqual(STANDARD_FFN);
    expect(ffnSpace.check({ tree: STANDARD_FFN.tree, formula: 'L2(relu(L1(x)))', stack: 1, ratio: 4 }).errors).toEqual([
      "formula: 'L2(relu(L1(x)))' does not match tree 'L2(gelu(L1(x)))'",
    ]);
  });

  it('normalizes leaves given with an empty input list', () => {
    const r = ffnSpace.check({ tree: { op: 'L2', in: [{ op: 'L1', in: [{ op: 'x', in: [] }] }] }, stack: 2, ratio: 1 });
    expect(r.genome).toEqual(genome('L2(L1(x))', 2, 1));
  });

  const withTree = (tree: string) => ({ tree, stack: 1, ratio: 4 });
  const bad: [string, unknown, string][] = [
    ['unknown op', withTree('L2(gelu(L1(foo(x, x))))'),
      "tree.in[0].in[0].in[0]: unknown op 'foo' (known: x, L1, L2, gelu, relu, tanh, sigmoid, leaky_relu, elu, swish, squared_relu, add, mul, max)"],
    ['wrong arity', withTree('add(L2(L1(x)))'), "tree: 'add' needs 2 inputs, got 1 (wrong arity)"],
    ['wrong arity of a leaf', withTree('L2(L1(x(x)))'), "tree.in[0].in[0]: 'x' needs 0 inputs, got 1 (wrong arity)"],
    ['too deep', withTree('relu(add(x, L2(L1(add(x, relu(add(x, tanh(x))))))))'),
      'tree: height 9 exceeds the maximum 7 (tree too deep)'],
    ['too shallow', withTree('L2(L1)'), 'tree: height 2 is below the minimum 3 (tree too shallow)'],
    ['two L1s', withTree('L2(L1(L1(x)))'), 'tree: needs exactly one L1, found 2'],
    ['no L2', withTree('relu(add(x, L1(x)))'), 'tree: needs exactly one L2, found 0'],
    ['L1 above L2', withTree('L1(gelu(L2(x)))'), 'tree: L1 must be below L2 (it is not a descendant of L2)'],
    ['activation in activation', withTree('L2(gelu(relu(L1(x))))'),
      "tree.in[0].in[0]: activation 'relu' directly inside activation 'gelu' (nested activations are not allowed)"],
    ['op(a, a)', withTree('L2(L1(mul(tanh(x), tanh(x))))'),
      "tree.in[0].in[0]: 'mul' has two identical operands tanh(x) (op(a, a) is not allowed)"],
    ['binary width mismatch', withTree('L2(add(L1(x), x))'),
      "tree.in[0]: 'add' operands have different widths r*d and d (width mismatch)"],
    ['L2 input width', withTree('add(L2(x), L1(x))'), 'tree.in[0]: L2 expects an input of width r*d, got d (width mismatch)'],
    ['root width', withTree('gelu(L1(L2(x)))'), 'tree: output width is r*d, must be d (width mismatch)'],
    ['bad stack', { tree: 'L2(L1(x))', stack: 5, ratio: 4 }, 'stack: must be an integer in 1..4, got 5'],
    ['fractional stack', { tree: 'L2(L1(x))', stack: 1.5, ratio: 4 }, 'stack: must be an integer in 1..4, got 1.5'],
    ['bad ratio', { tree: 'L2(L1(x))', stack: 1, ratio: 8 }, 'ratio: must be one of 1, 2, 3, 4, got 8'],
    ['missing ratio', { tree: 'L2(L1(x))', stack: 1 }, 'ratio: must be one of 1, 2, 3, 4, got nothing'],
    ['missing tree', { stack: 1, ratio: 4 }, "tree: missing (give 'tree' as a node or formula string, or 'formula')"],
    ['unknown field', { tree: 'L2(L1(x))', stack: 1, ratio: 4, ratios: 2 }, 'ratios: unknown field (an FFN genome has tree, formula, stack, ratio)'],
    ['non-object genome', 'L2(L1(x))', "genome: must be an object { tree | formula, stack, ratio }, got 'L2(L1(x))'"],
    ['non-object node', { tree: { op: 'L2', in: [7] }, stack: 1, ratio: 4 }, 'tree.in[0]: must be a node { op, in? }, got 7'],
    ['missing op', { tree: { op: 'L2', in: [{ in: [] }] }, stack: 1, ratio: 4 }, 'tree.in[0].op: missing or not a string'],
    ['parse error', { formula: 'L2(gelu(L1(x))', stack: 1, ratio: 4 },
      "formula: parse error at column 15 of 'L2(gelu(L1(x))': expected ',' or ')', found end of formula"],
  ];
  for (const [name, input, message] of bad) {
    it(`rejects ${name}`, () => {
      const r = ffnSpace.check(input);
      expect(r.genome).toBeUndefined();
      expect(r.errors).toContain(message);
    });
  }

  it('collects every problem at once', () => {
    const r = ffnSpace.check({ tree: 'L2(gelu(relu(L1(foo(x)))))', stack: 0, ratio: 5 });
    expect(r.errors).toEqual([
      "tree.in[0].in[0]: activation 'relu' directly inside activation 'gelu' (nested activations are not allowed)",
      "tree.in[0].in[0].in[0].in[0]: unknown op 'foo' (known: x, L1, L2, gelu, relu, tanh, sigmoid, leaky_relu, elu, swish, squared_relu, add, mul, max)",
      'stack: must be an integer in 1..4, got 0',
      'ratio: must be one of 1, 2, 3, 4, got 5',
    ]);
  });

  it('never throws, even on hostile input', () => {
    const cyclic: { op: string; in: unknown[] } = { op: 'relu', in: [] };
    cyclic.in.push(cyclic);
    let deep: unknown = { op: 'x' };
    for (let i = 0; i < 10_000; i++) deep = { op: 'relu', in: [deep] };
    for (const x of [null, undefined, 5, [], {}, { tree: null }, { tree: cyclic, stack: 1, ratio: 4 }, { tree: deep, stack: 1, ratio: 4 }, { formula: '('.repeat(10_000) }, { formula: `${'relu('.repeat(10_000)}x${')'.repeat(10_000)}`, stack: 1, ratio: 4 }]) {
      const r = ffnSpace.check(x);
      expect(r.genome).toBeUndefined();
      expect(r.errors.length).toBeGreaterThan(0);
    }
    expect(ffnSpace.check({ tree: cyclic, stack: 1, ratio: 4 }).errors.some((e) => e.includes('(tree too deep)'))).toBe(true);
  });
});

describe('ffn formula syntax', () => {
  it('round-trips render and parse on sampled trees', () => {
    const rng = new Rng('roundtrip');
    for (let i = 0; i < 300; i++) {
      const { tree } = ffnSpace.sample(rng);
      const text = renderFfn(tree);
      expect(parseFfnFormula(text)).toEqual(tree);
      expect(renderFfn(parseFfnFormula(text))).toBe(text);
    }
  });

  it('reports the column of a parse error', () => {
    expect(() => parseFfnFormula('L2(gelu(L1(x)))x')).toThrow(
      "parse error at column 16 of 'L2(gelu(L1(x)))x': expected end of formula, found 'x'",
    );
    expect(() => parseFfnFormula('L2(, x)')).toThrow("parse error at column 4 of 'L2(, x)': expected an op name, found ','");
    expect(() => parseFfnFormula('')).toThrow('expected an op name, found end of formula');
  });
});

describe('ffn sampling and mutation', () => {
  it('samples 1,000 valid, varied genomes quickly', () => {
    const rng = new Rng('sample');
    const t0 = performance.now();
    const genomes = Array.from({ length: 1000 }, () => ffnSpace.sample(rng));
    expect(performance.now() - t0).toBeLessThan(1000);
    for (const g of genomes) expect(ffnSpace.check(g).errors).toEqual([]);
    const ids = new Set(genomes.map(ffnSpace.id));
    const trees = new Set(genomes.map((g) => renderFfn(g.tree)));
    expect(ids.size).toBeGreaterThan(400);
    expect(trees.size).toBeGreaterThan(150);
    // the standard family L2(act(L1(x))) is well represented
    expect(genomes.filter((g) => /^L2\(\w+\(L1\(x\)\)\)$/.test(renderFfn(g.tree))).length).toBeGreaterThan(150);
    expect(new Set(genomes.flatMap(ffnSpace.ops))).toEqual(new Set(ffnSpace.opSet()));
  });

  it('mutates 1,000 times into valid genomes with a new id, leaving the parent untouched', () => {
    const rng = new Rng('mutate');
    let g: FfnGenome = STANDARD_FFN;
    const seen = new Set<string>();
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      const parent = i % 2 ? ffnSpace.sample(rng) : g;
      const before = structuredClone(parent);
      const child = ffnSpace.mutate(parent, rng);
      expect(parent).toEqual(before);
      expect(ffnSpace.check(child).errors).toEqual([]);
      expect(ffnSpace.id(child)).not.toBe(ffnSpace.id(parent));
      seen.add(ffnSpace.id(child));
      if (i % 2 === 0) g = child;
    }
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(seen.size).toBeGreaterThan(500);
  });

  it('draws inserted and replaced ops in proportion to their priority', () => {
    const rng = new Rng('priority');
    const priority = Object.fromEntries([...FFN_UNARY_OPS, ...FFN_BINARY_OPS].map((o) => [o, o === 'tanh' ? 1 : 0]));
    for (let i = 0; i < 200; i++) {
      const child = ffnSpace.mutate(STANDARD_FFN, rng, { priority });
      const newActs = ffnSpace.ops(child).filter((o) => o !== 'gelu' && (FFN_UNARY_OPS as readonly string[]).includes(o));
      expect(newActs.every((o) => o === 'tanh')).toBe(true);
    }
  });

  it('draws untried ops (no finite priority) first', () => {
    const rng = new Rng('untried');
    for (let i = 0; i < 50; i++) expect(drawOp(['a', 'b', 'c'], rng, { a: 5, b: 1 })).toBe('c');
    for (let i = 0; i < 50; i++) expect(drawOp(['a', 'b', 'c'], rng, { a: 1, b: 0, c: Infinity })).toBe('c');
    for (let i = 0; i < 50; i++) expect(drawOp(['a', 'b', 'c'], rng, { a: 1, b: 0, c: -2 })).toBe('a');
  });
});

describe('ffn identity', () => {
  it('is stable across processes', () => {
    expect(ffnSpace.id(STANDARD_FFN)).toBe('1df5ef2266416c7a');
  });

  it('gives commuted binary ops one id', () => {
    for (const op of FFN_BINARY_OPS) {
      const a = genome(`${op}(L2(gelu(L1(x))), tanh(x))`);
      const b = genome(`${op}(tanh(x), L2(gelu(L1(x))))`);
      expect(ffnSpace.id(a)).toBe(ffnSpace.id(b));
      expect(renderFfn(a.tree)).not.toBe(renderFfn(b.tree));
    }
    expect(ffnSpace.id(genome('L2(L1(add(x, mul(x, relu(x)))))'))).toBe(ffnSpace.id(genome('L2(L1(add(mul(relu(x), x), x)))')));
  });

  it('gives functionally equal trees one id and different ones different ids', () => {
    expect(ffnSpace.id(genome('L2(L1(max(x, relu(x))))'))).toBe(ffnSpace.id(genome('L2(L1(relu(x)))')));
    const ids = [genome('L2(gelu(L1(x)))'), genome('L2(relu(L1(x)))'), genome('L2(gelu(L1(x)))', 2), genome('L2(gelu(L1(x)))', 1, 2)].map(
      ffnSpace.id,
    );
    expect(new Set(ids).size).toBe(4);
  });
});

describe('ffn cost', () => {
  it('counts exactly the weights the compiler allocates, times the stack', () => {
    const d = 128;
    const rd = 4 * d;
    const perBlock = d * rd + rd + rd * d + d + 2 * d;
    expect(ffnCost(STANDARD_FFN, d)).toEqual({ params: perBlock, flops: 4 * d * rd + FFN_UNARY.gelu.flops * rd });
    expect(ffnCost({ ...STANDARD_FFN, stack: 3 }, d).params).toBe(3 * perBlock);
    expect(ffnSpace.cost(STANDARD_FFN)).toEqual(ffnCost(STANDARD_FFN, 128));
  });

  it('costs element-wise ops at the width they run at', () => {
    const d = 16;
    const g = genome('add(tanh(L2(relu(L1(x)))), x)', 1, 2);
    const linear = 4 * d * 2 * d;
    const ops = FFN_UNARY.relu.flops * 2 * d + FFN_UNARY.tanh.flops * d + FFN_BINARY.add.flops * d;
    expect(ffnCost(g, d).flops).toBe(linear + ops);
  });
});

const GRID = [-2.5, -1.3, -0.7, -0.2, 0.3, 0.9, 1.6, 2.8];
const GRID_B = [1.1, -0.4, -2.0, 0.5, -0.6, 1.5, 0.2, 2.1];

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(abs + rel * Math.abs(expected[i]));
  }
}

describe('ffn ops: tf against plain JS', () => {
  for (const op of FFN_UNARY_OPS) {
    it(`${op}: tf matches the float64 implementation`, () => {
      const got = tf.tidy(() => ffnUnaryTf(op, tf.tensor1d(GRID)).dataSync());
      close(got, GRID.map((v) => FFN_UNARY[op].js(v)), 1e-5, 1e-6);
    });
  }
  for (const op of FFN_BINARY_OPS) {
    it(`${op}: tf matches the float64 implementation`, () => {
      const got = tf.tidy(() => ffnBinaryTf(op, tf.tensor1d(GRID), tf.tensor1d(GRID_B)).dataSync());
      close(got, GRID.map((v, i) => FFN_BINARY[op].js(v, GRID_B[i])), 1e-5, 1e-6);
    });
  }

  it('rejects ops that are not in the registry', () => {
    expect(() => tf.tidy(() => ffnUnaryTf('add', tf.tensor1d(GRID)))).toThrow("not an FFN activation: 'add'");
    expect(() => tf.tidy(() => ffnBinaryTf('gelu', tf.tensor1d(GRID), tf.tensor1d(GRID)))).toThrow("not an FFN binary op: 'gelu'");
  });
});

describe('ffn ops: tf gradients against central differences', () => {
  const eps = 1e-3;
  // Element-wise ops: perturbing every element at once gives each element's own derivative.
  const numeric = (f: (t: tf.Tensor) => tf.Tensor, x: number[]) =>
    tf.tidy(() => {
      const up = f(tf.tensor1d(x.map((v) => v + eps)));
      const down = f(tf.tensor1d(x.map((v) => v - eps)));
      return tf.div(tf.sub(up, down), 2 * eps).dataSync();
    });

  for (const op of FFN_UNARY_OPS) {
    it(`${op}`, () => {
      const f = (t: tf.Tensor) => ffnUnaryTf(op, t);
      const analytic = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(f(t)))(tf.tensor1d(GRID)).dataSync());
      close(analytic, numeric(f, GRID), 1e-2, 1e-3);
    });
  }
  for (const op of FFN_BINARY_OPS) {
    it(`${op}`, () => {
      const [da, db] = tf.tidy(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(ffnBinaryTf(op, a, b)))([tf.tensor1d(GRID), tf.tensor1d(GRID_B)]).map((g) => g.dataSync()),
      );
      close(da, numeric((t) => ffnBinaryTf(op, t, tf.tensor1d(GRID_B)), GRID), 1e-2, 1e-3);
      close(db, numeric((t) => ffnBinaryTf(op, tf.tensor1d(GRID), t), GRID_B), 1e-2, 1e-3);
    });
  }
});

describe('evalFfnTree', () => {
  it('evaluates sampled trees the same with tfjs tensors and float64 arrays', () => {
    const rows = 5;
    const d = 4;
    const rng = new Rng('eval');
    for (let i = 0; i < 40; i++) {
      const g = ffnSpace.sample(rng);
      const rd = g.ratio * d;
      const x = fixedMatrix(1, rows, d);
      const w1 = fixedMatrix(2, d, rd);
      const w2 = fixedMatrix(3, rd, d);
      const viaTf = tf.tidy(() =>
        evalFfnTree<tf.Tensor>(g.tree, tf.tensor2d(Float32Array.from(x), [rows, d]), {
          L1: (t) => tf.matMul(t as tf.Tensor2D, tf.tensor2d(Float32Array.from(w1), [d, rd])),
          L2: (t) => tf.matMul(t as tf.Tensor2D, tf.tensor2d(Float32Array.from(w2), [rd, d])),
          unary: ffnUnaryTf,
          binary: ffnBinaryTf,
        }).dataSync(),
      );
      const viaJs = evalFfnTree<number[][]>(g.tree, toRows(x, rows, d), {
        L1: (m) => matmul(m, toRows(w1, d, rd)),
        L2: (m) => matmul(m, toRows(w2, rd, d)),
        unary: (op, m) => m.map((r) => r.map(FFN_UNARY[op as keyof typeof FFN_UNARY].js)),
        binary: (op, a, b) => a.map((r, i) => r.map((v, j) => FFN_BINARY[op as keyof typeof FFN_BINARY].js(v, b[i][j]))),
      }).flat();
      close(viaTf, viaJs, 1e-4, 1e-5);
    }
  });

  it('refuses a node with the wrong number of inputs', () => {
    const broken: FfnNode = { op: 'L2', in: [{ op: 'add', in: [{ op: 'x' }] }] };
    expect(() => evalFfnTree(broken, 0, { L1: (t) => t, L2: (t) => t, unary: (_, t) => t, binary: (_, a) => a })).toThrow(
      "cannot evaluate FFN node 'add' with 1 inputs",
    );
  });
});

function toRows(a: Float64Array, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from(a.subarray(i * cols, (i + 1) * cols)));
}

function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

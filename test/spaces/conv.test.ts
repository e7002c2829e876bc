import { describe, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import { CONV_KERNELS, checkConv, convCost, mutateConv, renderConv, sampleConv } from '../../spaces/conv.js';
import { FFN_UNARY } from '../../spaces/ffn-ops.js';

describe('conv mixer genome', () => {
  it('accepts every kernel size of the space', () => {
    for (const kernel of CONV_KERNELS) expect(checkConv({ type: 'conv', kernel })).toEqual([]);
  });

  const bad: [string, unknown, string[]][] = [
    ['a kernel outside the list', { type: 'conv', kernel: 4 }, ['mixer.kernel: must be one of 3, 5, 7, 9, 15, 31, 65, got 4']],
    ['a missing kernel', { type: 'conv' }, ['mixer.kernel: must be one of 3, 5, 7, 9, 15, 31, 65, got nothing']],
    ['a kernel given as a string', { type: 'conv', kernel: '7' }, ['mixer.kernel: must be one of 3, 5, 7, 9, 15, 31, 65, got "7"']],
    ['another type', { type: 'attention', kernel: 7 }, ['mixer.type: must be \'conv\', got "attention"']],
    ['an unknown field', { type: 'conv', kernel: 7, dilation: 2 }, ['mixer.dilation: unknown field (a conv mixer has type and kernel)']],
    ['a non-object', 7, ["mixer: must be { type: 'conv', kernel }, got number"]],
    ['null', null, ["mixer: must be { type: 'conv', kernel }, got null"]],
    ['everything wrong', { kernel: 2, x: 1 }, [
      'mixer.x: unknown field (a conv mixer has type and kernel)',
      "mixer.type: must be 'conv', got nothing",
      'mixer.kernel: must be one of 3, 5, 7, 9, 15, 31, 65, got 2',
    ]],
  ];
  for (const [name, input, errors] of bad) {
    it(`rejects ${name}`, () => expect(checkConv(input)).toEqual(errors));
  }

  it('prefixes messages with the given path', () => {
    expect(checkConv({ type: 'conv', kernel: 8 }, 'layers[1].mixer')).toEqual([
      'layers[1].mixer.kernel: must be one of 3, 5, 7, 9, 15, 31, 65, got 8',
    ]);
  });

  it('samples every kernel size', () => {
    const rng = new Rng('conv-sample');
    const seen = new Set(Array.from({ length: 300 }, () => sampleConv(rng).kernel));
    expect([...seen].sort((a, b) => a - b)).toEqual([...CONV_KERNELS]);
  });

  it('mutates to a neighbouring kernel size', () => {
    const rng = new Rng('conv-mutate');
    expect(mutateConv({ type: 'conv', kernel: 3 }, rng)).toEqual({ type: 'conv', kernel: 5 });
    expect(mutateConv({ type: 'conv', kernel: 65 }, rng)).toEqual({ type: 'conv', kernel: 31 });
    const fromNine = new Set(Array.from({ length: 50 }, () => mutateConv({ type: 'conv', kernel: 9 }, rng).kernel));
    expect([...fromNine].sort((a, b) => a - b)).toEqual([7, 15]);
  });

  it('renders as lightconv(k=...)', () => {
    expect(renderConv({ type: 'conv', kernel: 7 })).toBe('lightconv(k=7)');
  });
});

describe('conv mixer cost', () => {
  const d = 128;
  const heads = 2;
  const glu = d * (FFN_UNARY.sigmoid.flops + 1);
  const linears = 2 * d * 2 * d + 2 * d * d;

  it('counts Linear d->2d, one kernel per head and Linear d->d', () => {
    expect(convCost(7, d, heads, 64).params).toBe(d * 2 * d + 2 * d + heads * 7 + d * d + d);
    expect(convCost(65, d, heads, 64).params - convCost(3, d, heads, 64).params).toBe(heads * 62);
  });

  it('counts the convolution taps that fall inside the sequence', () => {
    // k = 7 over T = 64: 64 * 7 taps less 3 + 2 + 1 missing at each end = 436
    expect(convCost(7, d, heads, 64).flops).toBe(linears + glu + (2 * d * 436) / 64);
    // a kernel wider than the sequence sees the whole sequence from every token
    expect(convCost(65, d, heads, 8).flops).toBe(linears + glu + 2 * d * 8);
    expect(convCost(31, d, heads, 8).flops).toBe(convCost(65, d, heads, 8).flops);
    expect(convCost(3, d, heads, 1).flops).toBe(linears + glu + 2 * d);
  });

  it('grows with the kernel up to the sequence length', () => {
    const flops = CONV_KERNELS.map((k) => convCost(k, d, heads, 128).flops);
    for (let i = 1; i < flops.length; i++) expect(flops[i]).toBeGreaterThan(flops[i - 1]);
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => convCost(7, 0, heads, 64)).toThrow('convCost: d must be a positive integer, got 0');
    expect(() => convCost(7, d, 1.5, 64)).toThrow('convCost: heads must be a positive integer, got 1.5');
  });
});

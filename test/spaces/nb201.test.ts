import { describe, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import {
  NB201_OPS,
  checkArchString,
  mutateNb201,
  nb201Space,
  parseArchString,
  toArchString,
  type Nb201Genome,
} from '../../spaces/nb201.js';

const KNOWN = 'known: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3';
const ARCH = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|';

describe('nb201 space', () => {
  it('samples 1000 valid cells that pass check unchanged', () => {
    const rng = new Rng(1);
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const g = nb201Space.sample(rng);
      expect(g.edges).toHaveLength(6);
      for (const op of g.edges) {
        expect(NB201_OPS).toContain(op);
        counts.set(op, (counts.get(op) ?? 0) + 1);
      }
      const r = nb201Space.check(g);
      expect(r.errors).toEqual([]);
      expect(r.genome).toEqual(g);
      seen.add(nb201Space.id(g));
    }
    // 1000 draws from 15,625 cells: few repeats; every op drawn about 1200 times of 6000
    expect(seen.size).toBeGreaterThan(950);
    for (const op of NB201_OPS) expect(counts.get(op)).toBeGreaterThan(1000);
  });

  it('mutate changes exactly one edge to a different op, and leaves the parent alone', () => {
    const rng = new Rng(2);
    for (let i = 0; i < 500; i++) {
      const g = nb201Space.sample(rng);
      const before = [...g.edges];
      const m = nb201Space.mutate(g, rng);
      expect(g.edges).toEqual(before);
      const changed = m.edges.filter((op, j) => op !== g.edges[j]);
      expect(changed).toHaveLength(1);
      expect(nb201Space.check(m).errors).toEqual([]);
      expect(nb201Space.id(m)).not.toBe(nb201Space.id(g));
    }
  });

  it('mutate draws the new op by priority; ops without a priority are tried first', () => {
    const g: Nb201Genome = { edges: Array(6).fill('none') };
    const rng = new Rng(3);
    const priority = { skip_connect: 0, nor_conv_1x1: 0, nor_conv_3x3: 5, avg_pool_3x3: 0 };
    for (let i = 0; i < 100; i++) expect(mutateNb201(g, rng, priority).edges).toContain('nor_conv_3x3');
    const partial = { nor_conv_3x3: 5, avg_pool_3x3: 1 };
    const drawn = new Set<string>();
    for (let i = 0; i < 100; i++) drawn.add(mutateNb201(g, rng, partial).edges.find((op) => op !== 'none')!);
    expect([...drawn].sort()).toEqual(['nor_conv_1x1', 'skip_connect']);
  });

  it('round-trips arch strings', () => {
    const rng = new Rng(4);
    for (let i = 0; i < 200; i++) {
      const g = nb201Space.sample(rng);
      const s = toArchString(g);
      expect(nb201Space.render(g)).toBe(s);
      expect(parseArchString(s)).toEqual(g);
      expect(nb201Space.check(s).genome).toEqual(g);
      expect(nb201Space.check({ arch: s }).genome).toEqual(g);
    }
    expect(parseArchString(ARCH).edges).toEqual([
      'nor_conv_3x3', 'nor_conv_3x3', 'nor_conv_3x3', 'skip_connect', 'nor_conv_3x3', 'nor_conv_3x3',
    ]);
  });

  it('accepts a genome file with space: nb201', () => {
    expect(nb201Space.check({ space: 'nb201', edges: Array(6).fill('none') }).errors).toEqual([]);
  });

  const bad: [string, unknown, string[]][] = [
    ['a number', 7, ["nb201 genome: must be { edges: [6 ops] }, { arch: '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' } or an arch string, got number"]],
    ['null', null, ["nb201 genome: must be { edges: [6 ops] }, { arch: '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' } or an arch string, got null"]],
    ['an array', ['none'], ["nb201 genome: must be { edges: [6 ops] }, { arch: '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' } or an arch string, got an array"]],
    ['missing edges', {}, [`edges: missing (an array of 6 ops, ${KNOWN})`]],
    ['edges not an array', { edges: 'none' }, ['edges: must be an array of 6 ops, got string']],
    ['5 edges', { edges: Array(5).fill('none') }, ['edges: must have 6 ops, got 5']],
    ['unknown ops, each listed', { edges: ['none', 'conv_5x5', 'none', 'none', 3, 'none'] }, [
      `edges[1]: unknown op "conv_5x5" (${KNOWN})`,
      `edges[4]: unknown op 3 (${KNOWN})`,
    ]],
    ['everything wrong', { edges: ['x'], foo: 1, space: 'ffn' }, [
      'foo: unknown field (an nb201 genome has edges or arch)',
      "space: must be 'nb201', got \"ffn\"",
      'edges: must have 6 ops, got 1',
      `edges[0]: unknown op "x" (${KNOWN})`,
    ]],
    ['both edges and arch', { edges: Array(6).fill('none'), arch: ARCH }, ['give either edges or arch, not both']],
    ['arch not a string', { arch: 3 }, ['arch: must be an arch string, got number']],
    ['an arch string with 2 groups', '|none~0|+|none~0|none~1|', [
      'arch: must have 3 node groups separated by \'+\' (|op~0|+|op~0|op~1|+|op~0|op~1|op~2|), got 2 in "|none~0|+|none~0|none~1|"',
    ]],
    ['an arch string with a wrong edge count', '|none~0|+|none~0|+|none~0|none~1|none~2|', [
      'arch: node 2 must have 2 input edges (op~0 .. op~1), got 1 in "|none~0|"',
    ]],
    ['an arch string with bad ops and inputs', { arch: '|conv~0|+|none~0|none~2|+|none~0|none~1|none' } , [
      `arch: edges[0]: unknown op "conv" (${KNOWN})`,
      'arch: edges[2] "none~2" must come from node 1 (op~1), not node 2',
      'arch: node 3 group "|none~0|none~1|none" must start and end with \'|\'',
    ]],
    ['an arch token without ~', '|none|+|none~0|none~1|+|none~0|none~1|none~2|', ['arch: edges[0] "none" must be op~0']],
  ];
  for (const [name, input, errors] of bad) {
    it(`check rejects ${name} with every message`, () => {
      const r = nb201Space.check(input);
      expect(r.genome).toBeUndefined();
      expect(r.errors).toEqual(errors);
    });
  }

  it('check never throws on odd input', () => {
    for (const x of [undefined, '', '+', '||+||+||', { edges: [null, {}, [], 1n, undefined, NaN] }, Symbol('x')]) {
      expect(() => nb201Space.check(x)).not.toThrow();
      expect(nb201Space.check(x).errors.length).toBeGreaterThan(0);
    }
  });

  it('parseArchString throws listing the problems', () => {
    expect(() => parseArchString('|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|')).toThrow(/unknown op "bad"/);
    expect(checkArchString(ARCH).errors).toEqual([]);
  });

  it('ids are stable, hex, and differ between isomorphic cells', () => {
    const g = parseArchString(ARCH);
    expect(nb201Space.id(g)).toBe(nb201Space.id({ edges: [...g.edges] }));
    expect(nb201Space.id(g)).toMatch(/^[0-9a-f]{16}$/);
    // pinned: ids must not change across versions (run files store them)
    expect(nb201Space.id({ edges: Array(6).fill('none') })).toBe(nb201Space.id(parseArchString('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|')));
    // both cells compute skip(x) into node 3 via an unused path: isomorphic, but distinct rows
    const a = parseArchString('|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|');
    const b = parseArchString('|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|');
    expect(nb201Space.id(a)).not.toBe(nb201Space.id(b));
  });

  it('cost counts conv parameters and FLOPs of a 16-channel 32x32 cell; ops and opSet', () => {
    expect(nb201Space.cost({ edges: Array(6).fill('none') })).toEqual({ params: 0, flops: 0 });
    const g = parseArchString('|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|');
    expect(nb201Space.cost(g)).toEqual({
      params: 2 * (9 * 256 + 32) + (256 + 32),
      flops: 2 * (2 * 9 * 256 * 1024) + 2 * 256 * 1024 + 9 * 16 * 1024,
    });
    expect(nb201Space.ops(g).sort()).toEqual(['avg_pool_3x3', 'none', 'nor_conv_1x1', 'nor_conv_3x3', 'skip_connect']);
    expect(nb201Space.ops({ edges: Array(6).fill('none') })).toEqual(['none']);
    expect(nb201Space.opSet()).toEqual([...NB201_OPS]);
  });
});

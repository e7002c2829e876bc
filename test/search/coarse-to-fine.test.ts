import { describe, expect, it } from 'vitest';
import type { Evaluator } from '../../evaluators/types.js';
import { CoarseToFine } from '../../search/coarse-to-fine.js';
import { search } from '../../search/loop.js';
import { makeStrategy } from '../../search/strategies.js';
import type { Candidate, Trial } from '../../search/types.js';
import { backboneSpace, knownGood, mixerId } from '../../spaces/backbone.js';
import { hashId } from '../../spaces/base/hash.js';
import { Rng } from '../../spaces/base/rng.js';
import { ffnSpace } from '../../spaces/ffn-tree.js';
import { DEFAULT_MACRO, type MacroRanges } from '../../spaces/macro.js';
import { nb201Space } from '../../spaces/nb201.js';
import type { BackboneGenome } from '../../spaces/types.js';

const ranges: MacroRanges = { ...DEFAULT_MACRO, layers: [1, 3], hidden: [64, 128], heads: [1, 2, 4], pool: ['cls', 'mean', 'max'], embed: [32] };
const space = backboneSpace(ranges);

/** The blocks of a genome: each layer's mixer and FFN tree and stack (not its ratio). */
const blocks = (g: BackboneGenome) => g.layers.map((l) => `${mixerId(l.mixer)}|${l.ffn.stack}|${ffnSpace.id({ ...l.ffn, ratio: 4 })}`);
/** The macro shape: depth, width, heads, ratios, readout, embedding. */
const shape = (g: BackboneGenome) => ({ depth: g.layers.length, hidden: g.hidden, heads: g.heads, ratios: g.layers.map((l) => l.ffn.ratio), pool: g.pool ?? 'cls', embed: g.embed ?? g.hidden });
const coarseShape = { depth: 3, hidden: 64, heads: 1, ratios: [4, 4, 4], pool: 'cls', embed: 64 };

/** A made-up fitness that depends on the blocks and the shape, so both stages have something to find. */
const fitness = (g: BackboneGenome) => (parseInt(hashId(...blocks(g)).slice(0, 6), 16) % 1000) / 1000 + g.hidden / 1000 + g.layers.length / 100;

function trial(c: Candidate, index: number): Trial {
  const g = c.genome as BackboneGenome;
  return { index, batch: 0, id: c.id, genome: g, formula: '', parent: c.parent, origin: c.origin, status: 'ok', scores: { dev: fitness(g) }, fitness: fitness(g), cost: { params: 0, flops: 0 }, ops: space.ops(g), seconds: 0 };
}

describe('backbone mutation scopes', () => {
  it("'blocks' keeps the macro shape and 'macro' keeps every layer's blocks (the depth copies or drops whole layers)", () => {
    const rng = new Rng(5);
    for (let i = 0; i < 300; i++) {
      const g = space.sample(rng);
      const b = space.mutate(g, rng, { scope: 'blocks' });
      expect(space.id(b)).not.toBe(space.id(g));
      expect(shape(b)).toEqual(shape(g));
      const m = space.mutate(g, rng, { scope: 'macro' });
      expect(space.id(m)).not.toBe(space.id(g));
      expect(space.check(m).errors).toEqual([]);
      if (m.layers.length === g.layers.length) expect(blocks(m)).toEqual(blocks(g));
      else for (const x of blocks(m)) expect(blocks(g)).toContain(x);
    }
  });

  it('coarse.sample and coarse.project give the fixed shape: deepest depth, narrowest width, its textbook heads, ratio 4, [CLS]', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) {
      expect(shape(space.coarse!.sample(rng))).toEqual(coarseShape);
      const g = space.sample(rng);
      const p = space.coarse!.project(g);
      expect(shape(p)).toEqual(coarseShape);
      // a shallower genome repeats its last layer; its own layers keep their blocks
      expect(blocks(p).slice(0, g.layers.length)).toEqual(blocks(g).slice(0, 3));
      expect(space.check(p).errors).toEqual([]);
    }
  });
});

describe('coarse-to-fine strategy', () => {
  it('searches the blocks at the fixed shape for half the budget, then only the shape around the best blocks', () => {
    const s = makeStrategy('coarse-to-fine', space, 7, { seeded: true, budget: 40 }) as CoarseToFine<BackboneGenome>;
    const asked: Candidate[] = [];
    const told: Trial[] = [];
    while (asked.length < 40) {
      const batch = s.ask(4);
      asked.push(...batch);
      const trials = batch.map((c, i) => trial(c, asked.length - batch.length + i));
      told.push(...trials);
      s.tell(trials);
    }
    const stage1 = told.slice(0, 20);
    const stage2 = told.slice(20);
    // stage 1: every candidate at the fixed shape; the known-good seeds first, put into that shape, without duplicates
    for (const t of stage1) expect(shape(t.genome as BackboneGenome)).toEqual(coarseShape);
    const seeds = [...new Set(knownGood(ranges).map((g) => space.id(space.coarse!.project(g))))];
    expect(stage1.slice(0, seeds.length).map((t) => t.id)).toEqual(seeds);
    expect(stage1.slice(0, seeds.length).every((t) => t.origin === 'seed')).toBe(true);
    expect(stage1.some((t) => t.origin === 'mutate')).toBe(true);
    // stage 2: children of stage-1 members' blocks, at other shapes
    expect(s.currentStage()).toBe(2);
    const stage1Blocks = new Set(stage1.flatMap((t) => blocks(t.genome as BackboneGenome)));
    for (const t of stage2) {
      expect(t.origin).toBe('mutate');
      for (const b of blocks(t.genome as BackboneGenome)) expect(stage1Blocks).toContain(b);
    }
    expect(stage2.some((t) => JSON.stringify(shape(t.genome as BackboneGenome)) !== JSON.stringify(coarseShape))).toBe(true);
    // the first stage-2 parents are the best stage-1 members (the population: a quarter of the budget)
    const best = [...stage1].sort((a, b) => b.fitness! - a.fitness!).slice(0, 10).map((t) => t.id);
    for (const t of stage2.slice(0, 4)) expect(best).toContain(t.parent);
  });

  it('a strategy restored from its saved state mid-search asks what the uninterrupted one asks', () => {
    const drive = (s: CoarseToFine<BackboneGenome>, from: number, to: number) => {
      const ids: string[] = [];
      for (let n = from; n < to; n += 4) {
        const batch = s.ask(4);
        ids.push(...batch.map((c) => c.id));
        s.tell(batch.map((c, i) => trial(c, n + i)));
      }
      return ids;
    };
    const whole = drive(new CoarseToFine(space, 3, { seeded: true, stage1: 12 }), 0, 32);
    for (const cut of [8, 12, 20]) {
      const a = new CoarseToFine(space, 3, { seeded: true, stage1: 12 });
      const first = drive(a, 0, cut);
      const b = new CoarseToFine(space, 3, { seeded: true, stage1: 12 });
      b.restore(JSON.parse(JSON.stringify(a.state())));
      expect([...first, ...drive(b, cut, 32)]).toEqual(whole);
    }
    expect(() => new CoarseToFine(space, 3, { stage1: 12 }).restore({ ...new CoarseToFine(space, 3, { stage1: 12 }).state(), stage: 3 as never })).toThrow(/coarse-to-fine stage/);
  });

  it('runs in the search loop with the same trials every time, and refuses a space without a macro shape', async () => {
    const evaluator: Evaluator<BackboneGenome> = {
      name: 'made-up',
      scoreNames: ['dev'],
      async score(c) {
        return { dev: fitness(c.genome) };
      },
    };
    const run = async () =>
      (await search({ space, strategy: makeStrategy('coarse-to-fine', space, 2, { budget: 24 }), evaluator, seed: 2, budget: 24, batch: 4, concurrency: 2, objectives: ['dev'] })).trials.map((t) => ({ ...t, seconds: 0 }));
    const a = await run();
    expect(a).toHaveLength(24);
    expect(await run()).toEqual(a);
    expect(() => makeStrategy('coarse-to-fine', nb201Space, 0, { budget: 10 })).toThrow(/needs a space with a macro shape .*'nb201' has none/);
  });
});

import { describe, expect, it } from 'vitest';
import { Nb201Evaluator } from '../../evaluators/nb201.js';
import type { Evaluator } from '../../evaluators/types.js';
import { search, type SearchState } from '../../search/loop.js';
import { OpEvolution } from '../../search/op-evolution.js';
import { makeStrategy, STRATEGIES } from '../../search/strategies.js';
import type { Candidate, Strategy } from '../../search/types.js';
import { nb201Space, type Nb201Genome } from '../../spaces/nb201.js';

const table = Nb201Evaluator.load();

/** The NB201 lookup with a configurable delay, so evaluations finish out of order. */
function slowEvaluator(delays: (c: Candidate<Nb201Genome>) => number, calls: string[] = []): Evaluator<Nb201Genome> {
  return {
    name: 'slow-nb201',
    scoreNames: table.scoreNames,
    async score(c, ctx) {
      calls.push(c.id);
      await new Promise((r) => setTimeout(r, delays(c)));
      return table.score(c, ctx);
    },
  };
}

const strip = (s: SearchState<Nb201Genome>) => s.trials.map((t) => ({ ...t, seconds: 0 }));

describe('search loop', () => {
  // coarse-to-fine needs a macro shape, which nb201 lacks: test/search/coarse-to-fine.test.ts runs it on the backbone space
  for (const name of Object.keys(STRATEGIES).filter((s) => !STRATEGIES[s].needsShape))
    it(`${name}: the same seed gives the same trials, whatever the concurrency`, async () => {
      const run = async (concurrency: number, delay: (c: Candidate<Nb201Genome>) => number) =>
        strip(await search({ space: nb201Space, strategy: makeStrategy(name, nb201Space, 3), evaluator: slowEvaluator(delay), seed: 3, budget: 40, batch: 4, concurrency, objectives: ['cifar10'] }));
      const a = await run(1, () => 0);
      const b = await run(3, (c) => c.id.charCodeAt(0) % 5);
      expect(b).toEqual(a);
      expect(a.length).toBe(40);
      expect(new Set(a.map((t) => t.id)).size).toBe(40);
      expect(a.map((t) => t.index)).toEqual([...Array(40).keys()]);
      const c = await run(1, () => 0);
      expect(c).toEqual(a);
    });

  it('rejects over-limit candidates before evaluating them, and records them', async () => {
    const calls: string[] = [];
    const s = await search({ space: nb201Space, strategy: makeStrategy('random', nb201Space, 1), evaluator: slowEvaluator(() => 0, calls), seed: 1, budget: 20, batch: 5, objectives: ['cifar10'], limits: { maxParams: 2336 * 2 } });
    const over = s.trials.filter((t) => t.status === 'over-budget');
    expect(over.length).toBeGreaterThan(0);
    for (const t of over) {
      expect(t.reason).toMatch(/params \d+ > --max-params 4672/);
      expect(calls).not.toContain(t.id);
    }
    expect(s.trials.filter((t) => t.status === 'ok').length).toBe(20);
    for (const t of s.trials.filter((t) => t.status === 'ok')) expect(t.cost.params).toBeLessThanOrEqual(4672);
  });

  it('records an evaluator failure as a failed trial and goes on', async () => {
    let n = 0;
    const flaky: Evaluator<Nb201Genome> = { name: 'flaky', scoreNames: [], score: async (c, ctx) => (++n % 3 === 0 ? Promise.reject(new Error('worker process exited (signal SIGKILL)')) : table.score(c, ctx)) };
    const s = await search({ space: nb201Space, strategy: makeStrategy('regularized-evolution', nb201Space, 2), evaluator: flaky, seed: 2, budget: 12, batch: 3, objectives: ['cifar10'] });
    const failed = s.trials.filter((t) => t.status === 'failed');
    expect(failed.length).toBe(4);
    expect(failed[0].reason).toMatch(/SIGKILL/);
    expect(failed[0].fitness).toBeUndefined();
  });

  it('records invalid genomes as invalid trials without evaluating them', async () => {
    const bad: Strategy = {
      name: 'bad',
      ask: (n) => Array.from({ length: n }, (_, i) => ({ genome: { edges: ['conv_9x9'] }, id: `bad${Math.random()}${i}`, origin: 'sample' as const })),
      tell: () => {},
      state: () => ({}),
      restore: () => {},
    };
    await expect(search({ space: nb201Space, strategy: bad, evaluator: table, seed: 0, budget: 2, batch: 2, objectives: ['cifar10'] })).rejects.toThrow(/nothing to evaluate/);
  });

  it('resumes exactly from a checkpoint taken after any trial, even mid-batch', async () => {
    const snapshots: string[] = [];
    const opts = () => ({ space: nb201Space, evaluator: table, seed: 11, budget: 30, batch: 4, objectives: ['cifar10'] });
    const full = await search({ ...opts(), strategy: new OpEvolution(nb201Space, 11, { population: 8, tournament: 3 }), persist: async (s) => void snapshots.push(JSON.stringify(s)) });
    expect(snapshots.length).toBeGreaterThan(30);
    for (const k of [1, 5, 6, 17, snapshots.length - 2]) {
      const state = JSON.parse(snapshots[k]) as SearchState<Nb201Genome>;
      const resumed = await search({ ...opts(), strategy: new OpEvolution(nb201Space, 999, { population: 8, tournament: 3 }), state });
      expect(strip(resumed)).toEqual(strip(full));
    }
  });

  it('extends a finished run when the budget grows', async () => {
    const base = { space: nb201Space, evaluator: table, seed: 4, batch: 5, objectives: ['cifar10'] };
    const long = await search({ ...base, strategy: makeStrategy('op-evolution', nb201Space, 4), budget: 30 });
    const short = await search({ ...base, strategy: makeStrategy('op-evolution', nb201Space, 4), budget: 15 });
    const extended = await search({ ...base, strategy: makeStrategy('op-evolution', nb201Space, 0), budget: 30, state: JSON.parse(JSON.stringify(short)) });
    expect(strip(extended)).toEqual(strip(long));
  });

  it('op-evolution keeps UCB priorities per op and steers mutations by them', async () => {
    const s = new OpEvolution(nb201Space, 5, { population: 10, tournament: 3, c: 0.1 });
    await search({ space: nb201Space, strategy: s, evaluator: table, seed: 5, budget: 60, batch: 1, objectives: ['cifar10'] });
    const p = s.priorities();
    expect(Object.keys(p).sort()).toEqual(['avg_pool_3x3', 'none', 'nor_conv_1x1', 'nor_conv_3x3', 'skip_connect']);
    expect(p.nor_conv_3x3).toBeGreaterThan(p.avg_pool_3x3);
  });
});

describe('evolution bookkeeping', () => {
  it('samples dropped as duplicates do not stall the initial population', async () => {
    // a space of 4 genomes: most samples are duplicates the loop drops
    const tiny = { ...nb201Space, sample: (rng: { int(n: number): number }) => ({ edges: ['none', 'none', 'none', 'none', 'none', NB4[rng.int(4)]] }) };
    const s = makeStrategy('regularized-evolution', tiny, 1, { population: 4, tournament: 2 });
    const state = await search({ space: tiny, strategy: s, evaluator: table, seed: 1, budget: 4, batch: 2, objectives: ['cifar10'] });
    expect(state.trials).toHaveLength(4);
    expect((s.state() as { population: unknown[] }).population).toHaveLength(4);
  });
});

const NB4 = ['skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'];

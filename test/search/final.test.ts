import { describe, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import { devLead, finalJobs, finalResult, pickFinalists, runFinal, screenedFinalists, type FinalState } from '../../search/final.js';
import { SearchAborted } from '../../search/loop.js';
import type { Trial } from '../../search/types.js';
import type { Evaluator } from '../../evaluators/types.js';
import type { SearchSpace } from '../../spaces/types.js';

// A toy space whose genomes are numbers: enough to check ranking, dedupe and the table.
const space = {
  id: (g: number) => `g${g}`,
  render: (g: number) => `genome ${g}`,
  cost: (g: number) => ({ params: g * 100, flops: g }),
} as unknown as SearchSpace<number>;

function trial(index: number, g: number, fitness: number | undefined, status: Trial['status'] = 'ok'): Trial<number> {
  return { index, batch: 0, id: `g${g}`, genome: g, formula: `genome ${g}`, origin: 'sample', status, scores: {}, fitness, cost: { params: g * 100, flops: g }, ops: [], seconds: 0 };
}

describe('final stage', () => {
  it('picks the top K distinct ok trials, then the baseline', () => {
    const trials = [trial(0, 1, 0.5), trial(1, 2, 0.9), trial(2, 2, 0.9), trial(3, 3, 0.7), trial(4, 4, undefined, 'failed'), trial(5, 5, 0.8)];
    const f = pickFinalists(space, trials, 3, 99);
    expect(f.map((x) => x.id)).toEqual(['g2', 'g5', 'g3', 'g99']);
    expect(f.map((x) => x.baseline)).toEqual([false, false, false, true]);
    expect(f[0]).toMatchObject({ trial: 1, searchFitness: 0.9 });
    expect(f[3].trial).toBeUndefined();
    // a baseline the search scored below the top k keeps its trial and search score
    const g = pickFinalists(space, [...trials, trial(6, 99, 0.1)], 3, 99);
    expect(g[3]).toMatchObject({ id: 'g99', baseline: true, trial: 6, searchFitness: 0.1 });
  });

  it('takes only candidates within a parameter limit, the baseline and references whatever their size', () => {
    // params are 100 x the genome: g9 (900) and g8 (800) are over a limit of 700, g5 and g3 are not
    const trials = [trial(0, 9, 0.95), trial(1, 8, 0.9), trial(2, 5, 0.8), trial(3, 3, 0.7), trial(4, 7, 0.6)];
    expect(pickFinalists(space, trials, 2, 7).map((x) => x.id)).toEqual(['g9', 'g8', 'g7']);
    expect(pickFinalists(space, trials, 2, 7, undefined, { maxParams: 700 }).map((x) => x.id)).toEqual(['g5', 'g3', 'g7']);
    // the limit is inclusive, and the baseline in the ranking counts as one of the top k as before
    expect(pickFinalists(space, trials, 2, 7, undefined, { maxParams: 500 }).map((x) => x.id)).toEqual(['g5', 'g3', 'g7']);
    expect(pickFinalists(space, [trial(0, 9, 0.95), trial(1, 7, 0.9), trial(2, 2, 0.5)], 2, 7, undefined, { maxParams: 700 }).map((x) => x.id)).toEqual(['g7', 'g2']);
    // a reference over the limit is still trained, a screening rung's candidates keep to it
    expect(pickFinalists(space, trials, 1, 7, undefined, { maxParams: 700, references: [9], skipKnown: true }).map((x) => [x.id, x.reference ?? false])).toEqual([
      ['g5', false],
      ['g7', false],
      ['g9', true],
    ]);
    expect(pickFinalists(space, trials, 3, 7, undefined, { maxParams: 700, withBaseline: false }).map((x) => x.id)).toEqual(['g5', 'g3']);
    // nothing fits: the baseline alone
    expect(pickFinalists(space, trials, 2, 7, undefined, { maxParams: 100 }).map((x) => x.id)).toEqual(['g7']);
  });

  it('does not add the baseline twice when the search found it', () => {
    const f = pickFinalists(space, [trial(0, 7, 0.6), trial(1, 1, 0.4)], 2, 7);
    expect(f.map((x) => [x.id, x.baseline])).toEqual([
      ['g7', true],
      ['g1', false],
    ]);
  });

  it('spreads the slots over families the baseline does not stand for, then fills by fitness, in search order', () => {
    // families by the genome's last digit: 1 = the baseline's family, 2 and 3 others
    const fam = { ...space, family: (g: number) => `f${g % 10}` } as SearchSpace<number>;
    const trials = [trial(0, 11, 0.9), trial(1, 21, 0.85), trial(2, 12, 0.7), trial(3, 22, 0.8), trial(4, 13, 0.6), trial(5, 31, 0.5)];
    // plain top 2 (no spread, or a space without families): the two best, both of the baseline's family
    expect(pickFinalists(space, trials, 2, 1).map((x) => x.id)).toEqual(['g11', 'g21', 'g1']);
    expect(pickFinalists(fam, trials, 2, 1).map((x) => x.id)).toEqual(['g11', 'g21', 'g1']);
    expect(pickFinalists(space, trials, 2, 1, undefined, { spread: true }).map((x) => x.id)).toEqual(['g11', 'g21', 'g1']);
    // spread: the best of family 2 (g22, 0.8) and of family 3 (g13, 0.6), not the two best overall
    expect(pickFinalists(fam, trials, 2, 1, undefined, { spread: true }).map((x) => x.id)).toEqual(['g22', 'g13', 'g1']);
    // more slots than uncovered families: the rest by fitness, all in search order
    expect(pickFinalists(fam, trials, 4, 1, undefined, { spread: true }).map((x) => x.id)).toEqual(['g11', 'g21', 'g22', 'g13', 'g1']);
    // one slot: the best uncovered family's best
    expect(pickFinalists(fam, trials, 1, 1, undefined, { spread: true }).map((x) => x.id)).toEqual(['g22', 'g1']);
    // a screening rung (no baseline): every family counts, its best first
    expect(pickFinalists(fam, trials, 3, 1, undefined, { withBaseline: false, spread: true }).map((x) => x.id)).toEqual(['g11', 'g22', 'g13']);
  });

  it('known-good references follow the baseline, marked, with their search score when the search tried them', () => {
    const trials = [trial(0, 1, 0.5), trial(1, 2, 0.9), trial(2, 8, 0.3)];
    const f = pickFinalists(space, trials, 1, 7, undefined, { references: [8, 9] });
    expect(f.map((x) => [x.id, x.baseline, x.reference ?? false])).toEqual([
      ['g2', false, false],
      ['g7', true, false],
      ['g8', false, true],
      ['g9', false, true],
    ]);
    expect(f[2]).toMatchObject({ trial: 2, searchFitness: 0.3, formula: 'genome 8' });
    expect(f[3].trial).toBeUndefined();
    // a reference the search ranked among the top k is not trained twice: it is marked where it stands
    const g = pickFinalists(space, trials, 2, 7, undefined, { references: [2] });
    expect(g.map((x) => [x.id, x.reference ?? false])).toEqual([
      ['g2', true],
      ['g1', false],
      ['g7', false],
    ]);
    // skipKnown: the top k are the search's own candidates; the baseline and references follow anyway
    const top = [trial(0, 7, 0.95), trial(1, 8, 0.9), trial(2, 1, 0.5), trial(3, 2, 0.4)];
    expect(pickFinalists(space, top, 1, 7, undefined, { references: [8] }).map((x) => x.id)).toEqual(['g7', 'g8']);
    expect(pickFinalists(space, top, 1, 7, undefined, { references: [8], skipKnown: true }).map((x) => [x.id, x.baseline, x.reference ?? false, x.searchFitness])).toEqual([
      ['g1', false, false, 0.5],
      ['g7', true, false, 0.95],
      ['g8', false, true, 0.9],
    ]);
    expect(pickFinalists(space, top, 2, 7, undefined, { references: [8], skipKnown: true }).map((x) => x.id)).toEqual(['g1', 'g2', 'g7', 'g8']);
    // after a screening rung: the screened best, the baseline, then the references not already there
    const [baseline, ...refs] = pickFinalists(space, trials, 0, 7, undefined, { references: [8, 1] });
    expect(refs.map((x) => x.id)).toEqual(['g8', 'g1']);
    const screen = { steps: 50, candidates: pickFinalists(space, trials, 2, 7, undefined, { withBaseline: false }), runs: [{ id: 'g1', seed: 0, status: 'ok' as const, dev: 0.8, test: 0.5, seconds: 1 }] };
    expect(screenedFinalists(screen, 1, baseline, refs).map((x) => [x.id, x.reference ?? false])).toEqual([
      ['g1', true],
      ['g7', false],
      ['g8', true],
    ]);
  });

  it('a screening rung: the top N other than the baseline, then its best K by screening dev (ties by search rank, failures dropped), then the baseline', () => {
    const trials = [trial(0, 1, 0.5), trial(1, 2, 0.9), trial(2, 7, 0.85), trial(3, 3, 0.7), trial(4, 5, 0.8), trial(5, 6, 0.6)];
    const cands = pickFinalists(space, trials, 4, 7, undefined, { withBaseline: false });
    expect(cands.map((x) => x.id)).toEqual(['g2', 'g5', 'g3', 'g6']); // g7 is the baseline: not screened
    const [baseline] = pickFinalists(space, trials, 0, 7);
    expect(baseline).toMatchObject({ id: 'g7', baseline: true, trial: 2, searchFitness: 0.85 });
    const run = (id: string, dev: number | undefined, status: 'ok' | 'failed' = 'ok') => ({ id, seed: 0, status, dev, test: 0.5, seconds: 1 });
    const screen = { steps: 50, candidates: cands, runs: [run('g3', 0.7), run('g2', 0.6), run('g6', 0.7), run('g5', undefined, 'failed')] };
    expect(screenedFinalists(screen, 2, baseline).map((x) => x.id)).toEqual(['g3', 'g6', 'g7']);
    expect(screenedFinalists(screen, 5, baseline).map((x) => x.id)).toEqual(['g3', 'g6', 'g2', 'g7']);
  });

  it('chooses by mean dev over complete seeds, never by test', () => {
    const state: FinalState<number> = {
      finalists: pickFinalists(space, [trial(0, 1, 0.9), trial(1, 2, 0.8)], 2, 3),
      runs: [
        { id: 'g1', seed: 0, status: 'ok', dev: 0.8, test: 0.9, seconds: 1 },
        { id: 'g1', seed: 1, status: 'ok', dev: 0.7, test: 0.9, seconds: 1 },
        { id: 'g2', seed: 0, status: 'ok', dev: 0.8, test: 0.5, seconds: 1 },
        { id: 'g2', seed: 1, status: 'ok', dev: 0.8, test: 0.5, seconds: 1 },
        { id: 'g3', seed: 0, status: 'ok', dev: 0.76, test: 0.6, seconds: 1 },
        { id: 'g3', seed: 1, status: 'failed', reason: 'boom', seconds: 1 },
      ],
    };
    const r = finalResult(state, 2);
    expect(r.complete).toBe(true);
    expect(r.winner?.id).toBe('g2');
    expect(r.rows[0].dev!.mean).toBeCloseTo(0.75);
    expect(r.rows[0].dev!.std).toBeCloseTo(Math.sqrt(0.005));
    expect(r.baseline).toMatchObject({ id: 'g3', failed: 1 });
    expect(r.baseline!.dev!.n).toBe(1);
  });

  it("devLead: the winner's dev accuracy lead, paired example by example over seeds, with a seeded bootstrap interval", () => {
    const rng = new Rng(5);
    const bits = (p: number, n = 400) => Array.from({ length: n }, () => (rng.bool(p) ? '1' : '0')).join('');
    const same = bits(0.8);
    expect(devLead([same, same], [same, same])).toMatchObject({ points: 0, low: 0, high: 0, n: 400 });
    // right everywhere the other is, and on 40 more of 400: +10 points, and every resample agrees it is positive
    const b = '0'.repeat(40) + bits(0.75, 360);
    const a = '1'.repeat(40) + b.slice(40);
    const l = devLead([a], [b])!;
    expect(l.points).toBeCloseTo(10);
    expect(l.low).toBeGreaterThan(5);
    expect(l.high).toBeLessThanOrEqual(15);
    expect(devLead([a], [b])).toEqual(l); // seeded
    // two seeds averaged: a lead on one seed and a loss as large on the other is no lead
    const mixed = devLead([a, b], [b, a])!;
    expect(mixed.points).toBeCloseTo(0);
    expect(mixed.low).toBe(0);
    expect(mixed.high).toBe(0);
    // independent noise: the interval straddles the small difference
    const n1 = devLead([bits(0.8), bits(0.8)], [bits(0.8), bits(0.8)])!;
    expect(n1.low).toBeLessThan(n1.points);
    expect(n1.high).toBeGreaterThan(n1.points);
    expect(n1.high - n1.low).toBeGreaterThan(2);
    // missing or mismatched records: no comparison
    expect(devLead([a, undefined], [b, b])).toBeUndefined();
    expect(devLead([a], [b, b])).toBeUndefined();
    expect(devLead([a], [b.slice(1)])).toBeUndefined();
    expect(devLead([], [])).toBeUndefined();
  });

  it('finalResult compares the winner with the baseline example by example when every run kept its dev record', () => {
    const rec = (k: number) => '1'.repeat(k) + '0'.repeat(10 - k);
    const state: FinalState<number> = {
      finalists: pickFinalists(space, [trial(0, 1, 0.9)], 1, 3),
      runs: [
        { id: 'g1', seed: 0, status: 'ok', dev: 0.9, test: 0.9, seconds: 1, devCorrect: rec(9) },
        { id: 'g1', seed: 1, status: 'ok', dev: 0.8, test: 0.9, seconds: 1, devCorrect: rec(8) },
        { id: 'g3', seed: 0, status: 'ok', dev: 0.7, test: 0.6, seconds: 1, devCorrect: rec(7) },
        { id: 'g3', seed: 1, status: 'ok', dev: 0.6, test: 0.6, seconds: 1, devCorrect: rec(6) },
      ],
    };
    const r = finalResult(state, 2);
    expect(r.winner?.id).toBe('g1');
    expect(r.lead).toMatchObject({ n: 10 });
    expect(r.lead!.points).toBeCloseTo(20);
    expect(r.runnerUp).toBeUndefined();
    delete state.runs[3].devCorrect; // a run saved before dev records were kept
    expect(finalResult(state, 2).lead).toBeUndefined();
  });

  it('finalResult: when the baseline itself wins, the best other finalist is compared with it example by example', () => {
    const rec = (k: number) => '1'.repeat(k) + '0'.repeat(10 - k);
    const state: FinalState<number> = {
      finalists: pickFinalists(space, [trial(0, 1, 0.9), trial(1, 2, 0.8)], 2, 3),
      runs: [
        { id: 'g1', seed: 0, status: 'ok', dev: 0.5, test: 0.9, seconds: 1, devCorrect: rec(5) },
        { id: 'g2', seed: 0, status: 'ok', dev: 0.7, test: 0.5, seconds: 1, devCorrect: rec(7) },
        { id: 'g3', seed: 0, status: 'ok', dev: 0.8, test: 0.6, seconds: 1, devCorrect: rec(8) },
      ],
    };
    const r = finalResult(state, 1);
    expect(r.winner?.id).toBe('g3');
    expect(r.lead).toBeUndefined();
    expect(r.runnerUp?.id).toBe('g2');
    expect(r.runnerUp!.lead.points).toBeCloseTo(-10);
    expect(r.runnerUp!.lead.high).toBeLessThanOrEqual(0);
  });

  it('trains only what is missing, seed by seed, the costliest finalist first, and stops on abort', async () => {
    const state: FinalState<number> = { finalists: pickFinalists(space, [trial(0, 1, 0.9), trial(1, 2, 0.8)], 2, 3), runs: [] };
    // the toy genome g has g FLOPs: g3 (the baseline here) first, g1 last, within each seed
    expect(state.finalists.map((f) => f.id)).toEqual(['g1', 'g2', 'g3']);
    expect(finalJobs(state, 2)).toEqual([
      { id: 'g3', seed: 0 },
      { id: 'g2', seed: 0 },
      { id: 'g1', seed: 0 },
      { id: 'g3', seed: 1 },
      { id: 'g2', seed: 1 },
      { id: 'g1', seed: 1 },
    ]);
    // equal FLOPs keep the finalists' order
    expect(finalJobs({ finalists: state.finalists.map((f) => ({ ...f, cost: { params: 1, flops: 7 } })) }, 1).map((j) => j.id)).toEqual(['g1', 'g2', 'g3']);
    const calls: string[] = [];
    const controller = new AbortController();
    const evaluator: Evaluator<number> = {
      name: 'toy',
      scoreNames: ['dev', 'test'],
      score: async (c, ctx) => {
        calls.push(`${c.id}:${ctx.seed}`);
        if (calls.length === 4) controller.abort();
        if (c.genome === 2 && ctx.seed === 0) return { scores: { dev: Number.NaN, test: 0.5 }, seconds: 0 };
        return { scores: { dev: c.genome / 10 + ctx.seed / 100, test: 0.5 }, seconds: 0 };
      },
    };
    let saves = 0;
    await expect(runFinal({ state, seeds: 2, evaluator, concurrency: 1, persist: async () => void saves++, signal: controller.signal })).rejects.toBeInstanceOf(SearchAborted);
    expect(state.runs.map((r) => `${r.id}:${r.seed}:${r.status}`)).toEqual(['g3:0:ok', 'g2:0:failed', 'g1:0:ok', 'g3:1:ok']);
    expect(state.runs[1].reason).toMatch(/no finite dev score/);
    expect(saves).toBe(4);
    calls.length = 0;
    await runFinal({ state, seeds: 2, evaluator, concurrency: 2, persist: async () => {} });
    expect(calls.sort()).toEqual(['g1:1', 'g2:1']);
    expect(finalResult(state, 2).winner?.id).toBe('g3');
  });
});

import { describe, expect, it } from 'vitest';
import { leaderboard, lineage, rankTrials, runsTable, summary } from '../../runs/report.js';
import { run, trial } from './helpers.js';

const id = (i: number) => trial(i).id;

/** 0 -> 2 -> 4 (best), 1 failed, 3 a sibling of 4; 5 a root ranked second. */
function chain() {
  return run(
    [
      trial(0, { scores: { dev: 0.6, latency: 2 } }),
      trial(1, { status: 'failed', reason: 'worker died', scores: {}, fitness: undefined }),
      trial(2, { parent: id(0), origin: 'mutate', scores: { dev: 0.7, latency: 2.5 } }),
      trial(3, { parent: id(2), origin: 'mutate', scores: { dev: 0.65, latency: 1 } }),
      trial(4, { parent: id(2), origin: 'mutate', scores: { dev: 0.9, latency: 3 }, formula: '2 layers\n  L0: a\n  L1: b' }),
      trial(5, { scores: { dev: 0.8, latency: 1.5 } }),
      trial(6, { status: 'over-budget', reason: 'params', scores: {}, fitness: undefined }),
    ],
    { space: 'backbone', strategy: 'evolution', evaluator: 'train', objectives: ['dev', 'latency'] },
  );
}

describe('leaderboard', () => {
  it('ranks ok trials by fitness, earlier first on ties', () => {
    const trials = [trial(0, { fitness: 0.5 }), trial(1, { fitness: 0.7 }), trial(2, { fitness: 0.5 }), trial(3, { status: 'invalid', fitness: 0.99 })];
    expect(rankTrials(trials).map((t) => t.index)).toEqual([1, 0, 2]);
  });

  it('shows the top trials with their objectives, costs and indented formulas', () => {
    const b = leaderboard(chain(), { top: 3 });
    expect(b.ranked).toBe(5);
    expect(b.rows.map((r) => [r.rank, r.index])).toEqual([
      [1, 4],
      [2, 5],
      [3, 2],
    ]);
    expect(b.rows[0]).toMatchObject({ id: id(4), scores: { dev: 0.9, latency: 3 }, params: 5000, flops: 2500, latency: 3 });
    const lines = b.text.split('\n');
    expect(lines[0]).toBe("top 3 of 5 ranked trials in run 'r'");
    expect(lines[1].split(/\s+/)).toEqual(['rank', 'id', 'dev', 'latency', 'params', 'FLOPs/tok']);
    expect(lines[2].trim().split(/\s+/)).toEqual(['1', id(4).slice(0, 8), '0.9', '3', '5.0k', '2.5k']);
    expect(lines.slice(3, 6)).toEqual(['      2 layers', '        L0: a', '        L1: b']);
    expect(lines[6].trim().split(/\s+/)[0]).toBe('2');
  });

  it('says when nothing is ranked yet', () => {
    expect(leaderboard(run([trial(0, { status: 'failed', fitness: undefined })])).text).toBe(
      "run 'r' has no ranked trials yet (1 trial, none scored ok)",
    );
  });
});

describe('lineage', () => {
  it('follows parents from the best trial back to its root sample', () => {
    const l = lineage(chain());
    expect(l.steps.map((s) => [s.index, s.origin, s.score])).toEqual([
      [4, 'mutate', 0.9],
      [2, 'mutate', 0.7],
      [0, 'sample', 0.6],
    ]);
    expect(l.missingParent).toBeUndefined();
    expect(l.text).toContain('lineage of ' + id(4).slice(0, 8) + ': 2 steps back to its root sample');
    expect(l.text).toMatch(/#4 .* dev 0\.9 .*\(\+0\.2\)/);
  });

  it('starts from a given id prefix and notes a parent the run lacks', () => {
    const r = chain();
    r.trials[0].parent = 'deadbeefdeadbeef';
    const l = lineage(r, id(3).slice(0, 6));
    expect(l.steps.map((s) => s.index)).toEqual([3, 2, 0]);
    expect(l.missingParent).toBe('deadbeefdeadbeef');
    expect(l.text).toContain("parent deadbeef is not a trial of run 'r'");
    expect(() => lineage(r, 'zzz')).toThrow("run 'r' has no trial with id 'zzz'");
    expect(() => lineage(r, 'id')).toThrow(/ambiguous/);
  });
});

describe('summary', () => {
  it('counts trials by status and names the best', () => {
    const s = summary(chain());
    expect(s.counts).toEqual({ ok: 5, invalid: 0, 'over-budget': 1, failed: 1 });
    expect(s.best).toMatchObject({ index: 4, score: 0.9 });
    expect(s.seconds).toBe(5400);
    expect(s.evalSeconds).toBe(7);
    expect(s.text).toContain('7 trials (5 ok, 1 over-budget, 1 failed) in 1 batch');
    expect(s.text).toContain('1h30m to the last save');
    expect(s.text).toContain('space backbone, strategy evolution, evaluator train, seed 1, objectives dev, latency');
  });
});

describe('runsTable', () => {
  it('prints a line a run, corrupt ones with their problem', () => {
    const text = runsTable([
      { name: 'a', status: 'finished', trials: 12, best: 0.8412, objective: 'dev', age: 125 },
      { name: 'b', corrupt: 'run.json is not valid JSON (Unexpected end of JSON input)' },
    ]);
    const lines = text.split('\n');
    expect(lines[1]).toMatch(/^a\s+finished\s+12\s+dev 0\.8412\s+2m05s ago$/);
    expect(lines[2]).toMatch(/^b\s+corrupt\s+run\.json is not valid JSON/);
  });
});

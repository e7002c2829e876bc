import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kendallTau, ranks, runFidelity, sampleArchitectures, scatterPlot, spearmanRho, type FidelityConfig } from '../../evaluators/fidelity.js';
import { backboneSpace } from '../../spaces/backbone.js';

const FIX = join(import.meta.dirname, '../fixtures/train');

describe('rank statistics', () => {
  it('ranks ties by their average rank', () => {
    expect(ranks([10, 30, 20, 30])).toEqual([1, 3.5, 2, 3.5]);
  });

  it('Kendall tau and Spearman rho match scipy on known lists', () => {
    // scipy.stats.kendalltau / spearmanr
    expect(kendallTau([1, 2, 3, 4, 5], [3, 4, 1, 2, 5])).toBeCloseTo(0.2, 12);
    expect(spearmanRho([1, 2, 3, 4, 5], [3, 4, 1, 2, 5])).toBeCloseTo(0.2, 12);
    const x = [1, 2, 2, 3, 4, 4, 5];
    const y = [2, 1, 3, 3, 5, 4, 4];
    expect(kendallTau(x, y)).toBeCloseTo(0.6842105263157894, 12); // tau-b, ties in both
    expect(spearmanRho(x, y)).toBeCloseTo(0.8333333333333335, 12);
  });

  it('is 1 for the same order, -1 for the reverse, NaN for a constant list', () => {
    expect(kendallTau([1, 2, 3], [10, 20, 30])).toBe(1);
    expect(kendallTau([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(spearmanRho([0.5, 0.7, 0.6], [5, 7, 6])).toBeCloseTo(1, 12);
    expect(kendallTau([1, 2, 3], [4, 4, 4])).toBeNaN();
    expect(() => kendallTau([1, 2], [1])).toThrow(/different lengths/);
  });
});

describe('scatter plot', () => {
  it('puts the smallest point bottom-left and the largest top-right, and counts overlaps', () => {
    const plot = scatterPlot([0, 1, 1], [0, 1, 1], { width: 10, height: 5, xLabel: 'x', yLabel: 'y' });
    const rows = plot.split('\n');
    expect(rows[0]).toBe('y');
    expect(rows[1]).toMatch(/^1\.000 \|\s{9}2$/); // two points in the top-right cell
    expect(rows[5]).toMatch(/^0\.000 \|\*\s*$/);
    expect(rows[6]).toMatch(/\+-{10}$/);
    expect(rows.at(-1)!.trim()).toBe('x');
  });
});

describe('ranking fidelity run', () => {
  it('samples distinct architectures, seeded', () => {
    const macro = { layers: [1, 2] as [number, number], hidden: [16, 32], heads: [1, 2], convProbability: 0.3 };
    const a = sampleArchitectures(macro, 6, 1);
    expect(new Set(a.map((c) => c.id)).size).toBe(6);
    expect(sampleArchitectures(macro, 6, 1).map((c) => c.id)).toEqual(a.map((c) => c.id));
    for (const c of a) expect(c.id).toBe(backboneSpace(macro).id(c.genome));
  });

  it('trains, scores and correlates a tiny sample end to end, then reuses the cached stand-alone results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opnas-fidelity-'));
    const cfg: FidelityConfig = {
      task: { train: join(FIX, 'reviews.csv'), dev: join(FIX, 'reviews-dev.tsv'), textColumn: 'sentence', labelColumn: 'label' },
      taskSeed: 0,
      vocabSize: 60,
      maxLen: 16,
      macro: { layers: [1, 2], hidden: [16, 32], heads: [1, 2], convProbability: 0.3 },
      sample: 4,
      seed: 3,
      standalone: { steps: 4, batchSize: 8, evalEvery: 0, patience: 0 },
      supernet: { steps: 4, batchSize: 8 },
      score: { fineTuneSteps: 1, batchSize: 8 },
      workers: 0,
      cacheDir: join(dir, 'cache'),
      checkpoint: join(dir, 'supernet'),
      backend: 'wasm',
    };
    const r = await runFidelity(cfg);
    expect(r.n).toBe(4);
    for (const p of r.points) {
      expect(p.standalone).toBeGreaterThanOrEqual(0);
      expect(p.standalone).toBeLessThanOrEqual(1);
      expect(p.supernet).toBeGreaterThanOrEqual(0);
      expect(p.cached).toBe(false);
    }
    expect(readdirSync(join(dir, 'cache'))).toHaveLength(4);
    expect(readdirSync(join(dir, 'supernet')).sort()).toEqual(['supernet.json', 'weights.bin', 'weights.json']);
    // again: stand-alone results from the cache, the supernet from its checkpoint: same scores
    const again = await runFidelity(cfg);
    expect(again.points.every((p) => p.cached)).toBe(true);
    expect(again.points.map((p) => [p.standalone, p.supernet])).toEqual(r.points.map((p) => [p.standalone, p.supernet]));
    expect(again.standalonePerMinute).toBeUndefined();
    expect(again.populationSteps).toBe(0);
    // two stand-alone trainings each: the first from the cache, the second trained with the next seed
    const twice = await runFidelity({ ...cfg, repeats: 2 });
    expect(readdirSync(join(dir, 'cache'))).toHaveLength(8);
    expect(twice.points.map((p) => p.standaloneRuns[0])).toEqual(r.points.map((p) => p.standalone));
    for (const p of twice.points) expect(p.standalone).toBeCloseTo((p.standaloneRuns[0] + p.standaloneRuns[1]) / 2, 12);
    expect(twice.repeats).toBe(2);
    expect(twice.selfTau === undefined).toBe(false);
    // the second repeat is what --train-seed seed+1 trains: all from the cache now
    const other = await runFidelity({ ...cfg, trainSeed: cfg.seed + 1 });
    expect(other.points.every((p) => p.cached)).toBe(true);
    expect(other.points.map((p) => p.standalone)).toEqual(twice.points.map((p) => p.standaloneRuns[1]));
    // population sampling: the same checkpoint, then steps on the sample itself, which change the scores' inputs
    const pop = await runFidelity({ ...cfg, sampling: 'population', populationSteps: 3, score: { ...cfg.score, fineTuneSteps: 0 } });
    expect(pop.populationSteps).toBe(12);
    expect(pop.populationSeconds).toBeGreaterThan(0);
    const popAgain = await runFidelity({ ...cfg, sampling: 'population', populationSteps: 3, score: { ...cfg.score, fineTuneSteps: 0 } });
    expect(popAgain.points.map((p) => p.supernet)).toEqual(pop.points.map((p) => p.supernet)); // seeded
  });
});

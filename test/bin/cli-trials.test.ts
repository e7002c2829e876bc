import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../evaluators/tasks/load.js';
import { opnas, tempDir } from './helpers.js';

describe('opnas trials', () => {
  it('writes every trial, over-budget ones included, as CSV and as JSON lines that agree with run.json', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', '--name', 'a', '--space', 'nb201', '--budget', '12', '--max-params', '5000', '--quiet'], { env })).code).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, 'a', 'run.json'), 'utf8'));
    expect(run.trials.some((t: { status: string }) => t.status === 'over-budget')).toBe(true);

    const csv = await opnas(['trials', 'a'], { env });
    expect(csv.code).toBe(0);
    const rows = parseCsv('trials.csv', csv.stdout).map((r) => r.fields);
    expect(rows[0]).toEqual(['index', 'batch', 'id', 'status', 'reason', 'fitness', 'score_cifar10', 'score_cifar100', 'score_imagenet16', 'params', 'flops', 'formula', 'parent', 'origin', 'seconds']);
    expect(rows).toHaveLength(run.trials.length + 1);
    run.trials.forEach((t: { index: number; batch: number; id: string; status: string; reason?: string; fitness?: number; scores: Record<string, number>; cost: { params: number }; formula: string; parent?: string; origin: string }, i: number) => {
      const r = rows[i + 1];
      expect(r.slice(0, 6)).toEqual([String(t.index), String(t.batch), t.id, t.status, t.reason ?? '', t.fitness === undefined ? '' : String(t.fitness)]);
      expect(r[6]).toBe(t.scores.cifar10 === undefined ? '' : String(t.scores.cifar10));
      expect(r[9]).toBe(String(t.cost.params));
      expect(r[11]).toBe(t.formula);
      expect(r[12]).toBe(t.parent ?? '');
      expect(r[13]).toBe(t.origin);
    });

    const jsonl = await opnas(['trials', 'a', '--format', 'jsonl'], { env });
    expect(jsonl.code).toBe(0);
    const lines = jsonl.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.index, l.id, l.status, l.fitness, l.scores, l.params, l.flops, l.formula, l.parent, l.origin, l.genome])).toEqual(
      run.trials.map((t: { index: number; id: string; status: string; fitness?: number; scores: unknown; cost: { params: number; flops: number }; formula: string; parent?: string; origin: string; genome: unknown }) => [t.index, t.id, t.status, t.fitness, t.scores, t.cost.params, t.cost.flops, t.formula, t.parent, t.origin, t.genome]),
    );

    const bad = await opnas(['trials', 'a', '--format', 'xml'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Invalid values:[\s\S]*format/);
    expect((await opnas(['trials', 'nope'], { env })).stderr.trim()).toBe(`opnas: no run 'nope' in ${dir} (runs there: a)`);
  });

  it('quotes multi-line backbone formulas so a CSV reader gets them back whole', async () => {
    const dir = tempDir();
    // a run file with one backbone trial whose formula spans lines and holds commas and quotes
    const trial = { index: 0, batch: 0, id: 'abc', genome: {}, origin: 'sample', formula: 'layer 1: "x", y\nlayer 2: z', cost: { params: 1, flops: 2 }, ops: [], status: 'ok', scores: { dev: 0.5 }, fitness: 0.5, seconds: 1 };
    const run = { format: 'opnas-run', version: 1, name: 'b', created: '2020-01-01T00:00:00Z', updated: '2020-01-01T00:00:00Z', status: 'finished', seed: 0, config: { objectives: ['dev'] }, strategyState: null, nextBatch: 1, trials: [trial] };
    mkdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b', 'run.json'), JSON.stringify(run));
    const r = await opnas(['trials', 'b'], { env: { OPNAS_RUNS_DIR: dir } });
    expect(r.code).toBe(0);
    const rows = parseCsv('t.csv', r.stdout).map((row) => row.fields);
    expect(rows).toHaveLength(2);
    expect(rows[1][rows[0].indexOf('formula')]).toBe(trial.formula);
    expect(rows[1][rows[0].indexOf('score_dev')]).toBe('0.5');
  });
});

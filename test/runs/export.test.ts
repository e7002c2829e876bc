import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportTrial } from '../../runs/export.js';
import { BASELINES, backboneSpace } from '../../spaces/backbone.js';
import { readGenomeFile } from '../../spaces/registry.js';
import type { Trial } from '../../search/types.js';
import type { RunFile } from '../../runs/types.js';
import { run, tmpDir, trial } from './helpers.js';

function withBaseline(): RunFile<unknown> {
  const space = backboneSpace();
  const g = structuredClone(BASELINES['bert-tiny']);
  const best: Trial<unknown> = {
    ...trial(1, { scores: { dev: 0.84, latency: 1.9 } }),
    id: space.id(g),
    genome: g,
    formula: space.render(g),
    cost: space.cost(g),
  };
  return run([trial(0, { scores: { dev: 0.5 } }), best], { space: 'backbone', objectives: ['dev'] }) as RunFile<unknown>;
}

describe('exportTrial', () => {
  it('writes a genome.json that readGenomeFile accepts, and the formula', () => {
    const r = withBaseline();
    const out = join(tmpDir(), 'best');
    const paths = exportTrial(r, 1, out);
    expect(paths).toEqual({ genome: join(out, 'genome.json'), formula: join(out, 'formula.txt') });
    const json = JSON.parse(readFileSync(paths.genome, 'utf8'));
    expect(json).toMatchObject({ id: r.trials[1].id, space: 'backbone', run: 'r', trialIndex: 1, scores: { dev: 0.84 } });
    expect(Object.keys(json.cost)).toEqual(['params', 'flops']);
    const back = readGenomeFile(paths.genome);
    expect(back).toEqual({ space: 'backbone', genome: BASELINES['bert-tiny'] });
    expect(readFileSync(paths.formula, 'utf8')).toBe(r.trials[1].formula + '\n');
  });

  it('refuses a rank out of range, naming how many are ranked', () => {
    const r = withBaseline();
    expect(() => exportTrial(r, 3, tmpDir())).toThrow("rank 3 is out of range: run 'r' has 2 ranked trials (1..2)");
    expect(() => exportTrial(r, 0, tmpDir())).toThrow(/out of range/);
    expect(() => exportTrial(run([]), 1, tmpDir())).toThrow("run 'r' has no ranked trials yet: nothing to export");
  });

  it('refuses an output path that is a file', () => {
    const f = join(tmpDir(), 'file');
    writeFileSync(f, 'x');
    expect(() => exportTrial(withBaseline(), 1, f)).toThrow(`${f} is a file, not a folder`);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, tempDir, writeJson } from './helpers.js';

const runConfig = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')).config;

describe('search --config FILE', () => {
  it('takes search options from a JSON file, saves them in the run, and lets flags override them', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    const file = writeJson(dir, 'search.json', { space: 'nb201', budget: 10, seed: 3, objective: 'cifar10,params', strategy: 'regularized-evolution', population: 6, 'max-params': 9000, quiet: true });
    expect((await opnas(['search', '--name', 'f', '--config', file], { env })).code).toBe(0);
    const c = runConfig(dir, 'f');
    expect(c).toMatchObject({ space: 'nb201', budget: 10, seed: 3, objectives: ['cifar10', 'params'], strategy: 'regularized-evolution', population: 6, limits: { maxParams: 9000 } });

    expect((await opnas(['search', '--name', 'g', '--config', file, '--budget', '12', '--seed', '5', '--objective', 'cifar100'], { env })).code).toBe(0);
    expect(runConfig(dir, 'g')).toMatchObject({ budget: 12, seed: 5, objectives: ['cifar100'], strategy: 'regularized-evolution', population: 6 });
  });

  it('a bad file, key or value is one line naming the file and the key, and no run is created', async () => {
    const dir = tempDir();
    const runs = join(dir, 'runs');
    const bad: [unknown, string][] = [
      [{ budget: 'ten' }, '"budget": expected a number, got "ten"'],
      [{ budgt: 5 }, '"budgt" is not an option of this command (did you mean "budget"?)'],
      [{ space: 'cells' }, '"space": expected one of "backbone", "nb201", got "cells"'],
      [{ quiet: 'yes' }, '"quiet": expected true or false, got "yes"'],
      [{ layers: [1, 2] }, '"layers": expected a string, got [1,2]'],
      [{ json: true }, '"json" is not an option of this command'],
      [[1, 2], 'expected a JSON object of options, got a list'],
      ['{"budget": ', 'malformed JSON'],
    ];
    for (const [i, [content, message]] of bad.entries()) {
      const file = writeJson(dir, `bad${i}.json`, typeof content === 'string' ? content : JSON.stringify(content));
      const r = await opnas(['search', '--config', file, '--runs-dir', runs]);
      expect(r.code, message).toBe(1);
      expect(r.stderr.startsWith(`opnas: --config ${file}: ${message}`), r.stderr).toBe(true);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
    expect((await opnas(['search', '--config', join(dir, 'none.json')])).stderr.trim()).toBe(`opnas: --config ${join(dir, 'none.json')}: no such file`);
    expect(existsSync(runs)).toBe(false);
  });
});

import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, tempDir } from './helpers.js';

describe('opnas rm', () => {
  it('deletes a run and says what it removed; refuses a run a live process holds and a missing one', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    for (const name of ['a', 'b']) expect((await opnas(['search', '--name', name, '--space', 'nb201', '--budget', '8', '--quiet'], { env })).code).toBe(0);

    const r = await opnas(['rm', 'a'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`removed run 'a' (finished, 8 trials): ${join(dir, 'a')}`);
    expect(existsSync(join(dir, 'a'))).toBe(false);
    expect((await opnas(['runs'], { env })).stdout).not.toMatch(/^a\s/m);

    // b is "running" under a live process (this one): refused, left whole
    writeFileSync(join(dir, 'b', 'run.lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: '2020-01-01T00:00:00Z' }));
    const held = await opnas(['rm', 'b'], { env });
    expect(held.code).toBe(1);
    expect(held.stderr.trim()).toBe(
      `opnas: run 'b' is in use by process ${process.pid} (started 2020-01-01T00:00:00Z); if that is not an opnas process working on it, delete ${join(dir, 'b', 'run.lock')}`,
    );
    expect(existsSync(join(dir, 'b', 'run.json'))).toBe(true);

    // a lock left by a process that is gone does not stop it
    writeFileSync(join(dir, 'b', 'run.lock'), JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), started: '2020-01-01T00:00:00Z' }));
    const json = await opnas(['rm', 'b', '--json'], { env });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).removed).toEqual({ name: 'b', folder: join(dir, 'b'), status: 'finished', trials: 8 });
    expect(existsSync(join(dir, 'b'))).toBe(false);

    const missing = await opnas(['rm', 'a'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`opnas: no run 'a' in ${dir} (no runs there yet)`);
    expect((await opnas(['rm', '../etc'], { env })).stderr).toMatch(/invalid run name '\.\.\/etc'/);
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultRunName, listRuns, RunStore, runsDir, stringifyRun, validateRunName } from '../../runs/store.js';
import { init, run, tmpDir, trial } from './helpers.js';

const open: RunStore<string>[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
async function create(dir: string, name: string, over = {}): Promise<RunStore<string>> {
  const s = await RunStore.create<string>(dir, name, init(over));
  open.push(s);
  return s;
}
async function reopen(dir: string, name: string, opts = {}): Promise<RunStore<string>> {
  const s = await RunStore.open<string>(dir, name, opts);
  open.push(s);
  return s;
}

describe('names and folders', () => {
  it('resolves the runs folder from the option, then OPNAS_RUNS_DIR, then ./opnas-runs', () => {
    const old = process.env.OPNAS_RUNS_DIR;
    try {
      process.env.OPNAS_RUNS_DIR = '/tmp/env-runs';
      expect(runsDir('x/y')).toBe(resolve('x/y'));
      expect(runsDir()).toBe('/tmp/env-runs');
      delete process.env.OPNAS_RUNS_DIR;
      expect(runsDir()).toBe(resolve('opnas-runs'));
    } finally {
      if (old === undefined) delete process.env.OPNAS_RUNS_DIR;
      else process.env.OPNAS_RUNS_DIR = old;
    }
  });

  it('names runs by local time and rejects names that are not plain folder names', () => {
    expect(defaultRunName(new Date(2026, 10, 27, 21, 35, 1))).toBe('run-20261127-213501');
    expect(validateRunName('my_run-2.b')).toBe('my_run-2.b');
    for (const bad of ['a/b', '..', '.hidden', '', 'a b', 'a\\b']) {
      expect(() => validateRunName(bad)).toThrow(/invalid run name .*no slashes/);
    }
  });
});

describe('RunStore', () => {
  it('creates, saves and reopens a run with every field', async () => {
    const dir = tmpDir();
    const s = await create(dir, 'a');
    expect(s.data).toMatchObject({ format: 'opnas-run', version: 1, name: 'a', status: 'running', nextBatch: 0, trials: [], seed: 7 });
    await s.appendTrial(trial(0, { scores: { dev: 0.7 } }));
    await s.appendTrial(trial(1, { parent: trial(0).id, origin: 'mutate' }));
    s.data.nextBatch = 1;
    s.data.pending = { batch: 1, base: 0, candidates: [{ id: 'x', genome: 'gx', origin: 'sample' }] };
    s.data.strategyState = { population: ['a', 'b'] };
    await s.save();
    const text = readFileSync(join(dir, 'a', 'run.json'), 'utf8');
    const written = JSON.parse(text);
    // one trial a line keeps the file small
    expect(text.split('\n').filter((l) => l.startsWith('    {"index":'))).toHaveLength(2);
    await s.close();
    expect(existsSync(join(dir, 'a', 'run.lock'))).toBe(false);

    const r = await reopen(dir, 'a');
    expect(r.data).toEqual(written);
    expect(r.data.trials.map((t) => t.index)).toEqual([0, 1]);
    expect(r.data.pending?.candidates[0].id).toBe('x');
    expect(Date.parse(r.data.updated)).toBeGreaterThanOrEqual(Date.parse(r.data.created));
  });

  it('writes JSON that parses back to the run, with or without trials', () => {
    for (const r of [run([]), run([trial(0), trial(1, { formula: 'a\n  "b"' })])]) {
      expect(JSON.parse(stringifyRun(r))).toEqual(r);
    }
  });

  it('refuses to create a run that exists, and to open one that does not', async () => {
    const dir = tmpDir();
    await (await create(dir, 'a')).close();
    await expect(RunStore.create(dir, 'a', init())).rejects.toThrow(
      `run 'a' already exists in ${dir} (use opnas resume a, or pick another --name)`,
    );
    await (await create(dir, 'b')).close();
    await expect(RunStore.open(dir, 'c')).rejects.toThrow(`no run 'c' in ${dir} (runs there: a, b)`);
    await expect(RunStore.open(join(dir, 'nowhere'), 'c')).rejects.toThrow(/no run 'c': .*nowhere does not exist/);
  });

  it('refuses a runs folder that is a file', async () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'f'), 'x');
    await expect(RunStore.create(join(dir, 'f'), 'a', init())).rejects.toThrow(/is a file, not a runs folder/);
  });

  it('refuses a trial out of order', async () => {
    const s = await create(tmpDir(), 'a');
    await expect(s.appendTrial(trial(3))).rejects.toThrow(/trial index 3, expected 0/);
  });

  it('leaves a whole file after every save, even overlapping ones', async () => {
    const dir = tmpDir();
    const s = await create(dir, 'a');
    const file = join(dir, 'a', 'run.json');
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      s.data.trials.push(trial(i, { genome: 'x'.repeat(200) }));
      saves.push(s.save());
      if (i % 10 === 0) await Promise.resolve();
      expect(() => JSON.parse(readFileSync(file, 'utf8'))).not.toThrow();
    }
    await Promise.all(saves);
    expect(JSON.parse(readFileSync(file, 'utf8')).trials).toHaveLength(200);
    await s.close();
    expect((await reopen(dir, 'a', { readonly: true })).data.trials).toHaveLength(200);
  });

  it('saves a run of thousands of trials quickly', async () => {
    const s = await create(tmpDir(), 'big');
    for (let i = 0; i < 5000; i++) s.data.trials.push(trial(i, { genome: 'layer'.repeat(40), formula: 'f\n  g\n  h' }));
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await s.save();
    expect((performance.now() - t0) / 5).toBeLessThan(500);
  });

  it('reports corrupt and truncated run.json clearly and never rewrites it', async () => {
    const dir = tmpDir();
    const s = await create(dir, 'a');
    for (let i = 0; i < 3; i++) await s.appendTrial(trial(i));
    await s.close();
    const file = join(dir, 'a', 'run.json');
    const whole = readFileSync(file);
    for (const bytes of [whole.subarray(0, whole.length / 2), Buffer.from('{"format": "opnas-run", nonsense'), Buffer.alloc(0)]) {
      writeFileSync(file, bytes);
      await expect(RunStore.open(dir, 'a')).rejects.toThrow(`${file} is not valid JSON (`);
      await expect(RunStore.open(dir, 'a')).rejects.toThrow(/: the file is left as it is$/);
      await expect(RunStore.open(dir, 'a', { readonly: true })).rejects.toThrow(/not valid JSON/);
      expect(readFileSync(file).equals(bytes)).toBe(true);
      // a failed open releases its lock
      expect(existsSync(join(dir, 'a', 'run.lock'))).toBe(false);
    }
  });

  it('lists every shape problem of a run.json that parses', async () => {
    const dir = tmpDir();
    mkdirSync(join(dir, 'a'));
    const file = join(dir, 'a', 'run.json');
    writeFileSync(file, JSON.stringify({ format: 'opnas-run', version: 1, name: 'a', status: 'odd', seed: 1, trials: {} }));
    const err = await RunStore.open(dir, 'a').catch((e: Error) => e);
    expect(err.message).toContain(`${file} is not a valid opnas run`);
    expect(err.message).toContain('status is "odd"');
    expect(err.message).toContain('config is missing');
    expect(err.message).toContain('trials is missing or not a list');
    writeFileSync(file, JSON.stringify({ hello: 1 }));
    await expect(RunStore.open(dir, 'a')).rejects.toThrow(/format is undefined, expected "opnas-run": not an opnas run file/);
    writeFileSync(file, JSON.stringify({ format: 'opnas-run', version: 2 }));
    await expect(RunStore.open(dir, 'a')).rejects.toThrow(/version 2 was written by a newer opnas/);
  });

  it('reads a run without locking it, and refuses to save it', async () => {
    const dir = tmpDir();
    const s = await create(dir, 'a');
    const r = await reopen(dir, 'a', { readonly: true });
    expect(r.data.name).toBe('a');
    await expect(r.save()).rejects.toThrow(/read-only/);
    await s.close();
  });
});

describe('locking', () => {
  it('refuses a second writer in this process and frees the run on close', async () => {
    const dir = tmpDir();
    const s = await create(dir, 'a');
    await expect(RunStore.open(dir, 'a')).rejects.toThrow(/run 'a' is already open in this process/);
    await s.close();
    await (await reopen(dir, 'a')).close();
  });

  it('refuses a run whose lock names a live process', async () => {
    const dir = tmpDir();
    await (await create(dir, 'a')).close();
    const sleeper = spawn('sleep', ['30']);
    try {
      const started = '2026-11-27T21:35:01.000Z';
      writeFileSync(join(dir, 'a', 'run.lock'), JSON.stringify({ pid: sleeper.pid, host: hostname(), started }));
      await expect(RunStore.open(dir, 'a')).rejects.toThrow(`run 'a' is in use by process ${sleeper.pid} (started ${started})`);
      expect(listRuns(dir)[0]).toMatchObject({ name: 'a', status: 'running', inUseBy: sleeper.pid });
      // readers are not locked out
      expect((await reopen(dir, 'a', { readonly: true })).data.name).toBe('a');
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('takes over a lock whose process is gone', async () => {
    const dir = tmpDir();
    await (await create(dir, 'a')).close();
    const dead = spawnSync('true').pid;
    const lock = join(dir, 'a', 'run.lock');
    writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), started: 'earlier' }));
    expect(listRuns(dir)[0].status).toBe('interrupted');
    const s = await reopen(dir, 'a');
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid);
    await s.close();
    expect(existsSync(lock)).toBe(false);
  });

  it('frees the run when the process exits without closing it', () => {
    const dir = tmpDir();
    const script = join(dir, 'exit.ts');
    const store = resolve('runs/store.ts');
    writeFileSync(
      script,
      `import { RunStore } from ${JSON.stringify(store)};\n` +
        `await RunStore.create(${JSON.stringify(dir)}, 'a', { seed: 1, config: {}, strategyState: null });\n` +
        `process.exit(0);\n`,
    );
    const r = spawnSync(resolve('node_modules/.bin/vite-node'), [script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(existsSync(join(dir, 'a', 'run.json'))).toBe(true);
    expect(existsSync(join(dir, 'a', 'run.lock'))).toBe(false);
  });
});

describe('listRuns', () => {
  it('lists runs with their best score and lists a corrupt one with its problem', async () => {
    const dir = tmpDir();
    const s = await create(dir, 'good');
    await s.appendTrial(trial(0, { scores: { dev: 0.6 } }));
    await s.appendTrial(trial(1, { scores: { dev: 0.8 } }));
    await s.appendTrial(trial(2, { status: 'failed', reason: 'boom', scores: {}, fitness: undefined }));
    s.data.status = 'finished';
    await s.save();
    await s.close();
    const f = await create(dir, 'trunc');
    await f.close();
    const file = join(dir, 'trunc', 'run.json');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 40));
    mkdirSync(join(dir, 'wrong'));
    writeFileSync(join(dir, 'wrong', 'run.json'), '{"format": "opnas-run", "version": 1}');
    mkdirSync(join(dir, 'not-a-run'));
    const now = new Date(Date.now() + 90_000);
    const list = listRuns(dir, now);
    expect(list.map((r) => r.name)).toEqual(['good', 'trunc', 'wrong']);
    expect(list[0]).toMatchObject({ name: 'good', status: 'finished', trials: 2, best: 0.8, objective: 'dev' });
    expect(list[0].age).toBeGreaterThan(80);
    expect(list[1].corrupt).toMatch(/^run.json is not valid JSON/);
    expect(list[2].corrupt).toMatch(/name is missing .*; .*trials is missing or not a list/);
    expect(listRuns(join(dir, 'missing'))).toEqual([]);
  });
});

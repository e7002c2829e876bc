import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, readRunData, ROOT, tempDir } from './helpers.js';

const BIN = join(ROOT, 'dist/bin/opnas.js');
// 3,000 trials: with trials journaled a search runs thousands a second, and a kill must land mid-run
const ARGS = ['--space', 'nb201', '--budget', '3000', '--batch', '4', '--seed', '7', '--quiet'];

/** The run through its journal, as opnas reads it (run.json alone is a snapshot that lags behind). */
function runFile(dir: string, name: string) {
  return readRunData(dir, name) as unknown as { status: string; trials: { seconds: number; index: number }[] } & Record<string, any>;
}

/** Start the CLI, send `signal` after `ms`, resolve with its exit code. */
function killAfter(args: string[], env: Record<string, string>, ms: number, signal: NodeJS.Signals) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill(signal), ms);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, stderr });
    });
  });
}

/** Send SIGINT once the run file shows trials, i.e. the search loop is running. */
function interruptOnceRunning(args: string[], env: Record<string, string>, file: string) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      try {
        if (readRunData(join(file, '../..'), basename(dirname(file))).trials.length > 0) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      } catch {
        // not written yet
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ code, stderr });
    });
  });
}

const trialsOf = (run: { trials: { seconds: number }[] }) => run.trials.map((t) => ({ ...t, seconds: 0 }));

describe('opnas search on NAS-Bench-201: runs, resume, show, export', () => {
  it('an uninterrupted run and one SIGKILLed at several points then resumed end with the same trials', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    const ref = await opnas(['search', '--name', 'ref', ...ARGS], { env });
    expect(ref.code).toBe(0);
    const reference = trialsOf(runFile(dir, 'ref'));
    expect(reference).toHaveLength(3000);

    let kills = 0;
    let seenPartial = false;
    // kill later and later: early kills land in start-up or the first writes, later ones mid-run
    for (let ms = 500; ms < 8000; ms += 250) {
      const exists = existsSync(join(dir, 'k', 'run.json'));
      const args = exists ? ['resume', 'k', '--quiet'] : ['search', '--name', 'k', ...ARGS];
      const r = await killAfter(args, env, exists ? ms / 2 : ms, 'SIGKILL');
      if (r.signal === 'SIGKILL') kills++;
      if (!existsSync(join(dir, 'k', 'run.json'))) continue;
      const run = runFile(dir, 'k'); // always valid JSON
      if (run.status === 'finished') break;
      const t = trialsOf(run);
      if (t.length > 0 && t.length < 3000) seenPartial = true;
      // no completed trial is lost or changed: what is there is a prefix of the reference
      expect(t).toEqual(reference.slice(0, t.length));
      if (seenPartial && kills >= 4) break;
    }
    expect(kills).toBeGreaterThan(0);
    expect(seenPartial).toBe(true);
    const finish = await opnas(existsSync(join(dir, 'k', 'run.json')) ? ['resume', 'k', '--quiet'] : ['search', '--name', 'k', ...ARGS], { env });
    if (finish.code !== 0) expect(finish.stderr).toMatch(/is finished/);
    expect(trialsOf(runFile(dir, 'k'))).toEqual(reference);
  }, 120_000);

  it('SIGINT stops cleanly with status interrupted and says how to resume', async () => {
    const dir = tempDir();
    const r = await interruptOnceRunning(['search', '--name', 'i', ...ARGS.slice(0, 2), '--budget', '100000', '--quiet'], { OPNAS_RUNS_DIR: dir }, join(dir, 'i', 'run.json'));
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/run 'i' interrupted; its trials are saved\. Continue it with: opnas resume i/);
    const run = runFile(dir, 'i');
    expect(run.status).toBe('interrupted');
    expect(run.trials.length).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'i', 'run.lock'))).toBe(false);
  }, 60_000);

  it('lists, shows, exports, and extends a run; bad input gets clear errors', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', '--name', 'a', '--space', 'nb201', '--budget', '20', '--objective', 'cifar10,params', '--quiet'], { env })).code).toBe(0);
    const runs = await opnas(['runs'], { env });
    expect(runs.stdout).toMatch(/a\s+finished\s+20\s+cifar10/);
    const show = await opnas(['show', 'a', '--top', '3', '--pareto'], { env });
    expect(show.stdout).toMatch(/top 3 of 20 ranked trials/);
    expect(show.stdout).toMatch(/Pareto front \(cifar10 vs params\)/);
    expect(show.stdout).toMatch(/lineage of/);
    const out = join(tempDir(), 'best');
    expect((await opnas(['export', 'a', '--out', out], { env })).code).toBe(0);
    const check = await opnas(['check', join(out, 'genome.json')]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/valid nb201 genome/);
    expect((await opnas(['resume', 'a'], { env })).stderr).toMatch(/is finished \(20 evaluations\); pass --budget N to extend it/);
    expect((await opnas(['resume', 'a', '--budget', '30', '--quiet'], { env })).code).toBe(0);
    expect(runFile(dir, 'a').trials).toHaveLength(30);

    const bad: [string[], RegExp][] = [
      [['search', '--name', 'a', '--space', 'nb201'], /run 'a' already exists/],
      [['resume', 'nope'], /no run 'nope'/],
      [['search', '--strategy', 'annealing', '--space', 'nb201'], /unknown strategy 'annealing' \(known: op-evolution, coarse-to-fine, regularized-evolution, random\)/],
      [['search', '--space', 'cells'], /Invalid values:[\s\S]*space/],
      [['search', '--space', 'nb201', '--budget', '0'], /--budget must be a positive integer, got 0/],
      [['search', '--space', 'nb201', '--objective', 'dev'], /unknown objective 'dev' for the nb201 evaluator/],
      [['resume', 'a', '--budget', '5'], /--budget 5 is below the 30 evaluations/],
      [['export', 'a', '--rank', '99', '--out', out], /rank 99/],
      // the first export wrote genome.json and formula.txt: a second one asks for --force
      [['export', 'a', '--rank', '2', '--out', out], /--out .*best: genome\.json and formula\.txt already there \(pass --force to overwrite\)/],
      [['export', 'a', '--model', out], /--model .*best: the folder exists and is not empty \(pass --force/],
      [['export', 'a', '--out', join(out, 'genome.json')], /a file of that name exists, not a folder/],
    ];
    const exported = readFileSync(join(out, 'genome.json'), 'utf8');
    for (const [args, msg] of bad) {
      const r = await opnas(args, { env });
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readFileSync(join(out, 'genome.json'), 'utf8')).toBe(exported);
    expect((await opnas(['export', 'a', '--rank', '2', '--out', out, '--force'], { env })).code).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'genome.json'), 'utf8')).id).not.toBe(JSON.parse(exported).id);
  }, 120_000);

  it('refuses a corrupt run.json and leaves it as it is', async () => {
    const dir = tempDir();
    const env = { OPNAS_RUNS_DIR: dir };
    expect((await opnas(['search', '--name', 'c', '--space', 'nb201', '--budget', '8', '--quiet'], { env })).code).toBe(0);
    const file = join(dir, 'c', 'run.json');
    const { writeFileSync } = await import('node:fs');
    const truncated = readFileSync(file, 'utf8').slice(0, 200);
    writeFileSync(file, truncated);
    for (const args of [['resume', 'c', '--budget', '10'], ['show', 'c']]) {
      const r = await opnas(args, { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/run\.json is not valid JSON .*left as it is/);
    }
    expect(readFileSync(file, 'utf8')).toBe(truncated);
  });
});

// `opnas teacher` and `opnas fidelity` end to end in a subprocess: tiny runs on small fixtures, and bad input.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { opnas, readRunData, ROOT, tempDir } from './helpers.js';

const FIX = join(ROOT, 'test/fixtures/train');
const TASK = ['--train', join(FIX, 'reviews.csv'), '--dev', join(FIX, 'reviews-dev.tsv'), '--max-len', '16', '--vocab-size', '60'];
const WASM = { OPNAS_BACKEND: 'wasm' };

// these run side by side, each spawning opnas processes: on a busy 2-core machine a minute is not enough
describe.concurrent('opnas teacher', { timeout: 240_000 }, () => {
  it('trains a teacher once, then reuses the cached one', async () => {
    const runs = tempDir();
    const args = ['teacher', ...TASK, '--arch', 'bert-tiny', '--steps', '3', '--runs-dir', runs, '--json', '--quiet'];
    const first = await opnas(args, { env: WASM });
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as { dir: string; cached: boolean; dev: number };
    expect(a.cached).toBe(false);
    expect(a.dir.startsWith(join(runs, 'teachers'))).toBe(true);
    const second = JSON.parse((await opnas(args, { env: WASM })).stdout) as { dir: string; cached: boolean; dev: number };
    expect(second).toMatchObject({ dir: a.dir, cached: true, dev: a.dev });
  });

  it('--patience trains the teacher to convergence: a separate cached teacher whose settings say so; a bad patience is one line', async () => {
    const runs = tempDir();
    const base = ['teacher', ...TASK, '--arch', 'bert-tiny', '--steps', '3', '--runs-dir', runs, '--json', '--quiet'];
    const fixed = JSON.parse((await opnas(base, { env: WASM })).stdout) as { dir: string; train: Record<string, number> };
    const r = await opnas([...base, '--patience', '2', '--lr', '0.0005'], { env: WASM });
    expect(r.code, r.stderr).toBe(0);
    const conv = JSON.parse(r.stdout) as { dir: string; cached: boolean; train: Record<string, number> };
    expect(conv.cached).toBe(false);
    expect(conv.dir).not.toBe(fixed.dir);
    expect(fixed.train).toMatchObject({ steps: 3, evalEvery: 0, patience: 0 });
    expect(conv.train).toMatchObject({ steps: 3, evalEvery: 250, patience: 2, lr: 0.0005 });
    expect(fixed.train.lr).toBeUndefined(); // the default rate is not part of the cache key
    const bad = await opnas([...base, '--patience', '-1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('opnas: --patience must be a whole number >= 0, got -1');
    const badLr = await opnas([...base, '--lr', '0']);
    expect(badLr.code).toBe(1);
    expect(badLr.stderr.trim()).toBe('opnas: --lr must be a positive number, got 0');
  });

  it('a search with a warm-up distils from the teacher --teacher-arch/--teacher-steps/--teacher-patience name, saved in its run.json', async () => {
    const runs = tempDir();
    const args = ['search', ...TASK, '--name', 'kd', '--layers', '1-1', '--hidden', '16,32', '--heads', '1,2', '--budget', '2', '--batch', '2', '--supernet-steps', '4',
      '--warmup-steps', '2', '--teacher-arch', 'bert-mini', '--teacher-steps', '3', '--teacher-patience', '1', '--teacher-lr', '0.0003', '--final-top', '0', '--quiet'];
    const r = await opnas(args, { env: { ...WASM, OPNAS_RUNS_DIR: runs } });
    expect(r.code, r.stderr).toBe(0);
    const cfg = (JSON.parse(readFileSync(join(runs, 'kd', 'run.json'), 'utf8')) as { config: { supernet: { teacher: { genome: { hidden: number; layers: unknown[] }; steps: number; patience: number } } } }).config;
    expect(cfg.supernet.teacher).toMatchObject({ steps: 3, patience: 1, lr: 0.0003, genome: { hidden: 256 } });
    expect(cfg.supernet.teacher.genome.layers).toHaveLength(4);
    // the teacher was trained (and cached) with those settings
    const teachers = readdirSync(join(runs, 'teachers'));
    expect(teachers).toHaveLength(1);
    const meta = (JSON.parse(readFileSync(join(runs, 'teachers', teachers[0], 'teacher.json'), 'utf8')) as { meta: { genome: { hidden: number }; train: Record<string, number> } }).meta;
    expect(meta.genome.hidden).toBe(256);
    expect(meta.train).toMatchObject({ steps: 3, patience: 1, evalEvery: 250, lr: 0.0003 });
    const manifest = JSON.parse(readFileSync(join(runs, 'kd', 'supernet', 'supernet.json'), 'utf8')) as { meta: { warmupSteps: number } };
    expect(manifest.meta.warmupSteps).toBe(2);
    const show = await opnas(['show', 'kd'], { env: { OPNAS_RUNS_DIR: runs } });
    expect(show.stdout).toContain('supernet: the first 2 of 4 steps distilled from a teacher of 4 layers, hidden 256, 4 heads (attention) trained up to 3 steps, to convergence (patience 1), lr 0.0003');
  });

  it('checks a teacher-logits file: wrong row count, wrong class count', async () => {
    const dir = tempDir();
    const f = join(dir, 'logits.jsonl');
    writeFileSync(f, '[0.1, 0.9]\n[0.8, 0.2]\n');
    const rows = await opnas(['teacher', ...TASK, '--teacher-logits', f]);
    expect(rows.code).toBe(1);
    expect(rows.stderr).toMatch(/--teacher-logits .*logits\.jsonl: 2 rows, but the task has 80 training examples/);
    writeFileSync(f, Array.from({ length: 80 }, () => '[0.1, 0.5, 0.4]').join('\n'));
    const classes = await opnas(['teacher', ...TASK, '--teacher-logits', f]);
    expect(classes.code).toBe(1);
    expect(classes.stderr).toMatch(/line 1: 3 logits, but the task has 2 classes/);
    expect(classes.stderr).not.toMatch(/\n\s+at /);
    writeFileSync(f, Array.from({ length: 80 }, () => '[0.1, 0.9]').join('\n'));
    const ok = await opnas(['teacher', ...TASK, '--teacher-logits', f, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rows: 80, classes: 2 });
  });
});

describe.concurrent('opnas fidelity', { timeout: 240_000 }, () => {
  const small = (o: Record<string, string> = {}) =>
    Object.entries({ sample: '3', layers: '1-2', hidden: '16,32', heads: '1,2', steps: '3', 'supernet-steps': '4', workers: '0', ...o }).flatMap(([k, v]) => [`--${k}`, v]).concat('--quiet');
  const SMALL = small();

  it('prints Kendall tau, Spearman rho and a scatter plot; --json has every point', async () => {
    const runs = tempDir();
    const text = await opnas(['fidelity', ...TASK, ...SMALL, '--runs-dir', runs], { env: WASM });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^3 architectures: Kendall tau (-?\d\.\d{3}|n\/a)\s+Spearman rho (-?\d\.\d{3}|n\/a)/);
    expect(text.stdout).toMatch(/stand-alone dev score/);
    expect(text.stdout).toMatch(/candidates\/min/);
    const json = await opnas(['fidelity', ...TASK, ...SMALL, '--runs-dir', runs, '--json'], { env: WASM });
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as { n: number; points: { standalone: number; supernet: number; cached: boolean }[] };
    expect(r.n).toBe(3);
    expect(r.points.every((p) => p.cached)).toBe(true); // the stand-alone results of the first run
  });

  it('runs with a distillation warm-up from the cached teacher', async () => {
    const runs = tempDir();
    const r = await opnas(['fidelity', ...TASK, ...SMALL, '--warmup-steps', '2', '--teacher-steps', '2', '--runs-dir', runs, '--json'], { env: WASM });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { warmupSeconds: number }).warmupSeconds).toBeGreaterThan(0);
  });

  it('refuses a supernet checkpoint built for another space, and bad options', async () => {
    const runs = tempDir();
    const ckpt = join(runs, 'sn');
    const made = await opnas(['fidelity', ...TASK, ...small({ sample: '1' }), '--runs-dir', runs, '--checkpoint', ckpt], { env: WASM });
    expect(made.code, made.stderr).toBe(0);
    const other = await opnas(['fidelity', ...TASK, ...small({ hidden: '16,48' }), '--runs-dir', runs, '--checkpoint', ckpt], { env: WASM });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/supernet checkpoint .*sn: it was built for another space or task \(hidden \[16,32\], expected \[16,48\]\)/);
    const bad = await opnas(['fidelity', ...TASK, '--warmup-steps', '9', '--supernet-steps', '4']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--warmup-steps 9 exceeds --supernet-steps 4/);
    expect((await opnas(['fidelity', ...TASK, '--layers', '3-1'])).stderr).toMatch(/--layers: expected N or N-M/);
    for (const [args, msg] of [
      [['--repeats', '0'], /--repeats must be a positive integer, got 0/],
      [['--population-steps', '1.5'], /--population-steps must be an integer >= 0, got 1.5/],
      [['--warmup-steps', '2', '--kd-attention', '-1'], /--kd-attention must be a number >= 0, got -1/],
      [['--warmup-steps', '2', '--kd-logits', '0', '--kd-hidden', '0', '--kd-attention', '0'], /the warm-up needs a loss/],
      [['--sampling', 'all'], /Invalid values:[\s\S]*sampling/],
    ] as const) {
      const r = await opnas(['fidelity', ...TASK, ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // one line, no stack trace
    }
  });
});

describe('opnas search --evaluator supernet', () => {
  const BIN = join(ROOT, 'dist/bin/opnas.js');
  const ARGS = [...TASK, '--layers', '1-2', '--hidden', '16,32', '--heads', '1,2', '--budget', '8', '--batch', '2', '--seed', '3', '--evaluator', 'supernet', '--supernet-steps', '20', '--population-steps', '3', '--workers', '2', '--final-top', '0', '--embed', '8', '--quiet'];
  // latency is measured, so it differs from run to run; everything else must not
  const trials = (dir: string, name: string) =>
    readRunData(dir, name).trials.map((t) => {
      const { latency, ...rest } = t.scores;
      expect(latency).toBeGreaterThan(0);
      return [t.id, t.status, rest];
    });

  /** Start a search, SIGKILL it once its run file holds `n` trials. */
  function killAtTrials(args: string[], env: Record<string, string>, file: string, n: number) {
    return new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
      const poll = setInterval(() => {
        try {
          if (readRunData(join(file, '../..'), basename(dirname(file))).trials.length >= n) child.kill('SIGKILL');
        } catch {
          // not written yet
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(poll);
        resolve();
      });
    });
  }

  it('trains the supernet into the run folder, and a run killed mid-search resumes to the same trials', async () => {
    const dir = tempDir();
    const env = { ...WASM, OPNAS_RUNS_DIR: dir };
    const ref = await opnas(['search', '--name', 'ref', ...ARGS], { env });
    expect(ref.code, ref.stderr).toBe(0);
    expect(readdirSync(join(dir, 'ref', 'supernet')).sort()).toEqual(['supernet.json', 'weights.bin', 'weights.json']);
    // trained on the population batch by batch: only the last batch's checkpoint is kept
    expect(readdirSync(join(dir, 'ref', 'supernet-batches'))).toEqual(['b000003']);
    const reference = trials(dir, 'ref');
    expect(reference).toHaveLength(8);
    expect(reference.every(([, status]) => status === 'ok')).toBe(true);
    await killAtTrials(['search', '--name', 'k', ...ARGS], env, join(dir, 'k', 'run.json'), 3);
    const partial = trials(dir, 'k');
    expect(partial.length).toBeGreaterThanOrEqual(3);
    expect(partial.length).toBeLessThan(8);
    const resumed = await opnas(['resume', 'k', '--quiet'], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(trials(dir, 'k')).toEqual(reference);
  });

  it('--supernet-sampling uniform trains the supernet once, before the search', async () => {
    const dir = tempDir();
    const r = await opnas(['search', '--name', 'u', ...ARGS, '--supernet-sampling', 'uniform', '--budget', '4'], { env: { ...WASM, OPNAS_RUNS_DIR: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'u', 'supernet-batches'))).toBe(false);
    expect((await opnas(['search', ...ARGS, '--population-steps', '-1'], { env: { ...WASM, OPNAS_RUNS_DIR: dir } })).stderr).toMatch(/--population-steps/);
  });
});

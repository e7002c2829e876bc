// The final selection stage end to end: a tiny stand-alone search, its table in show, export of the
// winner, and a run killed during the final stage that resumes to the same table.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { opnas, ROOT, tempDir } from './helpers.js';

const BIN = join(ROOT, 'dist/bin/opnas.js');
const ARGS = [
  '--train', join(ROOT, 'test/fixtures/search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16',
  '--evaluator', 'standalone', '--layers', '1-1', '--hidden', '16,32', '--heads', '1,2', '--train-steps', '6',
  '--budget', '4', '--batch', '2', '--seed', '2', '--workers', '2',
  '--final-top', '2', '--final-seeds', '2', '--final-steps', '60', '--no-seeded', '--quiet',
];
const ENV = { OPNAS_BACKEND: 'wasm' };

/** ARGS with some of its values replaced (by flag) and more flags after them. */
function argsWith(values: Record<string, string>, more: string[] = []): string[] {
  const args = [...ARGS, ...more];
  for (const [flag, v] of Object.entries(values)) args[args.indexOf(flag) + 1] = v;
  return args;
}

interface Final {
  finalists: { id: string; baseline: boolean }[];
  runs: { id: string; seed: number; status: string; dev: number; test: number }[];
}
/** The final stage's results without timings, in job order. */
function finalOf(dir: string, name: string) {
  const f = (JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')) as { final: Final }).final;
  const runs = f.runs.map(({ id, seed, status, dev, test }) => ({ id, seed, status, dev, test })).sort((a, b) => a.seed - b.seed || a.id.localeCompare(b.id));
  return { finalists: f.finalists, runs };
}

it('trains the top candidates and the baseline stand-alone; a kill -9 during the final stage resumes to the same table', async () => {
  const dir = tempDir();
  const env = { ...ENV, OPNAS_RUNS_DIR: dir };
  const ref = await opnas(['search', '--name', 'ref', ...ARGS], { env, timeout: 300_000 });
  expect(ref.code, ref.stderr).toBe(0);
  const reference = finalOf(dir, 'ref');
  expect(reference.finalists).toHaveLength(4);
  expect(reference.finalists.filter((f) => f.baseline)).toHaveLength(1);
  expect(reference.runs).toHaveLength(8);
  expect(reference.runs.every((r) => r.status === 'ok' && r.dev >= 0 && r.dev <= 1)).toBe(true);
  expect(ref.stdout).toMatch(/final stage: 4 finalists trained stand-alone, 2 seeds each \(8\/8 trainings done\)/);
  expect(ref.stdout).toMatch(/baseline/);
  expect(ref.stdout).toMatch(/winner: /);
  // the convolution-only reference is trained beside the baseline by default
  const saved = JSON.parse(readFileSync(join(dir, 'ref', 'run.json'), 'utf8')) as {
    config: { final: { references?: boolean | string[]; spread?: boolean; maxParams?: number | string } };
    final: { finalists: { reference?: boolean; baseline: boolean; cost: { params: number }; genome: { pool?: string; layers: { mixer: { type: string } }[] } }[] };
  };
  // by default no search candidate larger than the baseline becomes a finalist
  const baselineParams = saved.final.finalists.find((f) => f.baseline)!.cost.params;
  const searched = saved.final.finalists.filter((f) => !f.baseline && !f.reference);
  expect(searched.length).toBeGreaterThan(0);
  expect(searched.every((f) => f.cost.params <= baselineParams)).toBe(true);
  expect(ref.stdout).toMatch(/search candidates of at most [\d.]+k? \(the baseline's\) parameters/);
  expect(saved.config.final).toMatchObject({ references: ['conv', 'deep'], spread: false, maxParams: 'baseline' });
  // one layer deep: the deep reference (two convolutions below attention) needs two, so only conv is trained
  const refs = saved.final.finalists.filter((f) => f.reference);
  expect(refs).toHaveLength(1);
  expect(refs[0].genome.layers.every((l) => l.mixer.type === 'conv')).toBe(true);
  expect(refs[0].genome.pool).toBe('max');
  expect(ref.stdout).toMatch(/ reference /);

  // export without --rank writes the final stage's winner, with its trained scores
  const out = join(dir, 'winner');
  expect((await opnas(['export', 'ref', '--out', out], { env })).code).toBe(0);
  const exported = JSON.parse(readFileSync(join(out, 'genome.json'), 'utf8'));
  const show = JSON.parse((await opnas(['show', 'ref', '--json'], { env })).stdout);
  expect(exported.id).toBe(show.final.winner);
  // every training keeps its dev record (one character per dev example), so the winner is compared
  // with the baseline example by example whenever it is not the baseline itself
  const devSize = (JSON.parse(readFileSync(join(dir, 'ref', 'run.json'), 'utf8')) as { final: { runs: { devCorrect: string }[] } }).final.runs.map((r) => r.devCorrect.length);
  expect(new Set(devSize).size).toBe(1);
  expect(devSize[0]).toBeGreaterThan(0);
  const baselineId = reference.finalists.find((f) => f.baseline)!.id;
  if (show.final.winner !== baselineId) {
    expect(show.final.lead).toMatchObject({ n: devSize[0] });
    expect(ref.stdout).toMatch(new RegExp(`dev accuracy, example by example: [+-]\\d+\\.\\d\\d points, 95% bootstrap interval [+-]\\d+\\.\\d\\d to [+-]\\d+\\.\\d\\d over the ${devSize[0]} dev examples`));
  } else expect(show.final.lead).toBeUndefined();
  expect(exported.final.seeds).toBe(2);
  expect((await opnas(['check', join(out, 'genome.json')], { env })).code).toBe(0);

  // kill -9 once the final stage has recorded a training, then resume
  await new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'search', '--name', 'k', ...ARGS], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const poll = setInterval(() => {
      try {
        const run = JSON.parse(readFileSync(join(dir, 'k', 'run.json'), 'utf8')) as { final?: Final };
        if ((run.final?.runs.length ?? 0) >= 1) child.kill('SIGKILL');
      } catch {
        // not written yet, or being replaced
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      resolve();
    });
  });
  const partial = finalOf(dir, 'k');
  expect(partial.runs.length).toBeGreaterThanOrEqual(1);
  expect(partial.runs.length).toBeLessThan(8);
  const resumed = await opnas(['resume', 'k', '--quiet'], { env, timeout: 300_000 });
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(finalOf(dir, 'k')).toEqual(reference);
  expect(resumed.stdout).toMatch(/8\/8 trainings done/);
}, 600_000);

it('a screening rung picks the finalists by a short training; a kill -9 while screening resumes to the same result', async () => {
  const dir = tempDir();
  const env = { ...ENV, OPNAS_RUNS_DIR: dir };
  // no reference here, and the screened candidates spread over families (the flags reach the saved config)
  const args = argsWith({ '--final-top': '1', '--final-seeds': '1' }, ['--final-screen', '3', '--final-screen-steps', '20', '--no-final-references', '--final-spread']);
  const screened = (name: string) => {
    const f = (JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')) as { final: Final & { screen: { steps: number; candidates: { id: string }[]; runs: { id: string; status: string; dev: number }[] } } }).final;
    return { ...finalOf(dir, name), screen: { steps: f.screen.steps, candidates: f.screen.candidates.map((c) => c.id), runs: f.screen.runs.map(({ id, status, dev }) => ({ id, status, dev })).sort((a, b) => a.id.localeCompare(b.id)) } };
  };
  const ref = await opnas(['search', '--name', 'ref', ...args], { env, timeout: 300_000 });
  expect(ref.code, ref.stderr).toBe(0);
  const r = screened('ref');
  expect(r.screen.steps).toBe(20);
  expect(JSON.parse(readFileSync(join(dir, 'ref', 'run.json'), 'utf8')).config.final).toMatchObject({ references: false, spread: true });
  expect(ref.stdout).toMatch(/finalists spread over families/);
  expect(r.screen.candidates).toHaveLength(3);
  expect(r.screen.runs).toHaveLength(3);
  // the finalist is the best screened candidate by dev, then the baseline
  const best = [...r.screen.runs].sort((a, b) => b.dev - a.dev || r.screen.candidates.indexOf(a.id) - r.screen.candidates.indexOf(b.id))[0];
  expect(r.finalists.map((f) => f.id)).toEqual([best.id, r.finalists[1].id]);
  expect(r.finalists[1].baseline).toBe(true);
  expect(r.runs).toHaveLength(2);
  expect(ref.stdout).toMatch(/screening: 3 candidates trained once \(seed 0, 20 steps\), 3\/3 done/);
  expect(ref.stdout).toMatch(/final stage: 2 finalists/);

  await new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'search', '--name', 'k', ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const poll = setInterval(() => {
      try {
        const run = JSON.parse(readFileSync(join(dir, 'k', 'run.json'), 'utf8')) as { final?: { screen?: { runs: unknown[] } } };
        if ((run.final?.screen?.runs.length ?? 0) >= 1) child.kill('SIGKILL');
      } catch {
        // not written yet, or being replaced
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(poll);
      resolve();
    });
  });
  const partial = JSON.parse(readFileSync(join(dir, 'k', 'run.json'), 'utf8')).final;
  expect(partial.screen.runs.length).toBeGreaterThanOrEqual(1);
  expect(partial.runs).toHaveLength(0);
  const resumed = await opnas(['resume', 'k', '--quiet'], { env, timeout: 300_000 });
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(screened('k')).toEqual(r);
}, 600_000);

it('--final-references conv,hybrid,deep: all three references join the final stage; --final-max-params keeps out every larger candidate', async () => {
  const dir = tempDir();
  const env = { ...ENV, OPNAS_RUNS_DIR: dir };
  // a limit of 1 parameter: no search candidate fits, the baseline and the references are trained anyway
  const args = argsWith(
    { '--layers': '2-2', '--final-top': '1', '--final-seeds': '1', '--final-steps': '10' },
    ['--pool', 'cls,max', '--final-references', 'conv,hybrid,deep', '--final-dropout', '0.1', '--final-max-params', '1'],
  );
  const r = await opnas(['search', '--name', 'two', ...args], { env, timeout: 300_000 });
  expect(r.code, r.stderr).toBe(0);
  const f = (JSON.parse(readFileSync(join(dir, 'two', 'run.json'), 'utf8')) as { final: { finalists: { reference?: boolean; baseline: boolean; genome: { pool?: string; layers: { mixer: { type: string } }[] } }[] } }).final;
  const refs = f.finalists.filter((x) => x.reference);
  expect(refs.map((x) => x.genome.layers.map((l) => l.mixer.type).join('+'))).toEqual(['conv+conv', 'conv+attention', 'conv+conv+attention']);
  expect(refs.map((x) => x.genome.pool)).toEqual(['max', undefined, 'max']);
  expect(f.finalists.filter((x) => x.baseline)).toHaveLength(1);
  expect(f.finalists).toHaveLength(4);
  expect(r.stdout.match(/ reference /g)).toHaveLength(3);
  const saved = JSON.parse(readFileSync(join(dir, 'two', 'run.json'), 'utf8')).config.final;
  expect(saved.references).toEqual(['conv', 'hybrid', 'deep']);
  expect(saved.train.dropout).toBe(0.1);
  expect(saved.maxParams).toBe(1);
  expect(r.stdout).toMatch(/final stage: 4 finalists trained stand-alone, 1 seed each with dropout 0.1 \(4\/4 trainings done\); chosen by mean dev, test never used; latency measured with [^;]+; search candidates of at most 1 parameters/);
}, 300_000);

it('--max-params baseline: the search rejects every candidate larger than the baseline the final stage trains, and saves the limit as given', async () => {
  const dir = tempDir();
  const env = { ...ENV, OPNAS_RUNS_DIR: dir };
  // all 32 wide like the baseline, FFN ratios and stacks drawn at random: the larger FFNs outgrow it
  const args = argsWith({ '--hidden': '32', '--budget': '8', '--final-top': '1', '--final-seeds': '1', '--final-steps': '6' }, ['--max-params', 'baseline']);
  const r = await opnas(['search', '--name', 'lim', ...args], { env, timeout: 300_000 });
  expect(r.code, r.stderr).toBe(0);
  const run = JSON.parse(readFileSync(join(dir, 'lim', 'run.json'), 'utf8')) as {
    config: { limits: { maxParams?: unknown } };
    trials: { status: string; reason?: string; cost: { params: number } }[];
    final: { finalists: { baseline: boolean; cost: { params: number } }[] };
  };
  expect(run.config.limits.maxParams).toBe('baseline');
  const limit = run.final.finalists.find((f) => f.baseline)!.cost.params;
  const over = run.trials.filter((t) => t.status === 'over-budget');
  expect(over.length).toBeGreaterThan(0);
  for (const t of over) expect(t.reason).toBe(`params ${t.cost.params} > --max-params ${limit}`);
  expect(over.every((t) => t.cost.params > limit)).toBe(true);
  expect(run.trials.filter((t) => t.status === 'ok').every((t) => t.cost.params <= limit)).toBe(true);
}, 300_000);

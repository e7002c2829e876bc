/**
 * `npm run bench:winner -- --run NAME`: does the architecture a search picked beat the textbook
 * baseline on held-out test data? Reads the run's final stage (its winner and reference baseline,
 * already trained with seeds 0..S-1), trains both for the missing seeds up to --seeds with the same
 * settings (`opnas train --seed s` reproduces any row), and writes the per-seed test scores, means
 * and the gap into bench/RESULTS.md between the `winner-<task>` markers (`npm run bench` keeps it).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../evaluators/tasks/named.js';
import type { TokenizerJSON } from '../evaluators/tasks/tokenizer.js';
import { finalResult, meanStd, type FinalRow } from '../search/final.js';
import { finalTrainConfig, referenceNames, type SearchConfig } from '../runs/session.js';
import { finalReport } from '../runs/report.js';
import { RunStore, runsDir } from '../runs/store.js';
import { WorkerPool } from '../evaluators/pool.js';
import type { BackboneGenome } from '../spaces/types.js';
import { benchArgs, benchFail } from './args.js';
import { spliceSection } from './sections.js';

const USAGE = `usage: npm run bench:winner -- --run NAME [--runs-dir DIR] [--seeds N] [--workers W] [--out FILE]
  --run NAME       a finished backbone search with a final stage
  --runs-dir DIR   where the run lives (default: $OPNAS_RUNS_DIR, else ./opnas-runs)
  --seeds N        stand-alone trainings of the winner and the baseline (seeds 0..N-1; default 3)
  --workers W      processes training at once (default: cores)
  --out FILE       report to splice into (default bench/RESULTS.md)`;

const log = (msg: string) => process.stderr.write(`[winner ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const pct = (x: number) => (100 * x).toFixed(2);

function readOptions() {
  const a = benchArgs('winner', USAGE, { run: { type: 'string' }, 'runs-dir': { type: 'string' }, seeds: { type: 'string' }, workers: { type: 'string' }, out: { type: 'string' } });
  const run = a.str('run') ?? a.fail('--run is required');
  const out = a.str('out');
  return { run, runsDir: a.str('runs-dir'), seeds: a.int('seeds', 3, 1), workers: a.int('workers', os.availableParallelism(), 1), out: out ? path.resolve(out) : path.join(packageRoot(), 'bench', 'RESULTS.md') };
}

interface Scores {
  dev: number;
  test: number;
}

async function main(): Promise<void> {
  const o = readOptions();
  const started = new Date();
  const load0 = os.loadavg();
  const store = await RunStore.open(runsDir(o.runsDir), o.run, { readonly: true });
  const run = store.data;
  await store.close();
  const c = run.config as unknown as SearchConfig;
  if (!run.final || !c.final) benchFail('winner', USAGE, `run '${o.run}' has no final stage`);
  const res = finalResult(run.final, c.final.seeds, { leads: false });
  if (!res.complete || !res.winner || !res.baseline) benchFail('winner', USAGE, `run '${o.run}' has not finished its final stage (opnas resume ${o.run})`);
  const models: FinalRow[] = res.winner.baseline ? [res.winner] : [res.winner, res.baseline];

  // seeds the final stage trained are reused: the same settings give the same result
  const scores = new Map<string, Scores>();
  for (const r of run.final.runs) if (r.status === 'ok') scores.set(`${r.id}:${r.seed}`, { dev: r.dev!, test: r.test! });
  // trainings an earlier bench:winner added are kept in the run folder, so a rerun (a new --seeds,
  // another --out) trains only what is new
  const cacheFile = path.join(store.folder, 'bench-winner.json');
  let reused = 0;
  if (existsSync(cacheFile))
    for (const [k, v] of Object.entries(JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, Scores>))
      if (!scores.has(k)) (scores.set(k, v), reused++);
  const todo = models.flatMap((m) => Array.from({ length: o.seeds }, (_, seed) => ({ m, seed }))).filter((j) => !scores.has(`${j.m.id}:${j.seed}`));
  const t0 = performance.now();
  if (todo.length) {
    log(`training ${todo.length} more (${todo.map((j) => `${j.m.id.slice(0, 8)} seed ${j.seed}`).join(', ')})`);
    const pool = new WorkerPool(Math.min(o.workers, todo.length), {
      kind: 'standalone',
      task: c.task,
      taskSeed: c.taskSeed,
      tokenizer: run.extra!.tokenizer as TokenizerJSON,
      train: finalTrainConfig(c),
    });
    try {
      await Promise.all(
        todo.map(async (j) => {
          const r = await pool.score({ genome: j.m.genome as BackboneGenome, id: j.m.id, origin: 'seed' }, { seed: j.seed });
          scores.set(`${j.m.id}:${j.seed}`, { dev: r.scores.dev, test: r.scores.test });
          writeFileSync(cacheFile, JSON.stringify(Object.fromEntries(scores), null, 1));
          log(`${j.m.id.slice(0, 8)} seed ${j.seed}: dev ${pct(r.scores.dev)} test ${pct(r.scores.test)}`);
        }),
      );
    } finally {
      await pool.close();
    }
  }
  const wall = (performance.now() - t0) / 1000;

  const task = typeof c.task === 'string' ? c.task : 'custom';
  const stat = (m: FinalRow, k: keyof Scores) => {
    const xs = Array.from({ length: o.seeds }, (_, s) => scores.get(`${m.id}:${s}`)![k]);
    return { xs, ...meanStd(xs)! };
  };
  const searchSeconds = (Date.parse(run.updated) - Date.parse(run.created)) / 1000;
  const cmd = `npm run bench:winner${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  const row = (m: FinalRow) => {
    const t = stat(m, 'test');
    const d = stat(m, 'dev');
    return `| ${m.baseline ? 'baseline (textbook layer)' : m.reference ? 'final-stage winner (the known-good reference)' : 'search winner'} \`${m.id.slice(0, 8)}\` | ${(m.cost.params / 1e6).toFixed(2)}M | ${t.xs.map(pct).join(' / ')} | ${pct(t.mean)} ± ${pct(t.std)} | ${pct(d.mean)} |`;
  };
  const w = stat(res.winner, 'test');
  const b = stat(res.baseline, 'test');
  const lines = [
    `## The search's winner against the textbook baseline (${task})`,
    '',
    `- Date: ${started.toISOString()}; command: \`${cmd}\` (${todo.length} trainings added now, ${wall.toFixed(0)} s; ${reused} reused from an earlier bench:winner run, kept in the run folder)`,
    `- Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores; load average (1 min) at start / end ${load0[0].toFixed(2)} / ${os.loadavg()[0].toFixed(2)}`,
    `- Run \`${run.name}\`: ${(run.config.strategy as string) ?? ''} with the ${c.evaluator} evaluator, ${c.budget} candidates, seed ${run.seed}; ` +
      `final stage top ${c.final.top} + baseline${referenceNames(c.final.references).map((n) => ` + ${n} reference`).join('')} x ${c.final.seeds} seeds. Search and final stage took ${(searchSeconds / 60).toFixed(1)} min from creation to the last save.`,
    `- Training: \`opnas train\`'s settings (${c.final.train.steps} steps at most, batch ${c.final.train.batchSize}, lr ${c.final.train.lr}, early stopping on dev); seeds 0..${o.seeds - 1}; test = the task's held-out test split, never used to choose.`,
    '',
    '| model | params | test per seed | test mean ± std | dev mean |',
    '|:---|---:|---:|---:|---:|',
    ...models.map(row),
    '',
    res.winner.baseline
      ? 'The final stage chose the baseline itself: no candidate beat it on dev.'
      : `${res.winner.reference ? 'The final stage chose one of its known-good references, not a candidate evolution produced. ' : ''}Gap (winner - baseline), test mean: ${(100 * (w.mean - b.mean) >= 0 ? '+' : '') + (100 * (w.mean - b.mean)).toFixed(2)} points; params ${(res.winner.cost.params / 1e6).toFixed(2)}M vs ${(res.baseline.cost.params / 1e6).toFixed(2)}M.`,
    '',
    'Winner:',
    '',
    '```',
    res.winner.formula,
    '```',
    '',
    `The final stage as \`opnas show ${run.name}\` prints it (seeds 0..${c.final.seeds - 1}; the search score is the supernet's):`,
    '',
    '```',
    finalReport(run)!.text,
    '```',
    '',
  ];
  const section = lines.join('\n');
  const prior = existsSync(o.out) ? readFileSync(o.out, 'utf8') : '# opnas benchmark results\n';
  writeFileSync(o.out, spliceSection(prior, section, `winner-${task}`));
  console.log(section);
  log(`wrote ${o.out}`);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((e) => {
    console.error(`bench:winner: ${(e as Error).message}`);
    process.exit(1);
  });
}

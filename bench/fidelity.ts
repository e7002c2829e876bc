/**
 * `npm run bench:fidelity`: does the supernet rank architectures the way stand-alone training does?
 * Samples N architectures of the default search space, trains each stand-alone (the ground truth;
 * cached in <runs dir>/fidelity-cache, shared with `opnas fidelity`), then trains the supernet
 * twice, with and without the distillation warm-up, scores the sample with each and reports Kendall's
 * tau and Spearman's rho, plus the scoring rate against stand-alone training's. Writes the section
 * into bench/RESULTS.md (between the fidelity markers; `npm run bench` keeps it) and prints it.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_DISTILL, DEFAULT_TEACHER, teacherTraining } from '../evaluators/supernet/distill.js';
import { DEFAULT_FIDELITY_BATCH, runFidelity, type FidelityConfig, type FidelityReport } from '../evaluators/fidelity.js';
import { DEFAULT_POPULATION } from '../evaluators/supernet/population.js';
import type { PathSampling } from '../evaluators/supernet/supernet.js';
import { packageRoot } from '../evaluators/tasks/named.js';
import { DEFAULT_SEARCH } from '../runs/session.js';
import { runsDir } from '../runs/store.js';
import { BASELINES } from '../spaces/backbone.js';
import { benchArgs } from './args.js';
import { markers, spliceSection } from './sections.js';

interface Options {
  newShare: number;
  repeats: number;
  populationSteps: number;
  sample: number;
  steps: number;
  supernetSteps: number;
  warmupSteps: number;
  sampling: PathSampling;
  workers: number;
  seed: number;
  out: string;
}

const USAGE = `usage: npm run bench:fidelity -- [--sample N] [--steps S] [--supernet-steps S] [--warmup-steps S] [--sampling uniform|population] [--workers W] [--seed N] [--out FILE]
  --sample N           architectures (default 20)
  --steps S            stand-alone training steps of each, the ground truth (default 1000)
  --supernet-steps S   supernet training steps, warm-up included (default 800)
  --warmup-steps S     distillation warm-up steps of the warm-up run (default 400)
  --sampling M         uniform: the supernet trains once on paths drawn from the space; population (default,
                       as a search does): then also --population-steps per architecture on the sample
  --population-steps K supernet steps per architecture with --sampling population (default 20)
  --new-share F        share of the population steps on the batch's new architectures (default ${DEFAULT_POPULATION.newShare})
  --repeats R          stand-alone trainings per architecture (seeds 0..R-1): the ground truth is their mean (default 1)
  --workers W          processes training the stand-alone models (default: cores)
  --seed N             the sample, training and scoring seed (default 0)
  --out FILE           report to splice into (default bench/RESULTS.md)`;

function readOptions(): Options {
  const s = { type: 'string' } as const;
  const a = benchArgs('fidelity', USAGE, { sample: s, steps: s, 'supernet-steps': s, 'warmup-steps': s, 'population-steps': s, repeats: s, 'new-share': s, workers: s, seed: s, out: s, sampling: s });
  const newShare = Number(a.str('new-share') ?? DEFAULT_POPULATION.newShare);
  if (!(newShare > 0 && newShare <= 1)) a.fail(`--new-share must be in (0, 1], got '${a.str('new-share')}'`);
  const sampling = a.str('sampling') ?? 'population';
  if (sampling !== 'uniform' && sampling !== 'population') a.fail(`--sampling must be uniform or population, got '${sampling}'`);
  const out = a.str('out');
  const o: Options = {
    newShare,
    repeats: a.int('repeats', 1, 1),
    populationSteps: a.int('population-steps', DEFAULT_POPULATION.stepsPerCandidate, 0),
    sample: a.int('sample', 20, 3),
    steps: a.int('steps', 1000, 1),
    supernetSteps: a.int('supernet-steps', 800, 1),
    warmupSteps: a.int('warmup-steps', 400, 1),
    sampling: sampling as PathSampling,
    workers: a.int('workers', os.availableParallelism(), 0),
    seed: a.int('seed', 0, 0),
    out: out ? path.resolve(out) : path.join(packageRoot(), 'bench', 'RESULTS.md'),
  };
  if (o.warmupSteps > o.supernetSteps) a.fail(`--warmup-steps ${o.warmupSteps} exceeds --supernet-steps ${o.supernetSteps} (the warm-up is part of them)`);
  return o;
}

const log = (msg: string) => process.stderr.write(`[fidelity ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const f3 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(3));
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));

export const { begin: BEGIN, end: END } = markers('fidelity');

async function main(): Promise<void> {
  const o = readOptions();
  const started = new Date();
  const t0 = performance.now();
  const load0 = os.loadavg();
  const dir = runsDir();
  const base: FidelityConfig = {
    task: 'sst2',
    taskSeed: 0,
    vocabSize: DEFAULT_SEARCH.vocabSize,
    maxLen: DEFAULT_SEARCH.train.maxLen!,
    macro: DEFAULT_SEARCH.macro,
    sample: o.sample,
    seed: o.seed,
    standalone: { ...DEFAULT_SEARCH.train, steps: o.steps },
    supernet: { steps: o.supernetSteps },
    sampling: o.sampling,
    populationSteps: o.populationSteps,
    population: { newShare: o.newShare },
    repeats: o.repeats,
    score: {},
    workers: o.workers,
    cacheDir: path.join(dir, 'fidelity-cache'),
    backend: 'wasm',
  };
  const teacher = { cache: { runsDir: dir, genome: BASELINES[DEFAULT_TEACHER.arch], train: teacherTraining(DEFAULT_TEACHER.steps, base.maxLen) } };
  log(`with the distillation warm-up (${o.warmupSteps} of ${o.supernetSteps} steps)`);
  // the trained supernets are kept, so another --population-steps or --sampling reuses them
  const ck = (what: string) => path.join(dir, 'fidelity-supernets', `sst2-${what}-${o.supernetSteps}-seed${o.seed}`);
  const kd = await runFidelity({ ...base, checkpoint: ck(`kd${o.warmupSteps}`), distill: { config: { ...DEFAULT_DISTILL, train: { steps: o.warmupSteps } }, teacher } }, { log });
  log('without warm-up');
  const plain = await runFidelity({ ...base, checkpoint: ck('plain'), workers: 0 }, { log });
  // the same base supernet scoring as trained once, without any training on the sample
  const once = o.sampling === 'population' ? await runFidelity({ ...base, sampling: 'uniform', checkpoint: ck('plain'), workers: 0 }, { log }) : undefined;
  const wall = (performance.now() - t0) / 1000;

  const cmd = `npm run bench:fidelity${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
  const row = (name: string, r: FidelityReport) =>
    `| ${name} | ${r.n} | ${f3(r.kendallTau)} | ${f3(r.spearmanRho)} | ${o.repeats > 1 ? `${f3(r.supernetTauFirst)} | ` : ''}${f1(r.supernetTrainSeconds)} | ${f1(r.populationSeconds)} | ${f1(r.supernetPerMinute)} |`;
  // seconds each stand-alone training took when it ran (this run, or the one that filled the cache)
  const sa = kd.points.map((p) => p.standaloneSeconds);
  const standaloneRate = (60 * sa.length) / sa.reduce((a, b) => a + b, 0);
  const lines = [
    '## 7. Supernet ranking fidelity (SST-2)',
    '',
    `- Date: ${started.toISOString()}; command: \`${cmd}\` (wall time ${f1(wall)} s; stand-alone results already in the cache are reused)`,
    `- Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores; load average (1 min) at start / end ${load0[0].toFixed(2)} / ${os.loadavg()[0].toFixed(2)}`,
    `- Sample: ${o.sample} architectures drawn (seed ${o.seed}) from the default search space (layers ${base.macro.layers.join('-')}, hidden ${base.macro.hidden.join('/')}, heads ${base.macro.heads.join('/')}, conv probability ${base.macro.convProbability}).`,
    `- Ground truth: each trained stand-alone for ${o.steps} steps (batch ${base.standalone.batchSize}, lr ${base.standalone.lr}), accuracy on the whole dev split` +
      (o.repeats > 1
        ? `, the mean of ${o.repeats} trainings with different seeds. Stand-alone training agrees with itself (seed 1 vs seed 2) at Kendall τ ${f3(kd.selfTau)}: the ceiling for any cheaper evaluator against one training.`
        : '.'),
    `- Supernet: ${o.supernetSteps} steps on paths drawn uniformly from the space plus the largest standard path (sandwich rule)` +
      (o.sampling === 'population'
        ? `; then the sample is replayed as a search asks for it, ${DEFAULT_FIDELITY_BATCH} at a time in order, and before each batch is scored the supernet trains ${o.populationSteps} steps per new architecture, paths drawn from the batch (${o.newShare * 100}%) or the up to ${DEFAULT_POPULATION.population} architectures before it (evaluators/supernet/population.ts, the code \`opnas search\` runs)`
        : '') +
      '; a candidate is scored by the accuracy of its inherited slice on a fixed 1,000-example dev subset, no fine-tuning.',
    `- Warm-up: the first ${o.warmupSteps} steps distil from the cached teacher (${DEFAULT_TEACHER.arch}, ${DEFAULT_TEACHER.steps} steps): logits KD at temperature ${DEFAULT_DISTILL.temperature}, hidden-state MSE, attention-map MSE (weights ${DEFAULT_DISTILL.logits} / ${DEFAULT_DISTILL.hidden} / ${DEFAULT_DISTILL.attention}).`,
    '',
    `| supernet | N | Kendall τ${o.repeats > 1 ? ` (vs mean of ${o.repeats})` : ''} | Spearman ρ | ${o.repeats > 1 ? 'Kendall τ vs seed 1 alone | ' : ''}base training s | population training s | scored / min (1 process) |`,
    `|:---|---:|---:|---:|${o.repeats > 1 ? '---:|' : ''}---:|---:|---:|`,
    row(`with distillation warm-up (${o.warmupSteps} steps)`, kd),
    row('without warm-up', plain),
    ...(once ? [row('without warm-up, trained once on the whole space (no population training: `--supernet-sampling uniform`)', once)] : []),
    '',
    'Candidates per minute, one process (the supernet runs after warm-up and base training; a search divides its scoring among',
    'its worker processes, each holding a read-only copy, while the population training runs in the main process):',
    '',
    '| evaluator | seconds per candidate | candidates / min | vs stand-alone |',
    '|:---|---:|---:|---:|',
    ...[kd, plain].map((r, i) => {
      const s = 60 / r.supernetPerMinute;
      return `| supernet${i ? '' : ' (warm-up)'}: scoring only | ${s.toFixed(2)} | ${f1(r.supernetPerMinute)} | ${f1(r.supernetPerMinute / standaloneRate)}× |`;
    }),
    ...(o.sampling === 'population'
      ? [kd, plain].map((r, i) => {
          const s = r.populationSeconds / r.n + 60 / r.supernetPerMinute;
          return `| supernet${i ? '' : ' (warm-up)'}: ${o.populationSteps} population steps + scoring | ${s.toFixed(2)} | ${f1(60 / s)} | ${f1(60 / s / standaloneRate)}× |`;
        })
      : []),
    `| stand-alone training, ${o.steps} steps${sa.every(Number.isFinite) ? ` (${f1(Math.min(...sa))} to ${f1(Math.max(...sa))} s each, two at a time when they ran)` : ''} | ${(60 / standaloneRate).toFixed(1)} | ${standaloneRate.toFixed(2)} | 1× |`,
    '',
    `| id | architecture | stand-alone dev${o.repeats > 1 ? ` (mean; each seed)` : ''} | supernet (warm-up) | supernet (none) |${once ? ' trained once |' : ''}`,
    `|:---|:---|---:|---:|---:|${once ? '---:|' : ''}`,
    ...kd.points.map(
      (p, i) =>
        `| ${p.id} | ${p.formula.split('\n')[0]} | ${p.standalone.toFixed(4)}${o.repeats > 1 ? ` (${p.standaloneRuns.map((v) => v.toFixed(4)).join(', ')})` : ''} | ${p.supernet.toFixed(4)} | ${plain.points[i].supernet.toFixed(4)} |${once ? ` ${once.points[i].supernet.toFixed(4)} |` : ''}`,
    ),
    '',
  ];
  const section = lines.join('\n');
  const prior = existsSync(o.out) ? readFileSync(o.out, 'utf8') : '# opnas benchmark results\n';
  writeFileSync(o.out, spliceSection(prior, section));
  console.log(section);
  log(`wrote ${o.out}`);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((e) => {
    console.error(`bench:fidelity: ${(e as Error).message}`);
    process.exit(1);
  });
}

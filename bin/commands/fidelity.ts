import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import type { BackendChoice } from '../../evaluators/backend.js';
import { backendOption, nonNegativeInt, positiveInt } from '../options.js';
import { DEFAULT_DISTILL, type TeacherSource } from '../../evaluators/supernet/distill.js';
import { runFidelity, scatterPlot, type FidelityConfig, type FidelityReport } from '../../evaluators/fidelity.js';
import { DEFAULT_POPULATION } from '../../evaluators/supernet/population.js';
import { DEFAULT_SUPERNET_SCORE, DEFAULT_SUPERNET_TRAIN, type PathSampling } from '../../evaluators/supernet/supernet.js';
import { DEFAULT_TRAIN } from '../../evaluators/train.js';
import { DEFAULT_SEARCH } from '../../runs/session.js';
import { runsDir } from '../../runs/store.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { macroFrom } from '../macro-options.js';
import { note, print } from '../output.js';
import { taskOptions, taskSpecFrom, type TaskArgs } from '../task-options.js';
import { defaultTeacher, distillFrom, distillOptions, teacherTrainOptions, type DistillArgs, type TeacherTrainArgs } from '../teacher-options.js';

interface Args extends TaskArgs, TeacherTrainArgs<'teacher-'>, DistillArgs {
  sample: number;
  seed: number;
  'train-seed'?: number;
  repeats: number;
  layers: string;
  hidden: string;
  heads: string;
  steps: number;
  'max-len': number;
  'vocab-size': number;
  'supernet-steps': number;
  'supernet-lr': number;
  sampling: PathSampling;
  'population-steps': number;
  batch: number;
  sandwich: boolean;
  'warmup-steps': number;
  teacher?: string;
  'teacher-logits'?: string;
  'fine-tune-steps': number;
  'dev-size': number;
  checkpoint?: string;
  workers?: number;
  'runs-dir'?: string;
  backend?: BackendChoice;
  json?: boolean;
  quiet?: boolean;
}

export const fidelityCommand: CommandModule<object, Args> = {
  builder: (y) =>
    taskOptions(
      backendOption(y)
        .option('sample', { type: 'number', default: 20, describe: 'architectures to sample and compare' })
        .option('seed', { alias: 's', type: 'number', default: 0, describe: 'random seed (the sample, training, scoring)' })
        .option('repeats', { type: 'number', default: 1, describe: 'stand-alone trainings per architecture (seeds train-seed, +1, ...): the ground truth is their mean; 2 or more also measure how well stand-alone training agrees with itself' })
        .option('train-seed', { type: 'number', describe: 'seed of the stand-alone training (default: --seed); another value shows how well stand-alone training agrees with itself' })
        .option('layers', { type: 'string', default: DEFAULT_SEARCH.macro.layers.join('-'), describe: 'encoder layers, N or N-M (the supernet is built for the deepest)' })
        .option('hidden', { type: 'string', default: DEFAULT_SEARCH.macro.hidden.join(','), describe: 'hidden widths (the supernet holds the widest)' })
        .option('heads', { type: 'string', default: DEFAULT_SEARCH.macro.heads.join(','), describe: 'attention heads' })
        .option('steps', { type: 'number', default: DEFAULT_SEARCH.train.steps, describe: 'stand-alone training steps per architecture (the ground truth)' })
        .option('max-len', { type: 'number', default: DEFAULT_TRAIN.maxLen, describe: 'longest sequence in tokens' })
        .option('vocab-size', { type: 'number', default: DEFAULT_SEARCH.vocabSize, describe: 'tokenizer vocabulary, trained on the task' })
        .option('supernet-steps', { type: 'number', default: DEFAULT_SUPERNET_TRAIN.steps, describe: 'supernet training steps, warm-up included' })
        .option('supernet-lr', { type: 'number', default: DEFAULT_SUPERNET_TRAIN.lr, describe: 'supernet peak learning rate' })
        .option('sampling', { choices: ['population', 'uniform'] as const, default: 'population' as PathSampling, describe: 'uniform: the supernet trains once on paths drawn from the space; population (as search does): then also --population-steps per architecture on the sample' })
        .option('batch', { type: 'number', default: DEFAULT_SEARCH.batch, describe: 'with --sampling population: architectures per batch, replayed as a search asks for them' })
        .option('population-steps', { type: 'number', default: DEFAULT_POPULATION.stepsPerCandidate, describe: 'supernet steps per sampled architecture with --sampling population' })
        .option('sandwich', { type: 'boolean', default: DEFAULT_SUPERNET_TRAIN.sandwich, describe: 'also train the largest standard path every step (--no-sandwich: only the sampled path)' })
        .option('warmup-steps', { type: 'number', default: 0, describe: 'distillation warm-up steps (part of --supernet-steps; 0: no warm-up)' })
        .option('teacher', { type: 'string', describe: 'teacher folder (opnas teacher prints it); default: the cached one, trained first if missing' })
        .option('teacher-logits', { type: 'string', describe: 'soft labels instead of a teacher model: JSONL, one row of logits per training example' })
        .option('fine-tune-steps', { type: 'number', default: DEFAULT_SUPERNET_SCORE.fineTuneSteps, describe: 'steps each candidate fine-tunes its inherited weights before scoring' })
        .option('dev-size', { type: 'number', default: DEFAULT_SUPERNET_SCORE.devSize, describe: 'dev examples the supernet scores on (a fixed seeded subset; 0: all)' })
        .option('checkpoint', { type: 'string', describe: 'supernet checkpoint folder: loaded if it exists, else trained and saved there' })
        .option('workers', { alias: 'w', type: 'number', describe: 'processes training stand-alone models (default: the number of cores; 0: this one)' })
        .option('runs-dir', { type: 'string', describe: 'cache of teachers and stand-alone results (default: $OPNAS_RUNS_DIR, else ./opnas-runs)' })
        .option('quiet', { type: 'boolean', describe: 'no progress output' })
        .options(teacherTrainOptions('teacher-'))
        .options(distillOptions()),
    ) as never,
  handler: async (a) => {
    if (!Number.isFinite(a.seed)) throw new OpnasError(`--seed must be a number, got ${a.seed}`);
    if (!(a['supernet-lr'] > 0)) throw new OpnasError(`--supernet-lr must be positive, got ${a['supernet-lr']}`);
    if (a.teacher && a['teacher-logits']) throw new OpnasError('give --teacher or --teacher-logits, not both');
    const warmup = nonNegativeInt('warmup-steps', a['warmup-steps']);
    const supernetSteps = positiveInt('supernet-steps', a['supernet-steps']);
    if (warmup > supernetSteps) throw new OpnasError(`--warmup-steps ${warmup} exceeds --supernet-steps ${supernetSteps} (the warm-up is part of them)`);
    if ((a.teacher || a['teacher-logits']) && !warmup) throw new OpnasError('--teacher and --teacher-logits need --warmup-steps > 0');
    const dir = runsDir(a['runs-dir']);
    const log = a.quiet ? () => {} : note;
    let teacher: TeacherSource | undefined;
    if (warmup) teacher = a['teacher-logits'] ? { logitsFile: a['teacher-logits'] } : a.teacher ? { dir: a.teacher } : undefined;
    const cfg: FidelityConfig = {
      task: taskSpecFrom(a),
      taskSeed: 0,
      vocabSize: positiveInt('vocab-size', a['vocab-size']),
      maxLen: positiveInt('max-len', a['max-len']),
      macro: macroFrom(a),
      sample: positiveInt('sample', a.sample),
      seed: a.seed,
      trainSeed: a['train-seed'],
      repeats: positiveInt('repeats', a.repeats),
      standalone: { ...DEFAULT_SEARCH.train, steps: positiveInt('steps', a.steps) },
      supernet: { steps: supernetSteps, lr: a['supernet-lr'], sandwich: a.sandwich },
      sampling: a.sampling,
      populationSteps: nonNegativeInt('population-steps', a['population-steps']),
      batch: positiveInt('batch', a.batch),
      score: { fineTuneSteps: nonNegativeInt('fine-tune-steps', a['fine-tune-steps']), devSize: nonNegativeInt('dev-size', a['dev-size']) },
      distill: warmup ? { config: { ...DEFAULT_DISTILL, ...distillFrom(a), train: { steps: warmup } }, teacher: teacher ?? { cache: { runsDir: dir, ...defaultTeacher(a, 'teacher-') } } } : undefined,
      workers: a.workers === undefined ? availableParallelism() : nonNegativeInt('workers', a.workers),
      cacheDir: join(dir, 'fidelity-cache'),
      checkpoint: a.checkpoint,
      backend: a.backend,
    };
    const report = await runFidelity(cfg, { log });
    if (a.json) return print(JSON.stringify({ config: cfg, ...report }, null, 2));
    print(fidelityText(report));
  },
};


export function fidelityText(r: FidelityReport): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  const lines = [
    `${r.n} architectures: Kendall tau ${f(r.kendallTau)}   Spearman rho ${f(r.spearmanRho)}${r.repeats > 1 ? `   (against the mean of ${r.repeats} stand-alone trainings each)` : ''}`,
    ...(r.selfTau !== undefined
      ? [`stand-alone vs itself (seed 1 vs seed 2): Kendall tau ${f(r.selfTau)}, the ceiling; supernet vs seed 1 alone: ${f(r.supernetTauFirst!)}`]
      : []),
    '',
    scatterPlot(
      r.points.map((p) => p.standalone),
      r.points.map((p) => p.supernet),
      { xLabel: r.repeats > 1 ? `stand-alone dev score (mean of ${r.repeats})` : 'stand-alone dev score', yLabel: 'supernet dev score' },
    ),
    '',
    `supernet: base training ${r.supernetTrainSeconds.toFixed(0)} s${r.warmupSeconds !== undefined ? ` (warm-up ${r.warmupSeconds.toFixed(0)} s)` : ''}` +
      (r.populationSteps ? `, then ${r.populationSteps} steps on the sample batch by batch (${r.populationSeconds.toFixed(0)} s, ${(r.populationSeconds / r.n).toFixed(1)} s per architecture)` : '') +
      `; scores ${r.supernetPerMinute.toFixed(1)} candidates/min`,
    r.standalonePerMinute !== undefined ? `stand-alone: ${r.standalonePerMinute.toFixed(2)} candidates/min per process` : 'stand-alone: every result came from the cache',
  ];
  return lines.join('\n');
}

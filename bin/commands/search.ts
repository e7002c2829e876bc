import type { Argv, CommandModule } from 'yargs';
import type { BackendChoice } from '../../evaluators/backend.js';
import { DEFAULT_SUPERNET_SEARCH } from '../../evaluators/supernet/distill.js';
import { DEFAULT_POPULATION } from '../../evaluators/supernet/population.js';
import type { PathSampling } from '../../evaluators/supernet/supernet.js';
import { DEFAULT_FINAL, DEFAULT_SCREEN_STEPS, isMaxParams, REFERENCE_NAMES } from '../../search/final.js';
import type { ReferenceName } from '../../spaces/family.js';
import { DEFAULT_BUDGET, DEFAULT_FINAL_TRAIN, DEFAULT_SEARCH, resumeSearch, startSearch, type SearchConfig, type SessionOptions } from '../../runs/session.js';
import { defaultRunName, RunStore, runsDir, validateRunName } from '../../runs/store.js';
import type { RunFile } from '../../runs/types.js';
import { evaluatedCount, SearchAborted } from '../../search/loop.js';
import { DEFAULT_EVOLUTION } from '../../search/evolution.js';
import { DEFAULT_OP_EVOLUTION } from '../../search/op-evolution.js';
import { STRATEGIES } from '../../search/strategies.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { checkTokenizerModel } from '../../evaluators/tasks/tokenizer.js';
import { checkLatencyRuntime, DEFAULT_LATENCY_RUNTIME, LATENCY_RUNTIME_NAMES } from '../../evaluators/latency.js';
import { configFileOption } from '../config-file.js';
import { backendOption, dropoutRate, nonNegativeInt, positiveInt } from '../options.js';
import { note, onOutputClosed } from '../output.js';
import { makeMultiBar, progressEnabled } from '../progress.js';
import { taskOptions, taskSpecFrom, type TaskArgs } from '../task-options.js';
import { macroFrom } from '../macro-options.js';
import { printRunReport } from '../run-report.js';
import { distillFrom, distillOptions, teacherChoice, teacherTrainOptions, type DistillArgs, type TeacherTrainArgs } from '../teacher-options.js';

interface RunArgs {
  'runs-dir'?: string;
  workers?: number;
  redis?: string;
  'redis-wait': number;
  backend?: BackendChoice;
  json?: boolean;
  quiet?: boolean;
}

interface SearchArgs extends TaskArgs, RunArgs, DistillArgs, TeacherTrainArgs<'teacher-'> {
  name?: string;
  space: 'backbone' | 'nb201';
  strategy?: string;
  evaluator?: 'standalone' | 'nb201' | 'supernet';
  'supernet-steps': number;
  'supernet-sampling': PathSampling;
  'population-steps': number;
  'warmup-steps': number;
  'teacher-logits'?: string;
  'fine-tune-steps': number;
  objective?: string;
  budget?: number;
  batch: number;
  seed: number;
  'max-params'?: string;
  'max-flops'?: number;
  'max-latency-ms'?: number;
  population?: number;
  tournament?: number;
  seeded: boolean;
  'ucb-c'?: number;
  layers: string;
  hidden: string;
  heads: string;
  pool: string;
  embed: string;
  'train-steps': number;
  'train-batch-size': number;
  lr: number;
  'max-len': number;
  'vocab-size': number;
  tokenizer: string;
  'latency-runtime': string;
  'final-top': number;
  'final-spread': boolean;
  'final-references': string | boolean;
  'final-seeds': number;
  'final-steps': number;
  'final-dropout': number;
  'final-max-params': string;
  'final-screen': number;
  'final-screen-steps': number;
}

export function runOptions<T>(y: Argv<T>) {
  return backendOption(y)
    .option('runs-dir', { type: 'string', describe: 'folder holding the runs (default: $OPNAS_RUNS_DIR, else ./opnas-runs)' })
    .option('workers', { alias: 'w', type: 'number', describe: 'candidates evaluated at once, one process each (default: the number of cores)' })
    .option('quiet', { type: 'boolean', describe: 'no progress output' })
    .group(['runs-dir', 'workers', 'backend', 'quiet'], 'Run:')
    .option('redis', { type: 'string', describe: 'score candidates through a job queue in this Redis, on opnas worker processes on any machine (redis://[:password@]host[:port][/db], rediss:// for TLS); not saved in the run' })
    .option('redis-wait', { type: 'number', default: 60, describe: 'seconds Redis may stay unreachable before the run stops (interrupted, resumable)' })
    .group(['redis', 'redis-wait'], 'Distributed (opnas worker):');
}

/** A run seed: an integer, so it round-trips through run.json and derives the same candidate seeds. */
export function seedOption(v: number): number {
  if (!Number.isSafeInteger(v)) throw new OpnasError(`--seed must be an integer, got ${v}`);
  return v;
}

/** The strategy of a NAS-Bench-201 search unless --strategy names another. */
const NB201_STRATEGY = 'op-evolution';

export function configFrom(a: SearchArgs): SearchConfig {
  const evaluator = a.evaluator ?? (a.space === 'nb201' ? 'nb201' : 'supernet');
  const d = DEFAULT_SEARCH;
  return {
    ...d,
    space: a.space,
    macro: macroFrom(a),
    // coarse-to-fine needs a macro shape, which the NAS-Bench-201 cell lacks
    strategy: a.strategy ?? (a.space === 'nb201' ? NB201_STRATEGY : d.strategy),
    population: a.population,
    tournament: a.tournament,
    c: a['ucb-c'],
    seeded: a.space === 'backbone' && a.seeded,
    evaluator,
    objectives: (a.objective ?? (evaluator === 'nb201' ? 'cifar10' : 'dev')).split(',').map((s) => s.trim()).filter(Boolean),
    budget: positiveInt('budget', a.budget ?? DEFAULT_BUDGET[evaluator]),
    batch: positiveInt('batch', a.batch),
    limits: { maxParams: maxParamsOption(a['max-params']), maxFlops: a['max-flops'], maxLatencyMs: a['max-latency-ms'] },
    latencyRuntime: checkLatencyRuntime(a['latency-runtime']),
    task: taskSpecFrom(a),
    vocabSize: positiveInt('vocab-size', a['vocab-size']),
    tokenizer: checkTokenizerModel(a.tokenizer),
    supernet:
      evaluator === 'supernet'
        ? {
            train: { steps: positiveInt('supernet-steps', a['supernet-steps']) },
            warmupSteps: nonNegativeInt('warmup-steps', a['warmup-steps']),
            teacherLogits: a['teacher-logits'],
            // the model teacher (trained and cached first when missing) unless soft labels are given
            ...(a['warmup-steps'] > 0 && !a['teacher-logits'] ? { teacher: teacherChoice(a, 'teacher-') } : {}),
            distill: distillFrom(a),
            sampling: a['supernet-sampling'],
            population: { stepsPerCandidate: nonNegativeInt('population-steps', a['population-steps']) },
            score: { fineTuneSteps: nonNegativeInt('fine-tune-steps', a['fine-tune-steps']) },
          }
        : undefined,
    train: { ...d.train, steps: positiveInt('train-steps', a['train-steps']), batchSize: positiveInt('train-batch-size', a['train-batch-size']), lr: a.lr, maxLen: positiveInt('max-len', a['max-len']) },
    final: a.space !== 'backbone' ? undefined : {
      top: nonNegativeInt('final-top', a['final-top']),
      seeds: positiveInt('final-seeds', a['final-seeds']),
      spread: a['final-spread'],
      references: finalReferences(a['final-references']),
      maxParams: finalMaxParamsOption(a['final-max-params']),
      train: { ...DEFAULT_FINAL_TRAIN, steps: positiveInt('final-steps', a['final-steps']), dropout: dropoutRate('final-dropout', a['final-dropout']) },
      ...(a['final-screen'] ? { screen: nonNegativeInt('final-screen', a['final-screen']), screenSteps: positiveInt('final-screen-steps', a['final-screen-steps']) } : {}),
    },
    seed: seedOption(a.seed),
  };
}

/** Progress bars, SIGINT handling and the closing report shared by search and resume. */
export async function runWithProgress(what: (o: SessionOptions) => Promise<RunFile>, a: RunArgs, name: string, budget: number, done = 0): Promise<void> {
  if (a.workers !== undefined) positiveInt('workers', a.workers);
  if (a.redis !== undefined && a.workers !== undefined) throw new OpnasError('--workers and --redis: with --redis the candidates run on opnas worker processes (opnas worker --redis URL --concurrency N sets how many)');
  if (!(a['redis-wait'] > 0)) throw new OpnasError(`--redis-wait must be a positive number of seconds, got ${a['redis-wait']}`);
  const controller = new AbortController();
  // Ctrl-C, SIGTERM (kill, service managers), SIGHUP (the terminal closed) and a closed stdout all
  // stop the run the same way: the trials so far saved, status interrupted, the lock released
  let exitCode = 130;
  const stop = (code: number, why: string) => {
    if (controller.signal.aborted) process.exit(code);
    exitCode = code;
    note(`\nopnas: stopping run '${name}' (${why})...`);
    controller.abort();
  };
  const onSigint = () => stop(130, 'Ctrl-C again to quit at once');
  const onSigterm = () => stop(143, 'SIGTERM');
  const onSighup = () => stop(129, 'SIGHUP');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);
  const offClosed = onOutputClosed(() => stop(141, 'output closed'));
  const bars = makeMultiBar(progressEnabled(a.quiet));
  const runBar = bars?.create(budget, done, { best: '-' }, { format: `${name} |{bar}| {value}/{total} trials | best {best} | ETA {eta_formatted}` });
  const workerBars = new Map<number, ReturnType<NonNullable<typeof bars>['create']>>();
  const log = a.quiet ? () => {} : (m: string) => (bars ? bars.log(m + '\n') : note(m));
  let evaluated = done;
  let best = -Infinity;
  try {
    const run = await what({
      workers: a.workers,
      redis: a.redis,
      redisPatienceMs: a['redis-wait'] * 1000,
      backend: a.backend,
      signal: controller.signal,
      log,
      onTrial: (t) => {
        if (t.status === 'ok' || t.status === 'failed') evaluated++;
        if (t.fitness !== undefined && t.fitness > best) best = t.fitness;
        runBar?.update(evaluated, { best: Number.isFinite(best) ? best.toFixed(4) : '-' });
        if (!bars && !a.quiet) note(`trial ${t.index} ${t.status}${t.fitness !== undefined ? ` fitness ${t.fitness.toFixed(4)}` : ''}${t.reason ? ` (${t.reason})` : ''}`);
      },
      onProgress: (worker, id, step, steps) => {
        if (!bars) return;
        let b = workerBars.get(worker);
        if (!b) workerBars.set(worker, (b = bars.create(steps, 0, { id: '' }, { format: `  worker ${worker + 1} |{bar}| {value}/{total} steps | {id}` })));
        b.setTotal(steps);
        b.update(step, { id: id.slice(0, 8) });
      },
    });
    bars?.stop();
    report(run, a.json);
  } catch (e) {
    bars?.stop();
    if (e instanceof SearchAborted) {
      throw new OpnasError(`run '${name}' interrupted; its trials are saved. Continue it with: opnas resume ${name}${a.redis ? ' --redis URL' : ''}`, exitCode);
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGHUP', onSighup);
    offClosed();
  }
}

export function report(run: RunFile, json?: boolean): void {
  const objectives = (run.config.objectives as string[]) ?? [];
  printRunReport(run, { json, top: 10, pareto: objectives.length > 1 ? objectives : undefined });
}

/** A parameter limit's value: a positive number or 'baseline'; `also` names any other accepted words for the message. */
function paramLimit(flag: string, s: string, also = ''): number | 'baseline' {
  const limit = s === 'baseline' ? s : Number(s);
  if (!isMaxParams(limit)) throw new OpnasError(`--${flag} must be a positive number${also ? `, 'baseline' or ${also}` : " or 'baseline'"}, got '${s}'`);
  return limit;
}

/** --max-params: a positive number, or 'baseline' (resolved when the run starts: `searchLimits`). */
function maxParamsOption(v: string | number | undefined): number | 'baseline' | undefined {
  return v === undefined ? undefined : paramLimit('max-params', String(v).trim());
}

/** --final-max-params: 'baseline' (the baseline's count), 'none', or a positive number such as 1.2e6. */
function finalMaxParamsOption(v: string | number | undefined): number | 'baseline' | undefined {
  const s = String(v ?? 'baseline').trim();
  return s === 'none' ? undefined : paramLimit('final-max-params', s, "'none'");
}

/** --final-references: names of known-good references, 'none' (or --no-final-references) for none. */
function finalReferences(v: string | boolean): ReferenceName[] | false {
  if (v === false || v === 'none' || v === 'false') return false;
  if (v === true || v === '' || v === 'true') return [...(DEFAULT_FINAL.references as ReferenceName[])];
  const names = [...new Set(String(v).split(',').map((n) => n.trim()).filter(Boolean))];
  const known = (n: string): n is ReferenceName => (REFERENCE_NAMES as readonly string[]).includes(n);
  const unknown = names.filter((n) => !known(n));
  if (unknown.length) throw new OpnasError(`--final-references: unknown reference ${unknown.map((n) => `'${n}'`).join(', ')} (known: ${REFERENCE_NAMES.join(', ')}, or none)`);
  return names.length ? names.filter(known) : false;
}

export const searchCommand: CommandModule<object, SearchArgs> = {
  builder: (y) =>
    configFileOption(
      runOptions(
      taskOptions(
      y
        .option('name', { alias: 'n', type: 'string', describe: 'run name (default: run-DATE-TIME)' })
        .group(['name', 'config'], 'Run:')
        .option('space', { choices: ['backbone', 'nb201'] as const, default: DEFAULT_SEARCH.space, describe: 'search space (nb201: the NAS-Bench-201 cell, scored from the bundled table)' })
        .option('strategy', { type: 'string', describe: `search strategy (${Object.keys(STRATEGIES).join(', ')}; default: ${DEFAULT_SEARCH.strategy}, ${NB201_STRATEGY} with --space nb201)` })
        .option('objective', { type: 'string', describe: 'score to optimise (default: dev; cifar10 on nb201), or two (e.g. dev,latency) for a Pareto front' })
        .option('budget', { alias: 'b', type: 'number', describe: `candidates to evaluate (default: ${DEFAULT_BUDGET.supernet} with the supernet, ${DEFAULT_BUDGET.standalone} with stand-alone training, ${DEFAULT_BUDGET.nb201} on nb201)` })
        .option('batch', { type: 'number', default: DEFAULT_SEARCH.batch, describe: 'candidates per strategy ask (fixed, so results do not depend on --workers)' })
        .option('seed', { alias: 's', type: 'number', default: DEFAULT_SEARCH.seed, describe: 'random seed of the strategy, the supernet and each candidate (same seed, same trials)' })
        .option('population', { type: 'number', describe: `evolution population size (default: ${DEFAULT_EVOLUTION.population})` })
        .option('tournament', { type: 'number', describe: `evolution tournament size (default: ${DEFAULT_EVOLUTION.tournament})` })
        .option('ucb-c', { type: 'number', describe: `op-evolution UCB exploration constant c (default: ${DEFAULT_OP_EVOLUTION.c})` })
        .option('seeded', { type: 'boolean', default: true, describe: "evolution starts from known-good genomes (the textbook layer at the run's widths and variants of it) before random samples; --no-seeded: random samples only" })
        .group(['space', 'strategy', 'objective', 'budget', 'batch', 'seed', 'population', 'tournament', 'ucb-c', 'seeded'], 'Search:')
        .option('layers', { type: 'string', default: DEFAULT_SEARCH.macro.layers.join('-'), describe: 'encoder depth range, N or N-M' })
        .option('hidden', { type: 'string', default: DEFAULT_SEARCH.macro.hidden.join(','), describe: 'hidden widths to choose from' })
        .option('heads', { type: 'string', default: DEFAULT_SEARCH.macro.heads.join(','), describe: 'head counts to choose from' })
        .option('max-params', { type: 'string', describe: "reject candidates with more parameters (before training): a number (2e6), or baseline (the textbook baseline's own count at the run's widths)" })
        .option('max-flops', { type: 'number', describe: 'reject candidates with more FLOPs per token' })
        .option('max-latency-ms', { type: 'number', describe: 'reject candidates slower than this per example (measured, untrained)' })
        .option('latency-runtime', { type: 'string', default: DEFAULT_LATENCY_RUNTIME, describe: `where latency (--objective dev,latency, --max-latency-ms) is measured: ${LATENCY_RUNTIME_NAMES.join(' or ')} (onnx: ONNX Runtime on the candidate's ONNX graph, needs onnxruntime-node; browser: that graph in ONNX Runtime Web in headless Chromium, one browser per search, needs chromium)` })
        .option('pool', { type: 'string', default: (DEFAULT_SEARCH.macro.pool ?? ['cls']).join(','), describe: 'sequence readouts to choose from (cls, mean, max)' })
        .option('embed', { type: 'string', default: (DEFAULT_SEARCH.macro.embed ?? []).join(',') || 'none', describe: "factorised embedding widths to choose from besides the full width ('none': never factorise)" })
        .group(['layers', 'hidden', 'heads', 'pool', 'embed', 'max-params', 'max-flops', 'max-latency-ms', 'latency-runtime'], 'Backbone space and limits:')
        .option('evaluator', {
          choices: ['supernet', 'standalone', 'nb201'] as const,
          describe:
            'how candidates are scored (default: supernet, a weight-sharing supernet trained before the search and on each batch; ' +
            'standalone: train each candidate; nb201: table lookup, the default with --space nb201)',
        })
        .option('max-len', { type: 'number', default: DEFAULT_SEARCH.train.maxLen, describe: 'longest sequence in tokens' })
        .option('vocab-size', { type: 'number', default: DEFAULT_SEARCH.vocabSize, describe: 'tokenizer vocabulary, trained on the task' })
        .option('tokenizer', { type: 'string', default: 'wordlevel', describe: 'tokenizer trained on the task, used to score every candidate: wordlevel or wordpiece (## sub-words)' })
        .group(['evaluator', 'max-len', 'vocab-size', 'tokenizer'], 'Scoring:')
        .option('supernet-steps', { type: 'number', default: DEFAULT_SUPERNET_SEARCH.train.steps, describe: 'supernet training steps before the search, warm-up included' })
        .option('supernet-sampling', { choices: ['population', 'uniform'] as const, default: DEFAULT_SUPERNET_SEARCH.sampling, describe: 'population: before each batch is scored the supernet also trains on it and the recent population; uniform: trained once, on paths drawn from the whole space' })
        .option('population-steps', { type: 'number', default: DEFAULT_POPULATION.stepsPerCandidate, describe: 'supernet steps per new candidate with --supernet-sampling population' })
        .option('fine-tune-steps', { type: 'number', default: 0, describe: 'steps a candidate fine-tunes its supernet weights before scoring' })
        .option('warmup-steps', { type: 'number', default: DEFAULT_SUPERNET_SEARCH.warmupSteps, describe: 'distillation warm-up steps of the supernet (0: none)' })
        .option('teacher-logits', { type: 'string', describe: 'soft labels for the warm-up (JSONL, a row of logits per line of the training file, or per example of its train split); default: the cached opnas teacher' })
        .options(teacherTrainOptions('teacher-'))
        .options(distillOptions())
        .group(['supernet-steps', 'supernet-sampling', 'population-steps', 'fine-tune-steps', 'warmup-steps', 'teacher-logits', ...Object.keys(teacherTrainOptions('teacher-')), ...Object.keys(distillOptions())], 'Supernet (--evaluator supernet):')
        .option('train-steps', { type: 'number', default: DEFAULT_SEARCH.train.steps, describe: 'training steps per candidate' })
        .option('train-batch-size', { type: 'number', default: DEFAULT_SEARCH.train.batchSize, describe: 'examples per training step' })
        .option('lr', { type: 'number', default: DEFAULT_SEARCH.train.lr, describe: 'peak learning rate (AdamW, linear warm-up and decay)' })
        .group(['train-steps', 'train-batch-size', 'lr'], 'Stand-alone training (--evaluator standalone):')
        .option('final-top', { type: 'number', default: DEFAULT_FINAL.top, describe: 'the top N distinct candidates (and the baseline) are trained stand-alone and the best mean dev score wins (0: no final stage)' })
        .option('final-references', {
          type: 'string',
          default: (DEFAULT_FINAL.references as string[]).join(','),
          describe: `known-good architectures trained beside the baseline, the best mean dev of all wins: ${REFERENCE_NAMES.join(', ')} (conv: convolution only, max pooling, as Kim 2014; hybrid: the textbook layer with a kernel-3 convolution first, as AutoBERT-Zero; deep: convolutions k3 and k7 below the attention layer, FFN ratio 2, max pooling), comma-separated; none (or --no-final-references): none`,
        })
        .option('final-max-params', {
          type: 'string',
          default: DEFAULT_FINAL.maxParams as string,
          describe: "the most parameters a search candidate may have to become a finalist: a number (1.2e6), baseline (the baseline's own count, so the winner is never the larger model), or none; the baseline and references are trained whatever their size",
        })
        .option('final-spread', { type: 'boolean', default: DEFAULT_FINAL.spread, describe: 'give the final slots first to the best candidate of each family (all-attention, all-convolution, hybrid) the baseline does not stand for' })
        .option('final-seeds', { type: 'number', default: DEFAULT_FINAL.seeds, describe: 'trainings per finalist (seeds 0..N-1, as opnas train --seed)' })
        .option('final-steps', { type: 'number', default: DEFAULT_FINAL_TRAIN.steps, describe: 'training steps at most (early stopping on dev, as opnas train)' })
        .option('final-dropout', { type: 'number', default: DEFAULT_FINAL_TRAIN.dropout, describe: 'hidden dropout rate of the final trainings (as opnas train --dropout)' })
        .option('final-screen', { type: 'number', default: 0, describe: 'screen this many top candidates first with one short training each; the best --final-top of them go on (0: no screening)' })
        .option('final-screen-steps', { type: 'number', default: DEFAULT_SCREEN_STEPS, describe: 'training steps of each screening training (seed 0)' })
        .group(['final-top', 'final-references', 'final-max-params', 'final-spread', 'final-seeds', 'final-steps', 'final-dropout', 'final-screen', 'final-screen-steps'], 'Final selection stage (backbone searches):')
        .example([
          ['$0 search', 'the main job: op-priority evolution on SST-2, scored by the supernet (minutes)'],
          ['$0 search --name mine --objective dev,latency --max-params 2e6', 'a Pareto front of accuracy and latency under 2M parameters'],
          ['$0 search --evaluator standalone --budget 12', 'train every candidate for real instead'],
          ['$0 search --train my.csv --text-column text --label-column label', 'search on your own data'],
          ['$0 search --space nb201 --budget 100', 'check a strategy on NAS-Bench-201 (seconds)'],
          ['$0 search --config search.json --seed 2', 'options from a JSON file ({"budget": 80, "max-params": 2e6}), the seed from here'],
        ]),
      ),
      ),
      'search',
    ) as never,
  handler: async (argv) => {
    const name = validateRunName(argv.name ?? defaultRunName());
    const config = configFrom(argv);
    const dir = runsDir(argv['runs-dir']);
    await runWithProgress((o) => startSearch(dir, name, config, o), argv, name, config.budget);
  },
};

interface ResumeArgs extends RunArgs {
  run: string;
  budget?: number;
}

export const resumeCommand: CommandModule<object, ResumeArgs> = {
  builder: (y) =>
    runOptions(
      y
        .positional('run', { type: 'string', demandOption: true, describe: 'run name' })
        .option('budget', { alias: 'b', type: 'number', describe: 'new total number of evaluations' }),
    ) as never,
  handler: async (argv) => {
    const dir = runsDir(argv['runs-dir']);
    const peek = await RunStore.open(dir, argv.run, { readonly: true });
    const budget = argv.budget ?? (peek.data.config.budget as number);
    const done = evaluatedCount(peek.data.trials);
    await peek.close();
    await runWithProgress((o) => resumeSearch(dir, argv.run, { ...o, budget: argv.budget }), argv, argv.run, budget, done);
  },
};

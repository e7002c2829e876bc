import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { BackendChoice } from '../evaluators/backend.js';
import { Nb201Evaluator } from '../evaluators/nb201.js';
import { DEFAULT_SUPERNET_SEARCH, prepareSupernet, readTeacherLogits, type SupernetSearchConfig } from '../evaluators/supernet/distill.js';
import { PopulationTrainer } from '../evaluators/supernet/population.js';
import { trainTokenizer } from '../evaluators/standalone.js';
import { loadTask, type TaskSpec } from '../evaluators/tasks/named.js';
import { checkLatencyRuntime, closeLatencyRuntimes, DEFAULT_LATENCY_RUNTIME, LATENCY_RUNTIMES, measuredHere, type LatencyRuntime, type LatencyShape } from '../evaluators/latency.js';
import { checkTokenizerModel, type TokenizerJSON, type TokenizerModel } from '../evaluators/tasks/tokenizer.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../evaluators/train.js';
import { DEFAULT_FINAL, DEFAULT_SCREEN_STEPS, REFERENCE_NAMES, finalMaxParams, finalResult, isMaxParams, pickFinalists, runFinal, screenedFinalists, type FinalConfig, type FinalRun, type FinalState } from '../search/final.js';
import type { Evaluator } from '../evaluators/types.js';
import { evaluatedCount, search, SearchAborted, type Limits } from '../search/loop.js';
import { makeStrategy } from '../search/strategies.js';
import type { Candidate, Strategy, Trial } from '../search/types.js';
import { WorkerPool } from '../evaluators/pool.js';
import { QueueEvaluator, QueueUnavailable } from '../evaluators/queue/coordinator.js';
import { checkRedis } from '../evaluators/queue/redis.js';
import { WORKER_EVALUATORS, type WorkerConfig } from '../evaluators/registry.js';
import { backboneSpace, REFERENCES, referenceBaseline } from '../spaces/backbone.js';
import type { ReferenceName } from '../spaces/family.js';
import { OpnasError } from '../spaces/base/errors.js';
import { DEFAULT_MACRO, type MacroRanges } from '../spaces/macro.js';
import { nb201Space } from '../spaces/nb201.js';
import type { BackboneGenome, SearchSpace, Shape } from '../spaces/types.js';
import { RunStore } from './store.js';
import type { RunFile } from './types.js';

/**
 * A search session: builds the space, strategy and evaluator a run's config names, runs the loop
 * with the run store as its checkpoint, and keeps the run's status honest (running, interrupted,
 * finished, failed). `startSearch` and `resumeSearch` are what the CLI commands call.
 * docs/ARCHITECTURE.md lists what to change here to add a space or an evaluator.
 */

export interface SearchConfig {
  space: 'backbone' | 'nb201';
  /** Macro ranges of the backbone space. */
  macro: MacroRanges;
  strategy: string;
  population?: number;
  tournament?: number;
  c?: number;
  /** Evolution starts from the space's known-good genomes (absent in older runs: false). */
  seeded?: boolean;
  evaluator: 'standalone' | 'nb201' | 'supernet';
  /** The supernet evaluator: its training (distillation warm-up included) and scoring. */
  supernet?: SupernetSearchConfig;
  /** Score names; the first ranks candidates, two keep a Pareto front. */
  objectives: string[];
  /** Evaluations in total. */
  budget: number;
  /** Candidates per ask (fixed, so results do not depend on --workers). */
  batch: number;
  /** `maxParams: 'baseline'`: the reference baseline's own count at the run's sizes (`searchLimits`). */
  limits: SearchLimits;
  task: string | TaskSpec;
  taskSeed: number;
  vocabSize: number;
  /** Where candidates' latency is measured (evaluators/latency.ts; absent in older runs: tfjs). */
  latencyRuntime?: LatencyRuntime;
  /** The run's tokenizer, trained on the task (absent in older runs: wordlevel). */
  tokenizer?: TokenizerModel;
  /** Stand-alone training of each candidate (steps, batch size, lr, ...). */
  train: Partial<TrainConfig>;
  /**
   * The final selection stage: the top candidates and the reference baseline trained stand-alone
   * (`train`: the same settings as `opnas train`), seeds 0..seeds-1; absent or top 0: none.
   */
  final?: FinalConfig & { train: Partial<TrainConfig> };
  seed: number;
}

/** `opnas train`'s settings, so the final table is what `opnas train --seed S` reproduces. */
export const DEFAULT_FINAL_TRAIN: Partial<TrainConfig> = (({ seed: _, ...rest }) => rest)(DEFAULT_TRAIN);

/**
 * What a run's final stage trains with: its final-stage settings at the search's sequence length
 * (the length its tokenizer and candidates were scored at). `opnas export --model` retrains with
 * the same, so its seed 0 reproduces the final stage's.
 */
export function finalTrainConfig(c: SearchConfig): Partial<TrainConfig> {
  const train = c.final?.train ?? DEFAULT_FINAL_TRAIN;
  return { ...train, maxLen: c.train.maxLen ?? train.maxLen };
}

/**
 * The known-good references a final stage trains: a saved list by name; `true` is what runs saved
 * before the list existed meant (the convolution-only reference alone), so they resume unchanged.
 */
export function referenceNames(r: FinalConfig['references']): ReferenceName[] {
  return r === true ? ['conv'] : Array.isArray(r) ? r : [];
}

/** Candidates a search evaluates unless told otherwise: a supernet scores dozens a minute, stand-alone training about one. */
export const DEFAULT_BUDGET: Record<SearchConfig['evaluator'], number> = { supernet: 32, standalone: 12, nb201: 12 };

/** A default search that finishes in minutes on a 2-core CPU: small models, a supernet trained once, then scored. */
export const DEFAULT_SEARCH: SearchConfig = {
  space: 'backbone',
  // the readouts and a factorised embedding are the choices most likely to help models trained from scratch;
  // 8 heads give a convolution layer 8 kernels (the convolution-only seed measured best with them)
  macro: { ...DEFAULT_MACRO, layers: [1, 2], hidden: [64, 128], heads: [1, 2, 4, 8], pool: ['cls', 'mean', 'max'], embed: [64] },
  strategy: 'op-evolution',
  seeded: true,
  evaluator: 'supernet',
  objectives: ['dev'],
  budget: DEFAULT_BUDGET.supernet,
  batch: 4,
  limits: {},
  task: 'sst2',
  taskSeed: 0,
  vocabSize: 8192,
  train: { steps: 200, batchSize: 32, maxLen: 64, lr: 1e-3, evalEvery: 0, patience: 0 },
  final: { ...DEFAULT_FINAL, train: DEFAULT_FINAL_TRAIN },
  seed: 0,
};

export interface SessionOptions {
  workers?: number;
  /**
   * Score candidates through a BullMQ queue in this Redis (`opnas worker` processes on any machine)
   * instead of local worker processes. Never saved in the run (it may hold a password).
   */
  redis?: string;
  /** Milliseconds Redis may stay unreachable before the run stops as interrupted (default 60 s). */
  redisPatienceMs?: number;
  backend?: BackendChoice;
  signal?: AbortSignal;
  log?: (msg: string) => void;
  onTrial?: (t: Trial, run: RunFile) => void;
  onEvaluationStart?: (c: Candidate) => void;
  onProgress?: (worker: number, id: string, step: number, steps: number) => void;
}

const SCORES: Record<SearchConfig['evaluator'], string[]> = {
  standalone: WORKER_EVALUATORS.standalone.scores,
  nb201: ['cifar10', 'cifar100', 'imagenet16', 'params', 'flops'],
  supernet: WORKER_EVALUATORS.supernet.scores,
};

/** Field types a saved config must have before anything reads it (a hand-edited run.json may lack them). */
function configShapeProblems(c: SearchConfig): string[] {
  // every field as unknown: the file may not match its type
  const x: { [K in keyof SearchConfig]?: unknown } = c;
  const p: string[] = [];
  const obj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  for (const k of ['space', 'strategy', 'evaluator'] as const) if (typeof x[k] !== 'string') p.push(`${k} is missing or not a string`);
  if (!Array.isArray(x.objectives) || !x.objectives.every((o) => typeof o === 'string')) p.push('objectives is missing or not a list of score names');
  for (const k of ['budget', 'batch', 'seed', 'vocabSize'] as const) if (typeof x[k] !== 'number') p.push(`${k} is missing or not a number`);
  for (const k of ['limits', 'train'] as const) if (!obj(x[k])) p.push(`${k} is missing or not an object`);
  if (x.space === 'backbone' && !obj(x.macro)) p.push('macro is missing or not an object');
  return p;
}

export function checkSearchConfig(c: SearchConfig): void {
  const shape = configShapeProblems(c);
  if (shape.length) throw new OpnasError(`config: ${shape.join('; ')}`);
  const problems: string[] = [];
  const pairs: Record<SearchConfig['evaluator'], SearchConfig['space']> = { standalone: 'backbone', nb201: 'nb201', supernet: 'backbone' };
  if (!SCORES[c.evaluator]) problems.push(`unknown evaluator '${c.evaluator}' (known: ${Object.keys(SCORES).join(', ')})`);
  else if (pairs[c.evaluator] !== c.space) problems.push(`the ${c.evaluator} evaluator scores the ${pairs[c.evaluator]} space, not '${c.space}'`);
  for (const o of c.objectives) if (SCORES[c.evaluator] && !SCORES[c.evaluator].includes(o)) problems.push(`unknown objective '${o}' for the ${c.evaluator} evaluator (known: ${SCORES[c.evaluator].join(', ')})`);
  if (c.objectives.length < 1 || c.objectives.length > 2) problems.push(`--objective takes one or two scores, got ${c.objectives.length}`);
  if (!(Number.isInteger(c.budget) && c.budget > 0)) problems.push(`budget must be a positive integer, got ${c.budget}`);
  if (!(Number.isInteger(c.batch) && c.batch > 0)) problems.push(`batch must be a positive integer, got ${c.batch}`);
  for (const [k, v] of Object.entries(c.limits))
    if (k === 'maxParams' && v === 'baseline') {
      if (c.space !== 'backbone') problems.push(`max params 'baseline' applies to backbone searches (the ${c.space} space has no baseline)`);
    } else if (v !== undefined && !(typeof v === 'number' && v > 0)) problems.push(`${k} must be positive, got ${v}`);
  if (c.final) {
    if (!(Number.isInteger(c.final.top) && c.final.top >= 0)) problems.push(`final top must be an integer >= 0, got ${c.final.top}`);
    if (!(Number.isInteger(c.final.seeds) && c.final.seeds >= 1)) problems.push(`final seeds must be a positive integer, got ${c.final.seeds}`);
    const sc = c.final.screen ?? 0;
    if (!(Number.isInteger(sc) && sc >= 0)) problems.push(`final screen must be an integer >= 0, got ${sc}`);
    else if (sc > 0 && sc <= c.final.top) problems.push(`final screen ${sc} must be larger than final top ${c.final.top} (the screening rung keeps the best ${c.final.top} of them)`);
    const ss = c.final.screenSteps;
    if (ss !== undefined && !(Number.isInteger(ss) && ss >= 1)) problems.push(`final screen steps must be a positive integer, got ${ss}`);
    if (c.final.spread !== undefined && typeof c.final.spread !== 'boolean') problems.push(`final spread must be true or false, got ${JSON.stringify(c.final.spread)}`);
    const refs = c.final.references;
    if (refs !== undefined && typeof refs !== 'boolean' && !(Array.isArray(refs) && refs.every((n) => (REFERENCE_NAMES as readonly unknown[]).includes(n))))
      problems.push(`final references must be true, false or a list of ${REFERENCE_NAMES.join(', ')}, got ${JSON.stringify(refs)}`);
    const mp = c.final.maxParams;
    if (mp !== undefined && !isMaxParams(mp)) problems.push(`final max params must be a positive number or 'baseline', got ${JSON.stringify(mp)}`);
    const drop = c.final.train?.dropout;
    if (drop !== undefined && !(typeof drop === 'number' && drop >= 0 && drop < 1)) problems.push(`final dropout must be a rate from 0 up to but not including 1, got ${JSON.stringify(drop)}`);
  }
  if (!Number.isSafeInteger(c.seed)) problems.push(`seed must be an integer, got ${c.seed}`);
  if (c.latencyRuntime !== undefined) {
    try {
      checkLatencyRuntime(c.latencyRuntime, 'latency runtime');
      if (c.space !== 'backbone' && c.latencyRuntime !== DEFAULT_LATENCY_RUNTIME) problems.push(`--latency-runtime applies to backbone searches (the ${c.space} space has no latency to measure)`);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (c.tokenizer !== undefined) {
    try {
      checkTokenizerModel(c.tokenizer, 'tokenizer');
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new OpnasError(problems.join('; '));
  // the strategy checks its own options (population, tournament, c); fail here, before a run folder exists
  strategyFor(c);
}

/** The strategy a run's config names, with its options. */
function strategyFor(c: SearchConfig, space = spaceFor(c)): Strategy {
  return makeStrategy(c.strategy, space, c.seed, { population: c.population, tournament: c.tournament, c: c.c, seeded: c.seeded, budget: c.budget });
}

/** Worker processes for a search: as asked (default one per core), at most one per candidate of a batch. */
export function workerCount(asked: number | undefined, batch: number): number {
  return Math.max(1, Math.min(asked ?? availableParallelism(), batch));
}

function spaceFor(c: SearchConfig): SearchSpace<unknown> {
  return (c.space === 'nb201' ? nb201Space : backboneSpace(c.macro)) as SearchSpace<unknown>;
}

async function evaluatorFor(store: RunStore, o: SessionOptions): Promise<{ evaluator: Evaluator; latency?: (c: Candidate) => Promise<number>; close: () => Promise<void> }> {
  const run = store.data;
  const c = run.config;
  if (c.evaluator === 'nb201') {
    const e = Nb201Evaluator.load() as Evaluator;
    return { evaluator: e, close: async () => {} };
  }
  const tokenizer = run.extra!.tokenizer as TokenizerJSON;
  const cfg: WorkerConfig =
    c.evaluator === 'supernet'
      ? {
          kind: 'supernet',
          ...(await prepareSupernet({ folder: store.folder, runsDir: store.dir, task: c.task, taskSeed: c.taskSeed, tokenizer, macro: c.macro, maxLen: c.train.maxLen ?? 64, supernet: c.supernet ?? DEFAULT_SUPERNET_SEARCH, seed: c.seed, backend: o.backend, signal: o.signal, log: o.log,
            onStep: (phase, st) => {
              if (st.step % 100 === 0 || st.step === st.steps) o.log?.(`supernet ${phase}: step ${st.step}/${st.steps}, loss ${st.loss.toFixed(4)}`);
            },
          })),
          ...workerLatency(c),
        }
      : { kind: 'standalone', task: c.task, taskSeed: c.taskSeed, tokenizer, train: c.train, backend: o.backend, ...workerLatency(c) };
  let pool: WorkerPool | QueueEvaluator;
  if (o.redis) {
    pool = await QueueEvaluator.connect({ url: o.redis, run: queueRunId(run), config: cfg, log: o.log, patienceMs: o.redisPatienceMs });
    o.log?.(`scoring through the queue in Redis (opnas worker --redis ... on any machine); run id ${queueRunId(run)}`);
  } else {
    // never more processes than a batch has candidates: the others would only hold memory
    const size = workerCount(o.workers, c.batch);
    o.log?.(`scoring with ${size} worker process${size === 1 ? '' : 'es'}`);
    pool = new WorkerPool(size, cfg);
  }
  pool.onProgress = o.onProgress;
  pool.onRetry = o.log;
  let trainer: PopulationTrainer | undefined;
  const sn = c.supernet ?? DEFAULT_SUPERNET_SEARCH;
  if (cfg.kind === 'supernet' && (sn.sampling ?? 'uniform') === 'population') {
    const scorer = pool;
    const train: Evaluator['prepare'] = async (p) => {
      trainer ??= await PopulationTrainer.create({ folder: store.folder, evaluator: cfg, train: { ...sn.train }, population: sn.population ?? {}, seed: c.seed, log: o.log });
      scorer.checkpoint = await trainer.prepare(p.batch, p.candidates as Candidate<BackboneGenome>[], p.trials, p.signal);
    };
    if (scorer instanceof QueueEvaluator) scorer.beforeBatch = train;
    else scorer.prepare = train;
  }
  const scorer = pool;
  const close = async () => {
    trainer?.dispose();
    await scorer.close();
  };
  if (c.latencyRuntime === 'browser') {
    const here = measuredHere(pool as Evaluator<BackboneGenome>, 'browser', latencyShape(c, run));
    return { evaluator: here.evaluator as Evaluator, latency: (cand) => here.latency(cand as Candidate<BackboneGenome>), close };
  }
  return { evaluator: pool as Evaluator, latency: (cand) => scorer.latency(cand as Candidate<never>), close };
}

/** The run's id on the queue: job ids are made from it, so a resumed coordinator finds its jobs again. */
function queueRunId(run: RunFile): string {
  run.extra ??= {};
  if (typeof run.extra.queueRun !== 'string') run.extra.queueRun = randomUUID();
  return run.extra.queueRun as string;
}

/** Candidates scored at once: a queue takes a whole batch (any number of machines may serve it). */
function concurrencyOf(o: SessionOptions, c: SearchConfig): number {
  return o.redis ? c.batch : workerCount(o.workers, c.batch);
}

/** Refuse --redis where it cannot apply, and an unusable Redis, before anything is created or changed. */
async function checkQueue(c: SearchConfig, o: SessionOptions): Promise<void> {
  if (!o.redis) return;
  if (c.evaluator === 'nb201') throw new OpnasError('--redis: the nb201 evaluator is a table lookup in this process; only the standalone and supernet evaluators score through the queue');
  await checkRedis(o.redis);
}

/**
 * The latency runtime workers use: the run's, except the browser, which the search's own process
 * runs (one browser per search, measuredHere); its workers' own TF.js figure is replaced.
 */
function workerLatency(c: SearchConfig): { latencyRuntime?: LatencyRuntime } {
  return c.latencyRuntime && c.latencyRuntime !== 'browser' ? { latencyRuntime: c.latencyRuntime } : {};
}

/** The sizes candidates' latency is measured at (as the workers build them). */
function latencyShape(c: SearchConfig, run: RunFile): LatencyShape {
  return { vocabSize: (run.extra!.tokenizer as TokenizerJSON).vocab.length, maxLen: c.train.maxLen ?? 64, numClasses: (run.extra?.numClasses as number) ?? 2 };
}

/** A search's limits, `Limits` but for `maxParams`, which may also be `'baseline'`. */
export type SearchLimits = Omit<Limits, 'maxParams'> & { maxParams?: number | 'baseline' };

/**
 * The limits the loop checks: `maxParams: 'baseline'` becomes the reference baseline's parameter
 * count at the run's widths, vocabulary and classes (bert-tiny's 1,470,338 on a two-class task with
 * the defaults, 1,470,854 on TREC's six), so a search never spends its budget on candidates larger
 * than the layer they have to beat.
 */
export function searchLimits(c: Pick<SearchConfig, 'limits' | 'macro'>, shape: Shape): Limits {
  const { maxParams, ...rest } = c.limits;
  if (maxParams !== 'baseline') return { ...rest, maxParams };
  return { ...rest, maxParams: backboneSpace(c.macro).cost(referenceBaseline(c.macro), shape).params };
}

/** Sizes analytic costs are computed for: the run's sequence length, vocabulary and classes. */
function shapeOf(c: SearchConfig, run: RunFile): Shape {
  return { seqLen: c.train.maxLen ?? 64, vocabSize: c.vocabSize, numClasses: (run.extra?.numClasses as number) ?? 2 };
}

async function runLoop(store: RunStore, o: SessionOptions): Promise<RunFile> {
  const run = store.data;
  const c = run.config;
  const space = spaceFor(c);
  const strategy = strategyFor(c, space);
  let close = async () => {};
  try {
    run.status = 'running';
    run.statusReason = undefined;
    if (evaluatedCount(run.trials) < c.budget || run.pending) {
      // inside the try: a signal during the supernet's training also leaves the run interrupted
      const ev = await evaluatorFor(store, o);
      close = ev.close;
      await store.save();
      await search({
        space,
        strategy,
        evaluator: ev.evaluator,
        seed: c.seed,
        budget: c.budget,
        batch: c.batch,
        concurrency: concurrencyOf(o, c),
        objectives: c.objectives,
        limits: searchLimits(c, shapeOf(c, run)),
        shape: shapeOf(c, run),
        measureLatency: ev.latency,
        state: run,
        // one journal line per change; run.json is rewritten only now and then (see RunStore)
        persist: (_s, change) => ('trial' in change ? store.recordTrial(change.trial) : store.recordState()),
        signal: o.signal,
        onTrial: (t) => o.onTrial?.(t, run),
        onEvaluationStart: o.onEvaluationStart,
      });
      await close();
      close = async () => {};
    } else await store.save();
    if (c.final && c.final.top > 0 && c.space === 'backbone') await finalStage(store, c, o);
    run.status = 'finished';
  } catch (e) {
    const aborted = e instanceof SearchAborted || !!o.signal?.aborted;
    // Redis gone for too long: not the run's fault; it resumes once the server is back
    const lost = !aborted && e instanceof QueueUnavailable;
    run.status = aborted || lost ? 'interrupted' : 'failed';
    run.statusReason = aborted ? 'interrupted by a signal' : (e as Error).message;
    if (lost) throw new OpnasError(`${(e as Error).message}. Continue it with: opnas resume ${run.name} --redis URL`);
    throw aborted ? new SearchAborted() : e;
  } finally {
    await close();
    // the browser of --latency-runtime browser, if it was started
    await closeLatencyRuntimes();
    await store.save();
    await store.close();
  }
  return run;
}

/** Train the top candidates and the baseline stand-alone (what is still missing) and log the table. */
async function finalStage(store: RunStore, c: SearchConfig, o: SessionOptions): Promise<void> {
  const run = store.data;
  const final = c.final!;
  if (!run.final && !run.trials.some((t) => t.status === 'ok')) {
    o.log?.('final stage: skipped, no candidate was scored');
    return;
  }
  const space = backboneSpace(c.macro) as SearchSpace<unknown>;
  const screen = final.screen ?? 0;
  // k = 0: just the baseline's row (with its search score when the search tried it)
  const references = referenceNames(final.references).map((n) => REFERENCES[n](c.macro)).filter((g) => g !== undefined);
  const [baseline, ...refs] = pickFinalists(space, run.trials, 0, referenceBaseline(c.macro), shapeOf(c, run), { references });
  const spread = final.spread === true;
  const maxParams = finalMaxParams(final, baseline.cost.params);
  run.final ??= screen > 0
    ? { finalists: [], runs: [], screen: { steps: final.screenSteps ?? DEFAULT_SCREEN_STEPS, candidates: pickFinalists(space, run.trials, screen, baseline.genome, shapeOf(c, run), { withBaseline: false, spread, maxParams }), runs: [] } }
    : // runs saved before references existed keep the top k they started with (the baseline could take a slot)
      { finalists: pickFinalists(space, run.trials, final.top, baseline.genome, shapeOf(c, run), { spread, references, skipKnown: final.references !== undefined, maxParams }), runs: [] };
  await store.save();
  if (run.final.screen && !run.final.finalists.length) {
    const sc = run.final.screen;
    if (sc.runs.length < sc.candidates.length) {
      o.log?.(`screening: ${sc.candidates.length} candidates trained once for ${sc.steps} steps; the best ${final.top} by dev join the baseline in the final stage; ${sc.runs.length}/${sc.candidates.length} done`);
      // the rung's runs array is shared, so each training lands in run.final.screen as it finishes
      await trainStandalone(store, c, o, { finalists: sc.candidates, runs: sc.runs }, 1, sc.steps, (r) =>
        `screen ${sc.runs.length}/${sc.candidates.length}: ${r.id.slice(0, 8)} ` + (r.status === 'ok' ? `dev ${(100 * r.dev!).toFixed(2)}` : `failed (${r.reason})`),
      );
    }
    run.final.finalists = screenedFinalists(sc, final.top, baseline, refs);
    await store.save();
  }
  const total = run.final.finalists.length * final.seeds;
  if (run.final.runs.length >= total) return;
  const nRefs = run.final.finalists.filter((f) => f.reference).length;
  o.log?.(`final stage: ${run.final.finalists.length} finalists (the baseline${nRefs ? ` and ${nRefs === 1 ? 'the reference' : `${nRefs} references`}` : ''} included) x ${final.seeds} seeds, trained stand-alone; ${run.final.runs.length}/${total} done`);
  await trainStandalone(store, c, o, run.final, final.seeds, final.train.steps, (r) =>
    `final ${run.final!.runs.length}/${total}: ${r.id.slice(0, 8)} seed ${r.seed} ` +
      (r.status === 'ok' ? `dev ${(100 * r.dev!).toFixed(2)} test ${(100 * r.test!).toFixed(2)}` : `failed (${r.reason})`),
  );
  const res = finalResult(run.final, final.seeds, { leads: false });
  if (res.winner) o.log?.(`final stage: winner ${res.winner.id.slice(0, 8)}${res.winner.baseline ? ' (the baseline)' : ''}, mean dev ${(100 * res.winner.dev!.mean).toFixed(2)}`);
}

/** Train what is missing of a final stage or screening rung in a pool of stand-alone workers. */
async function trainStandalone(store: RunStore, c: SearchConfig, o: SessionOptions, state: Pick<FinalState, 'finalists' | 'runs'>, seeds: number, steps: number | undefined, line: (r: FinalRun) => string): Promise<void> {
  const left = state.finalists.length * seeds - state.runs.length;
  // a queue takes every training at once (any number of machines may serve it)
  const workers = o.redis ? left : Math.min(o.workers ?? availableParallelism(), left);
  const train = { ...finalTrainConfig(c), ...(steps !== undefined ? { steps } : {}) };
  const cfg: WorkerConfig = { kind: 'standalone', task: c.task, taskSeed: c.taskSeed, tokenizer: store.data.extra!.tokenizer as TokenizerJSON, train, backend: o.backend, ...workerLatency(c) };
  // job ids name the training's steps: a screening rung and the final stage train the same candidate and seed differently
  const pool = o.redis ? await QueueEvaluator.connect({ url: o.redis, run: queueRunId(store.data), config: cfg, tag: `final${train.steps ?? ''}`, log: o.log, patienceMs: o.redisPatienceMs }) : new WorkerPool(workers, cfg);
  if (o.redis) await store.save();
  pool.onProgress = o.onProgress;
  const evaluator = c.latencyRuntime === 'browser' ? measuredHere(pool as Evaluator<BackboneGenome>, 'browser', latencyShape(c, store.data)).evaluator : pool;
  try {
    await runFinal({ state, seeds, evaluator: evaluator as Evaluator, concurrency: workers, persist: () => store.save(), signal: o.signal, onRun: (r) => o.log?.(line(r)) });
  } finally {
    await pool.close();
  }
}

export async function startSearch(dir: string, name: string, config: SearchConfig, o: SessionOptions = {}): Promise<RunFile> {
  checkSearchConfig(config);
  await checkQueue(config, o);
  // a runtime that cannot run here (onnxruntime-node missing) stops before the run folder exists
  await LATENCY_RUNTIMES[config.latencyRuntime ?? DEFAULT_LATENCY_RUNTIME].ready();
  const extra: Record<string, unknown> = {};
  if (config.evaluator === 'standalone' || config.evaluator === 'supernet') {
    const task = loadTask(config.task, { seed: config.taskSeed });
    extra.numClasses = task.numClasses;
    extra.tokenizer = trainTokenizer(task, config.vocabSize, config.tokenizer);
    // soft labels are read here too, so a file of the wrong size fails before the run folder exists
    const logits = config.supernet?.teacherLogits;
    if (logits && (config.supernet?.warmupSteps ?? 0) > 0) readTeacherLogits(logits, task.train.labels.length, task.numClasses, task.trainRows);
  }
  const store = await RunStore.create(dir, name, { seed: config.seed, config, strategyState: undefined, extra });
  return runLoop(store, o);
}

export async function resumeSearch(dir: string, name: string, o: SessionOptions & { budget?: number } = {}): Promise<RunFile> {
  const store = await RunStore.open(dir, name);
  try {
    const c = store.data.config;
    await checkQueue(c, o);
    if (o.budget !== undefined) {
      const done = evaluatedCount(store.data.trials);
      if (!(Number.isInteger(o.budget) && o.budget > 0)) throw new OpnasError(`--budget must be a positive integer, got ${o.budget}`);
      if (o.budget < done) throw new OpnasError(`--budget ${o.budget} is below the ${done} evaluations run '${name}' already has`);
      // new trials change the ranking the final stage was picked from
      if (o.budget > c.budget) delete store.data.final;
      c.budget = o.budget;
    } else if (store.data.status === 'finished') {
      throw new OpnasError(`run '${name}' is finished (${c.budget} evaluations); pass --budget N to extend it`);
    }
    try {
      checkSearchConfig(c);
    } catch (e) {
      if (e instanceof OpnasError) throw new OpnasError(`run '${name}' cannot resume: its run.json ${e.message}`);
      throw e;
    }
    await LATENCY_RUNTIMES[c.latencyRuntime ?? DEFAULT_LATENCY_RUNTIME].ready();
    // a strategy state that does not fit stops here, before the run's status changes
    if (store.data.strategyState !== undefined && store.data.strategyState !== null) {
      try {
        strategyFor(c).restore(store.data.strategyState);
      } catch (e) {
        throw new OpnasError(`run '${name}' cannot resume: its saved strategy state does not fit the ${c.strategy} strategy (${(e as Error).message})`);
      }
    }
  } catch (e) {
    await store.close();
    throw e;
  }
  return runLoop(store, o);
}

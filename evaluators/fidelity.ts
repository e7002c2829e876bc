import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, seedFrom } from '../spaces/base/rng.js';
import type { Candidate } from '../search/types.js';
import { WorkerPool } from './pool.js';
import { backboneSpace } from '../spaces/backbone.js';
import { hashId } from '../spaces/base/hash.js';
import type { MacroRanges } from '../spaces/macro.js';
import type { BackboneGenome } from '../spaces/types.js';
import type { BackendChoice } from './backend.js';
import { initBackend } from './backend.js';
import { distillWarmup, type DistillConfig, type TeacherSource } from './supernet/distill.js';
import type { StandaloneConfig } from './standalone.js';
import { DEFAULT_POPULATION, trainOnBatch, type PopulationConfig } from './supernet/population.js';
import {
  DEFAULT_SUPERNET_SCORE,
  devSubset,
  ensureSupernet,
  scoreWithSupernet,
  tokenizerHash,
  type PathSampling,
  type SupernetConfig,
  type SupernetScoreConfig,
  type SupernetTrainConfig,
} from './supernet/supernet.js';
import { loadTask, type TaskSpec } from './tasks/named.js';
import { Tokenizer, type TokenizerJSON } from './tasks/tokenizer.js';
import { encodeTask, trainStandalone, type TrainConfig } from './train.js';

/**
 * Ranking fidelity: a supernet is only worth its speed if it orders candidates the way stand-alone
 * training does. Sample N architectures, train each stand-alone (the ground truth), score each with
 * the supernet, and report Kendall's τ and Spearman's ρ between the two lists.
 */

// ---------------------------------------------------------------- rank statistics

/** Ranks 1..n, ties sharing their average rank. */
export function ranks(x: readonly number[]): number[] {
  const order = x.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(x.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k][1]] = r;
    i = j + 1;
  }
  return out;
}

function checkPair(x: readonly number[], y: readonly number[], what: string): void {
  if (x.length !== y.length) throw new RangeError(`${what}: lists of different lengths (${x.length} and ${y.length})`);
}

/**
 * Kendall's τ-b: (concordant − discordant) / sqrt((n0 − n1)(n0 − n2)), where n1, n2 count the
 * pairs tied in x and in y. Equals τ-a when nothing ties; NaN when either list is constant.
 */
export function kendallTau(x: readonly number[], y: readonly number[]): number {
  checkPair(x, y, 'kendallTau');
  let c = 0;
  let d = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < x.length; i++)
    for (let j = i + 1; j < x.length; j++) {
      const a = Math.sign(x[i] - x[j]);
      const b = Math.sign(y[i] - y[j]);
      if (a === 0 && b === 0) continue;
      if (a === 0) tx++;
      else if (b === 0) ty++;
      else if (a === b) c++;
      else d++;
    }
  // n0 - n1 = pairs not tied in x = c + d + (tied only in y); likewise for y
  return (c - d) / Math.sqrt((c + d + ty) * (c + d + tx));
}

/** Spearman's ρ: Pearson's correlation of the (average) ranks. NaN when either list is constant. */
export function spearmanRho(x: readonly number[], y: readonly number[]): number {
  checkPair(x, y, 'spearmanRho');
  return pearson(ranks(x), ranks(y));
}

export function pearson(x: readonly number[], y: readonly number[]): number {
  checkPair(x, y, 'pearson');
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

// ---------------------------------------------------------------- terminal scatter plot

/** A plain-text scatter plot: '*' one point, a digit for 2..9 points in a cell, '#' for more. */
export function scatterPlot(x: readonly number[], y: readonly number[], o: { width?: number; height?: number; xLabel?: string; yLabel?: string } = {}): string {
  checkPair(x, y, 'scatterPlot');
  const W = o.width ?? 50;
  const H = o.height ?? 16;
  const range = (v: readonly number[]) => {
    const lo = Math.min(...v);
    const hi = Math.max(...v);
    return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5];
  };
  const [x0, x1] = range(x);
  const [y0, y1] = range(y);
  const counts = Array.from({ length: H }, () => new Array<number>(W).fill(0));
  x.forEach((xv, i) => {
    const c = Math.min(W - 1, Math.floor(((xv - x0) / (x1 - x0)) * W));
    const r = Math.min(H - 1, Math.floor(((y[i] - y0) / (y1 - y0)) * H));
    counts[H - 1 - r][c]++;
  });
  const fmt = (v: number) => v.toFixed(3);
  const pad = Math.max(fmt(y0).length, fmt(y1).length);
  const lines: string[] = [];
  if (o.yLabel) lines.push(o.yLabel);
  counts.forEach((row, r) => {
    const label = r === 0 ? fmt(y1) : r === H - 1 ? fmt(y0) : '';
    lines.push(`${label.padStart(pad)} |${row.map((n) => (n === 0 ? ' ' : n === 1 ? '*' : n < 10 ? String(n) : '#')).join('')}`);
  });
  lines.push(`${' '.repeat(pad)} +${'-'.repeat(W)}`);
  const left = fmt(x0);
  const right = fmt(x1);
  lines.push(`${' '.repeat(pad + 2)}${left}${right.padStart(W - left.length)}`);
  if (o.xLabel) lines.push(`${' '.repeat(pad + 2)}${o.xLabel}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- the experiment

/** Batch size of the search a 'population' fidelity run replays (DEFAULT_SEARCH.batch). */
export const DEFAULT_FIDELITY_BATCH = 4;

export interface FidelityConfig {
  task: string | TaskSpec;
  taskSeed: number;
  vocabSize: number;
  maxLen: number;
  /** Architectures are sampled from, and the supernet built for, these ranges. */
  macro: MacroRanges;
  /** Architectures to compare. */
  sample: number;
  seed: number;
  /**
   * Seed of the stand-alone training (default: `seed`). Another value retrains the same sample with
   * other initial weights and batches: how well stand-alone training agrees with itself bounds the
   * Kendall tau any cheaper evaluator can reach.
   */
  trainSeed?: number;
  /**
   * Stand-alone trainings per architecture, with seeds trainSeed, trainSeed + 1, ...: the ground
   * truth is their mean (less noisy), and with two or more the report says how well the first two
   * agree with each other, the ceiling for any cheaper evaluator (default 1).
   */
  repeats?: number;
  /** Stand-alone training of each architecture (the ground truth). */
  standalone: Partial<TrainConfig>;
  /** Supernet training (its steps include the distillation warm-up's). */
  supernet: Partial<SupernetTrainConfig>;
  /**
   * 'uniform': the supernet trains once on paths drawn from the space. 'population' (what a search
   * does by default): after that, the sample is taken in batches, in order, as a search would ask
   * for it; before a batch is scored the supernet trains on it and the recent population exactly as
   * a search does (population.ts, trainOnBatch).
   */
  sampling?: PathSampling;
  /** Steps per sampled architecture with sampling 'population' (default DEFAULT_POPULATION's). */
  populationSteps?: number;
  /** The rest of the population training's settings (default DEFAULT_POPULATION's). */
  population?: Partial<PopulationConfig>;
  /** With sampling 'population': architectures per batch, as a search asks for them (default 4). */
  batch?: number;
  score: Partial<SupernetScoreConfig>;
  /** Distillation warm-up before the supernet's own training; absent: none. */
  distill?: { config: Partial<DistillConfig>; teacher: TeacherSource };
  /** Processes training the stand-alone models (0: in this process, after the supernet). */
  workers: number;
  /** Folder of cached stand-alone results (reused by later runs with the same settings). */
  cacheDir?: string;
  /** A supernet checkpoint folder: loaded when it exists (and fits), else trained and saved there. */
  checkpoint?: string;
  backend?: BackendChoice;
}

export interface FidelityPoint {
  id: string;
  formula: string;
  /** Stand-alone dev score (the mean over the repeats). */
  standalone: number;
  /** Each repeat's stand-alone dev score. */
  standaloneRuns: number[];
  /** Supernet dev score. */
  supernet: number;
  standaloneSeconds: number;
  supernetSeconds: number;
  cached: boolean;
}

export interface FidelityReport {
  n: number;
  /** Between the supernet's scores and the (mean) stand-alone scores. */
  kendallTau: number;
  spearmanRho: number;
  repeats: number;
  /** With repeats >= 2: Kendall tau between the first two stand-alone repeats (stand-alone vs itself). */
  selfTau?: number;
  /** With repeats >= 2: Kendall tau between the supernet and the first repeat alone. */
  supernetTauFirst?: number;
  points: FidelityPoint[];
  /** Seconds the supernet's base training took, warm-up included (for a loaded checkpoint: when it ran). */
  supernetTrainSeconds: number;
  /** Supernet steps trained on the sample itself (sampling 'population'), and their seconds. */
  populationSteps: number;
  populationSeconds: number;
  warmupSeconds?: number;
  /** Candidates scored per minute by the supernet (one process). */
  supernetPerMinute: number;
  /** Candidates trained per minute stand-alone (one process; uncached only). */
  standalonePerMinute?: number;
}

export interface FidelityHooks {
  log?: (m: string) => void;
  signal?: AbortSignal;
}

/** Sample `n` distinct architectures (by id), seeded. */
export function sampleArchitectures(macro: MacroRanges, n: number, seed: number): Candidate<BackboneGenome>[] {
  const space = backboneSpace(macro);
  const rng = new Rng(seedFrom('fidelity', seed));
  const out = new Map<string, Candidate<BackboneGenome>>();
  for (let tries = 0; out.size < n && tries < 100 * n; tries++) {
    const genome = space.sample(rng);
    const id = space.id(genome);
    if (!out.has(id)) out.set(id, { genome, id, origin: 'sample' });
  }
  return [...out.values()];
}

interface StandaloneRecord {
  dev: number;
  seconds: number;
}

export async function runFidelity(cfg: FidelityConfig, hooks: FidelityHooks = {}): Promise<FidelityReport> {
  const log = hooks.log ?? (() => {});
  const space = backboneSpace(cfg.macro);
  const data = loadTask(cfg.task, { seed: cfg.taskSeed });
  const tokenizer = Tokenizer.train(data.train.pairs ? [...data.train.texts, ...data.train.pairs] : data.train.texts, cfg.vocabSize);
  const tokJson: TokenizerJSON = tokenizer.toJSON();
  const task = encodeTask(data, { vocabSize: cfg.vocabSize, maxLen: cfg.maxLen, tokenizer });
  await initBackend(cfg.backend, { log });
  const candidates = sampleArchitectures(cfg.macro, cfg.sample, cfg.seed);
  log(`fidelity: ${candidates.length} architectures, task ${data.name} (${task.train.seqs.length} train / ${task.dev.seqs.length} dev)`);

  const trainCfg: Partial<TrainConfig> = { ...cfg.standalone, maxLen: cfg.maxLen };
  // Repeat r trains with seed (trainSeed + r): repeat 1 of seed 0 is what --train-seed 1 trains.
  const repeats = cfg.repeats ?? 1;
  type Job = { c: Candidate<BackboneGenome>; r: number; seed: number; key: string };
  const keyParts = [JSON.stringify(cfg.task), String(cfg.taskSeed), tokenizerHash(tokJson), JSON.stringify(trainCfg)];
  /** Each candidate's trainings, one per repeat, in candidate order. */
  const jobsOf: Job[][] = candidates.map((c) =>
    Array.from({ length: repeats }, (_, r) => {
      const seed = seedFrom((cfg.trainSeed ?? cfg.seed) + r, c.id);
      return { c, r, seed, key: hashId('standalone', c.id, ...keyParts, String(seed)) };
    }),
  );
  const jobs = jobsOf.flat();
  const cacheFile = (j: Job) => (cfg.cacheDir ? join(cfg.cacheDir, `${j.key}.json`) : undefined);
  const standaloneDone = new Map<string, StandaloneRecord>();
  const cachedKeys = new Set<string>();
  for (const j of jobs) {
    const f = cacheFile(j);
    if (f && existsSync(f)) {
      standaloneDone.set(j.key, JSON.parse(readFileSync(f, 'utf8')) as StandaloneRecord);
      cachedKeys.add(j.key);
    }
  }
  const finish = (j: Job, rec: StandaloneRecord) => {
    standaloneDone.set(j.key, rec);
    const f = cacheFile(j);
    if (f) {
      mkdirSync(cfg.cacheDir!, { recursive: true });
      writeFileSync(`${f}.tmp`, JSON.stringify({ ...rec, id: j.c.id, genome: j.c.genome, seed: j.seed }));
      renameSync(`${f}.tmp`, f);
    }
    log(`stand-alone ${standaloneDone.size}/${jobs.length}: dev ${rec.dev.toFixed(4)} in ${rec.seconds.toFixed(0)} s  ${j.c.id}${repeats > 1 ? ` (seed ${j.r + 1} of ${repeats})` : ''}`);
  };
  const todo = jobs.filter((j) => !cachedKeys.has(j.key));
  if (cachedKeys.size) log(`fidelity: ${cachedKeys.size} stand-alone results from the cache, ${todo.length} to train`);

  // Stand-alone training runs in worker processes while this one trains the supernet.
  let pool: WorkerPool | undefined;
  let poolJobs: Promise<void> = Promise.resolve();
  if (cfg.workers > 0 && todo.length) {
    const scfg: StandaloneConfig = { task: cfg.task, taskSeed: cfg.taskSeed, tokenizer: tokJson, train: trainCfg, backend: cfg.backend };
    pool = new WorkerPool(Math.min(cfg.workers, todo.length), { kind: 'standalone', ...scfg });
    poolJobs = Promise.all(
      todo.map(async (j) => {
        const r = await pool!.score(j.c, { seed: j.seed, signal: hooks.signal });
        finish(j, { dev: r.scores.dev, seconds: r.seconds });
      }),
    ).then(() => {});
    poolJobs.catch(() => {});
  }

  try {
    const sncfg: SupernetConfig = { macro: cfg.macro, vocabSize: tokenizer.vocabSize, maxLen: cfg.maxLen, numClasses: task.numClasses };
    const t0 = performance.now();
    const distill = cfg.distill;
    const { supernet, meta, trained } = await ensureSupernet(cfg.checkpoint, sncfg, task, {
      train: { ...cfg.supernet, seed: cfg.seed },
      tokenizer: tokenizerHash(tokJson),
      warmup: distill && ((sn, h) => distillWarmup(sn, task, distill.teacher, { ...distill.config, train: { ...cfg.supernet, seed: cfg.seed, ...distill.config.train } }, { ...h, log })),
      signal: hooks.signal,
      log,
      onStep: (phase, s) => {
        if (s.step % 100 === 0 || s.step === s.steps) log(`${phase} ${s.step}/${s.steps}  loss ${s.loss.toFixed(4)}  ${Math.round(s.tokensPerSecond)} tok/s`);
      },
    });
    const warmupSeconds = meta.warmupSeconds as number | undefined;
    try {
      // 'population': as a search does, batch by batch: train on the batch and the recent ones, score the batch
      const population = cfg.sampling === 'population';
      const pop = { ...DEFAULT_POPULATION, ...cfg.population, ...(cfg.populationSteps !== undefined ? { stepsPerCandidate: cfg.populationSteps } : {}) };
      const batchSize = population ? (cfg.batch ?? DEFAULT_FIDELITY_BATCH) : candidates.length;
      // a loaded checkpoint: the seconds its training took when it ran
      const supernetTrainSeconds = trained ? (performance.now() - t0) / 1000 : ((meta.seconds as number | undefined) ?? NaN);
      const dev = devSubset(task.dev, cfg.score.devSize ?? DEFAULT_SUPERNET_SCORE.devSize);
      const points: FidelityPoint[] = [];
      let popSteps = 0;
      let populationSeconds = 0;
      let scoringSeconds = 0;
      for (let b = 0; b * batchSize < candidates.length; b++) {
        const batch = candidates.slice(b * batchSize, (b + 1) * batchSize);
        if (population) {
          const r = await trainOnBatch(supernet, task, { batch: b, fresh: batch.map((c) => c.genome), older: candidates.slice(0, b * batchSize).map((c) => c.genome), pop, train: cfg.supernet, seed: cfg.seed, signal: hooks.signal });
          popSteps += r.steps;
          populationSeconds += r.seconds;
          log(`population: batch ${b + 1}, ${r.steps} steps on ${batch.length} new + ${r.recent} recent in ${r.seconds.toFixed(1)} s`);
        }
        const sc0 = performance.now();
        for (const c of batch) {
        const s0 = performance.now();
        const s = await scoreWithSupernet(supernet, c.genome, task, dev, cfg.score, seedFrom(cfg.seed, c.id));
        const cached = jobsOf[points.length].every((j) => cachedKeys.has(j.key));
        points.push({ id: c.id, formula: space.render(c.genome), standalone: NaN, standaloneRuns: [], supernet: s, standaloneSeconds: NaN, supernetSeconds: (performance.now() - s0) / 1000, cached });
        }
        scoringSeconds += (performance.now() - sc0) / 1000;
      }
      log(`supernet: scored ${points.length} candidates in ${scoringSeconds.toFixed(1)} s`);
      if (!pool) {
        for (const j of todo) {
          if (hooks.signal?.aborted) throw new Error('aborted');
          const r = await trainStandalone(j.c.genome, task, { ...trainCfg, seed: j.seed }, { signal: hooks.signal });
          finish(j, { dev: r.dev.score, seconds: r.wallSeconds });
        }
      }
      await poolJobs;
      for (const [i, p] of points.entries()) {
        const runs = jobsOf[i].map((j) => standaloneDone.get(j.key)!);
        p.standaloneRuns = runs.map((r) => r.dev);
        p.standalone = p.standaloneRuns.reduce((a, b) => a + b, 0) / runs.length;
        p.standaloneSeconds = runs.reduce((a, r) => a + r.seconds, 0) / runs.length;
      }
      const x = points.map((p) => p.standalone);
      const y = points.map((p) => p.supernet);
      const fresh = todo.map((j) => standaloneDone.get(j.key)!);
      const first = points.map((p) => p.standaloneRuns[0]);
      const second = points.map((p) => p.standaloneRuns[1]);
      return {
        n: points.length,
        kendallTau: kendallTau(x, y),
        spearmanRho: spearmanRho(x, y),
        repeats,
        ...(repeats > 1 ? { selfTau: kendallTau(first, second), supernetTauFirst: kendallTau(first, y) } : {}),
        points,
        supernetTrainSeconds,
        warmupSeconds,
        populationSteps: popSteps,
        populationSeconds,
        supernetPerMinute: (60 * points.length) / scoringSeconds,
        standalonePerMinute: fresh.length ? (60 * fresh.length) / fresh.reduce((a, r) => a + r.seconds, 0) : undefined,
      };
    } finally {
      supernet.dispose();
    }
  } finally {
    await pool?.close();
  }
}

import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../spaces/base/rng.js';
import { backboneSpace, BASELINES } from '../../spaces/backbone.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { hashId } from '../../spaces/base/hash.js';
import type { MacroRanges } from '../../spaces/macro.js';
import type { BackboneGenome } from '../../spaces/types.js';
import type { BackendChoice } from '../backend.js';
import { loadWeights, saveWeights } from '../checkpoint.js';
import { Model } from '../compile.js';
import {
  DEFAULT_SUPERNET_TRAIN,
  encodeEvaluatorTask,
  ensureSupernet,
  SUPERNET_MANIFEST,
  supernetConfigFor,
  tokenizerHash,
  trainSupernet,
  type PathObjective,
  type PathSampling,
  type Supernet,
  type SupernetEvaluatorConfig,
  type SupernetScoreConfig,
  type SupernetTrainConfig,
  type SupernetTrainHooks,
} from './supernet.js';
import type { PopulationConfig } from './population.js';
import type { TaskSpec } from '../tasks/named.js';
import type { TokenizerJSON } from '../tasks/tokenizer.js';
import { DEFAULT_TRAIN, trainStandalone, type EncodedTask, type StepInfo, type TrainConfig } from '../train.js';

/**
 * Distillation warm-up (EfficientBERT): before search, the supernet learns from a teacher, one
 * sampled path per step, with soft cross-entropy on the logits (temperature T, scaled by T²),
 * hidden-state MSE through a learned projection on mapped layers (student layer i of L reads
 * teacher layer ⌈(i+1)·L_t/L⌉−1, TinyBERT's uniform map), and optionally the hard-label loss.
 * The teacher is a larger standard model trained by opnas on the task (cached in the runs folder
 * by task, tokenizer, architecture and training settings), or soft labels computed elsewhere
 * (a JSONL file with one row of logits per training example: logits only, no hidden states).
 */

export interface DistillConfig {
  /** The warm-up's own training (its `steps` are the warm-up's steps). */
  train: Partial<SupernetTrainConfig>;
  /** Softmax temperature of the logits loss. */
  temperature: number;
  /** Weight of the soft cross-entropy on logits. */
  logits: number;
  /** Weight of the hidden-state MSE (teacher models only). */
  hidden: number;
  /**
   * Weight of the attention-map MSE (teacher models only): on mapped layers where both are attention
   * and the student's map is a softmax over keys (compile.ts, attentionMapNode), head-averaged maps.
   */
  attention: number;
  /** Weight of the ordinary cross-entropy on the labels. */
  hard: number;
}

export const DEFAULT_DISTILL: DistillConfig = { train: { steps: 500 }, temperature: 2, logits: 1, hidden: 1, attention: 1, hard: 0 };

/**
 * A teacher: a saved teacher folder, the cached teacher for an architecture and training settings
 * (trained first when missing, as `opnas teacher` does), or a file of soft labels.
 */
export type TeacherSource = { dir: string } | { cache: { runsDir: string; genome: BackboneGenome; train: Partial<TrainConfig> } } | { logitsFile: string };

// ---------------------------------------------------------------- teacher models

/** The default teacher: BERT-tiny (2 layers, hidden 128, the widest of the default search) trained for 2,000 steps. */
export const DEFAULT_TEACHER = { arch: 'bert-tiny', steps: 2000 };

/**
 * How a teacher is trained: a fixed seed, so the cache key says it all. With `patience` 0 it trains
 * exactly `steps` steps; otherwise it is trained to convergence: evaluated on dev every
 * DEFAULT_TRAIN.evalEvery steps, stopped after `patience` evaluations without a better score, and
 * the best weights are the teacher's.
 */
export function teacherTraining(steps: number, maxLen: number, patience = 0, lr?: number): Partial<TrainConfig> {
  const stop = patience > 0 ? { evalEvery: DEFAULT_TRAIN.evalEvery, patience } : { evalEvery: 0, patience: 0 };
  // the default learning rate is left out, so teachers cached before `lr` existed keep their folder
  return { steps, maxLen, ...stop, seed: 0, ...(lr !== undefined && lr !== DEFAULT_TRAIN.lr ? { lr } : {}) };
}

export const TEACHER_FORMAT = 'opnas-teacher';

export interface TeacherMeta {
  genome: BackboneGenome;
  task: string;
  tokenizer: string;
  numClasses: number;
  maxLen: number;
  train: Partial<TrainConfig>;
  dev: number;
  seconds: number;
}

/** Where `opnas teacher` caches a teacher: one folder per task, tokenizer, architecture and training settings. */
export function teacherDir(runsDir: string, taskName: string, tok: TokenizerJSON, genome: BackboneGenome, train: Partial<TrainConfig>): string {
  // settings added after teachers were first cached join the key only when set, so older folders are still found
  const { dropout, ...settings } = { ...DEFAULT_TRAIN, ...train };
  const key = hashId(taskName, tokenizerHash(tok), backboneSpace().id(genome), JSON.stringify(dropout ? { ...settings, dropout } : settings));
  return join(runsDir, 'teachers', `${taskName.replace(/[^A-Za-z0-9._-]/g, '_')}-${key}`);
}

const TEACHER_MANIFEST = 'teacher.json';

/** Load a teacher folder; refuses one trained for another tokenizer or class count. */
export async function loadTeacher(dir: string, task: EncodedTask, tok: TokenizerJSON): Promise<{ model: Model; meta: TeacherMeta }> {
  const file = join(dir, TEACHER_MANIFEST);
  if (!existsSync(file)) throw new OpnasError(`teacher ${dir}: no ${TEACHER_MANIFEST} (not a teacher folder; opnas teacher prints one)`);
  const m = JSON.parse(readFileSync(file, 'utf8')) as { format?: string; meta: TeacherMeta };
  if (m.format !== TEACHER_FORMAT) throw new OpnasError(`teacher ${dir}: ${TEACHER_MANIFEST} has format ${JSON.stringify(m.format)}, expected '${TEACHER_FORMAT}'`);
  const meta = m.meta;
  const problems: string[] = [];
  if (meta.tokenizer !== tokenizerHash(tok)) problems.push('it was trained with another tokenizer (another task or vocabulary size)');
  if (meta.numClasses !== task.numClasses) problems.push(`it has ${meta.numClasses} classes, the task ${task.numClasses}`);
  if (!(meta.maxLen >= task.maxLen)) problems.push(`it covers sequences up to ${meta.maxLen} tokens, the task uses ${task.maxLen}`);
  if (problems.length) throw new OpnasError(`teacher ${dir}: ${problems.join('; ')}`);
  const model = new Model(meta.genome, { vocabSize: tok.vocab.length, maxLen: meta.maxLen, numClasses: meta.numClasses }, new Rng(0));
  try {
    loadWeights(model.params, dir);
  } catch (e) {
    model.dispose();
    throw new OpnasError(`teacher ${(e as Error).message}`);
  }
  return { model, meta };
}

/** The cached teacher for these settings, trained and saved first when there is none. */
export async function ensureTeacher(
  runsDir: string,
  genome: BackboneGenome,
  task: EncodedTask,
  tok: TokenizerJSON,
  train: Partial<TrainConfig>,
  hooks: { onStep?: (s: StepInfo) => void; signal?: AbortSignal; log?: (m: string) => void; force?: boolean } = {},
): Promise<{ dir: string; meta: TeacherMeta; cached: boolean }> {
  const dir = teacherDir(runsDir, task.name, tok, genome, train);
  if (!hooks.force && existsSync(join(dir, TEACHER_MANIFEST))) {
    const { model, meta } = await loadTeacher(dir, task, tok);
    model.dispose();
    return { dir, meta, cached: true };
  }
  hooks.log?.(`teacher: training ${backboneSpace().render(genome).split('\n')[0]} for ${train.steps ?? DEFAULT_TRAIN.steps} steps`);
  const maxLen = train.maxLen ?? DEFAULT_TRAIN.maxLen;
  // the weights are written first and the manifest last, so a folder with a manifest is complete
  const r = await trainStandalone(genome, task, train, { onStep: hooks.onStep, signal: hooks.signal, onTrained: (m) => saveWeights(m.params, dir) });
  const meta: TeacherMeta = { genome, task: task.name, tokenizer: tokenizerHash(tok), numClasses: task.numClasses, maxLen, train, dev: r.dev.score, seconds: r.wallSeconds };
  writeFileSync(join(dir, `${TEACHER_MANIFEST}.tmp`), JSON.stringify({ format: TEACHER_FORMAT, version: 1, meta }, null, 1));
  renameSync(join(dir, `${TEACHER_MANIFEST}.tmp`), join(dir, TEACHER_MANIFEST));
  return { dir, meta, cached: false };
}

// ---------------------------------------------------------------- soft labels from a file

/**
 * Read teacher logits: JSONL, one row per training example in the training file's order, each row
 * an array of numClasses numbers (or an object with such a `logits` array). Every problem is
 * reported with its line number; the row count must match the training split exactly.
 */
export function readTeacherLogits(file: string, numExamples: number, numClasses: number, trainRows?: { of: number; keep: number[] }): Float32Array {
  if (!existsSync(file)) throw new OpnasError(`--teacher-logits ${file}: no such file`);
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  // a row per line of the whole training file (what a user has) or per example of the train split
  const whole = trainRows !== undefined && lines.length === trainRows.of && lines.length !== numExamples;
  if (lines.length !== numExamples && !whole) {
    const or = trainRows ? `; or ${trainRows.of}, one per line of the whole training file, the held-out dev rows included` : '';
    throw new OpnasError(`--teacher-logits ${file}: ${lines.length} rows, but the task has ${numExamples} training examples (one row of logits per example, in the training file's order${or})`);
  }
  const rows = readLogitRows(file, lines, numClasses);
  if (!whole) return rows;
  const out = new Float32Array(numExamples * numClasses);
  trainRows!.keep.forEach((row, i) => out.set(rows.subarray(row * numClasses, row * numClasses + numClasses), i * numClasses));
  return out;
}

function readLogitRows(file: string, lines: string[], numClasses: number): Float32Array {
  const out = new Float32Array(lines.length * numClasses);
  const problems: string[] = [];
  lines.forEach((line, i) => {
    if (problems.length >= 5) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      return void problems.push(`line ${i + 1}: not valid JSON`);
    }
    if (row && typeof row === 'object' && !Array.isArray(row)) row = (row as { logits?: unknown }).logits;
    if (!Array.isArray(row)) return void problems.push(`line ${i + 1}: expected an array of ${numClasses} logits (or {"logits": [...]})`);
    if (row.length !== numClasses) return void problems.push(`line ${i + 1}: ${row.length} logits, but the task has ${numClasses} classes`);
    row.forEach((v, c) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) problems.push(`line ${i + 1}: logit ${c} is ${JSON.stringify(v)}, not a finite number`);
      else out[i * numClasses + c] = v;
    });
  });
  if (problems.length) throw new OpnasError(`--teacher-logits ${file}:\n  - ${problems.slice(0, 5).join('\n  - ')}`);
  return out;
}

// ---------------------------------------------------------------- the warm-up

/** Soft cross-entropy between temperature-softened distributions, times T² (Hinton et al. 2015). */
export function softCrossEntropy(student: tf.Tensor2D, teacher: tf.Tensor2D, temperature: number): tf.Scalar {
  const p = tf.softmax(tf.div(teacher, temperature));
  const logq = tf.logSoftmax(tf.div(student, temperature));
  return tf.mul(tf.neg(tf.mean(tf.sum(tf.mul(p, logq), -1))), temperature * temperature) as tf.Scalar;
}

/** MSE over real tokens: mask [B, T], a and b [B, T, k]. */
export function maskedMse(a: tf.Tensor, b: tf.Tensor, mask: tf.Tensor2D): tf.Scalar {
  const k = a.shape[a.shape.length - 1]!;
  const sq = tf.sum(tf.square(tf.sub(a, b)), -1); // [B, T]
  return tf.div(tf.sum(tf.mul(sq, mask)), tf.mul(tf.sum(mask), k)) as tf.Scalar;
}

/** Teacher layer a student layer is matched to (uniform map). */
export function mappedLayer(i: number, studentLayers: number, teacherLayers: number): number {
  return Math.ceil(((i + 1) * teacherLayers) / studentLayers) - 1;
}

/** Train the supernet against the teacher for the warm-up's steps. */
export async function distillWarmup(
  sn: Supernet,
  task: EncodedTask,
  source: TeacherSource,
  config: Partial<DistillConfig>,
  hooks: Pick<SupernetTrainHooks, 'onStep' | 'signal' | 'samplePath'> & { log?: (m: string) => void } = {},
): Promise<{ steps: number; seconds: number; loss: number }> {
  const cfg = { ...DEFAULT_DISTILL, ...config };
  const steps = cfg.train.steps ?? DEFAULT_DISTILL.train.steps!;
  let teacher: Model | undefined;
  let soft: Float32Array | undefined;
  const tok = task.tokenizer.toJSON();
  if ('cache' in source) {
    const { runsDir, genome, train } = source.cache;
    source = { dir: (await ensureTeacher(runsDir, genome, task, tok, train, { log: hooks.log, signal: hooks.signal })).dir };
  }
  if ('dir' in source) {
    const t = await loadTeacher(source.dir, task, tok);
    teacher = t.model;
    hooks.log?.(`warm-up: teacher ${source.dir} (dev ${t.meta.dev.toFixed(4)})`);
  } else {
    soft = readTeacherLogits(source.logitsFile, task.train.seqs.length, task.numClasses, task.trainRows);
    hooks.log?.(`warm-up: teacher logits from ${source.logitsFile}`);
  }
  try {
    const useHidden = teacher !== undefined && cfg.hidden > 0;
    const useMaps = teacher !== undefined && cfg.attention > 0;
    const tWidth = teacher?.genome.hidden ?? 0;
    const tLayers = teacher?.genome.layers.length ?? 0;
    if (useHidden) attachProjections(sn, tWidth);
    const C = task.numClasses;
    const softRows = (indices: Int32Array) => {
      const rows = new Float32Array(indices.length * C);
      indices.forEach((i, r) => rows.set(soft!.subarray(i * C, i * C + C), r * C));
      return tf.tensor2d(rows, [indices.length, C]);
    };
    const objective: PathObjective = (path, b, t) => {
      const out = path.forward(t.ids, t.mask, { maps: useMaps });
      const tOut = teacher?.forward(t.ids, t.mask, { maps: useMaps });
      const tLogits = tOut ? tOut.logits : softRows(b.indices);
      let loss: tf.Scalar = tf.mul(softCrossEntropy(out.logits, tLogits, cfg.temperature), cfg.logits);
      if (cfg.hard > 0) loss = tf.add(loss, tf.mul(tf.losses.softmaxCrossEntropy(tf.oneHot(t.labels, C), out.logits), cfg.hard));
      if (useHidden && tOut) {
        const L = out.hidden.length;
        const d = path.genome.hidden;
        const [B, T] = t.ids.shape;
        const terms = out.hidden.map((h, i) => {
          const proj = sn.slice(`kd.proj${i}.w`, [d, tWidth]) as tf.Tensor2D;
          const mapped = tf.reshape(tf.matMul(tf.reshape(h, [B * T, d]), proj), [B, T, tWidth]);
          return maskedMse(mapped, tOut.hidden[mappedLayer(i, L, tLayers)], t.mask);
        });
        loss = tf.add(loss, tf.mul(tf.div(tf.addN(terms), L), cfg.hidden));
      }
      if (useMaps && tOut?.maps && out.maps) {
        const [B, T] = t.ids.shape;
        const keys = tf.reshape(t.mask, [B, 1, T]);
        const terms: tf.Scalar[] = [];
        out.maps.forEach((m, i) => {
          const tm = tOut.maps![mappedLayer(i, out.maps!.length, tLayers)];
          if (m && tm) terms.push(maskedMse(tf.mul(m, keys), tf.mul(tm, keys), t.mask));
        });
        // maps are rows of probabilities; x T puts the MSE per key on the scale of one per query row
        if (terms.length) loss = tf.add(loss, tf.mul(tf.div(tf.addN(terms), terms.length), cfg.attention * T));
      }
      return loss;
    };
    const r = await trainSupernet(sn, task, { ...cfg.train, steps }, {
      ...hooks,
      objective,
      extra: useHidden ? (path) => path.genome.layers.map((_, i) => `kd.proj${i}.w`) : undefined,
    });
    return { steps, seconds: r.seconds, loss: r.loss };
  } finally {
    teacher?.dispose();
  }
}

/** Learned projections from the supernet's widest hidden state to the teacher's, one per student layer (`kd.proj{i}.w`). */
function attachProjections(sn: Supernet, teacherWidth: number): void {
  const D = sn.shape.width;
  const rng = new Rng('kd-projections');
  for (let i = 0; i < sn.shape.depth; i++) {
    const name = `kd.proj${i}.w`;
    const have = sn.vars.get(name);
    if (have) {
      if (have.shape[1] !== teacherWidth) throw new OpnasError(`supernet: its distillation projections map to width ${have.shape[1]}, this teacher's is ${teacherWidth}`);
      continue;
    }
    const data = new Float32Array(D * teacherWidth);
    for (let k = 0; k < data.length; k++) data[k] = rng.normal() / Math.sqrt(D);
    sn.addVar(name, tf.tensor2d(data, [D, teacherWidth]));
  }
}

// ---------------------------------------------------------------- a search run's supernet

/** What a search run keeps about its supernet: training (warm-up included), teacher and scoring. */
export interface SupernetSearchConfig {
  train: Partial<SupernetTrainConfig>;
  /** Distillation warm-up steps, part of `train.steps` (0: none). */
  warmupSteps: number;
  /** Soft labels for the warm-up; without them the cached teacher is used (trained first if missing). */
  teacherLogits?: string;
  /** The teacher model when there are no soft labels (default: DEFAULT_TEACHER; patience 0; lr absent: the default rate). */
  teacher?: { genome: BackboneGenome; steps: number; patience?: number; lr?: number };
  /** The warm-up's loss weights and temperature (default: DEFAULT_DISTILL's). */
  distill?: Partial<Omit<DistillConfig, 'train'>>;
  /**
   * 'population': after the training above, the supernet also trains on each batch's candidates
   * and the recent population before scoring them (population.ts). 'uniform' (and runs saved
   * before this option existed): trained once, before the search, on paths drawn from the space.
   */
  sampling?: PathSampling;
  population?: Partial<PopulationConfig>;
  score: Partial<SupernetScoreConfig>;
}

export const DEFAULT_SUPERNET_SEARCH: SupernetSearchConfig = { train: { steps: DEFAULT_SUPERNET_TRAIN.steps }, warmupSteps: 0, sampling: 'population', population: {}, score: {} };

/**
 * Before a search: the run's supernet in `<run folder>/supernet`, trained (after the distillation
 * warm-up, when asked) and saved if it is not there yet. Returns the evaluator config that every
 * worker loads it from, read-only.
 */
export async function prepareSupernet(o: {
  folder: string;
  runsDir: string;
  task: string | TaskSpec;
  taskSeed: number;
  tokenizer: TokenizerJSON;
  macro: MacroRanges;
  maxLen: number;
  supernet: SupernetSearchConfig;
  seed: number;
  backend?: BackendChoice;
  signal?: AbortSignal;
  log?: (m: string) => void;
  onStep?: (phase: string, s: StepInfo) => void;
}): Promise<SupernetEvaluatorConfig> {
  const checkpoint = join(o.folder, 'supernet');
  const cfg: SupernetEvaluatorConfig = { task: o.task, taskSeed: o.taskSeed, tokenizer: o.tokenizer, macro: o.macro, maxLen: o.maxLen, checkpoint, score: o.supernet.score, backend: o.backend };
  if (existsSync(join(checkpoint, SUPERNET_MANIFEST))) return cfg; // workers check it when they load it
  const task = await encodeEvaluatorTask(cfg, o.log);
  const s = o.supernet;
  const train = { ...s.train, seed: o.seed };
  const teacher: TeacherSource = s.teacherLogits ? { logitsFile: s.teacherLogits } : { cache: { runsDir: o.runsDir, genome: s.teacher?.genome ?? BASELINES[DEFAULT_TEACHER.arch], train: teacherTraining(s.teacher?.steps ?? DEFAULT_TEACHER.steps, o.maxLen, s.teacher?.patience ?? 0, s.teacher?.lr) } };
  const { supernet } = await ensureSupernet(checkpoint, supernetConfigFor(cfg, task), task, {
    train,
    tokenizer: tokenizerHash(o.tokenizer),
    warmup: s.warmupSteps > 0 ? (sn, h) => distillWarmup(sn, task, teacher, { ...s.distill, train: { ...train, steps: s.warmupSteps } }, { ...h, log: o.log }) : undefined,
    signal: o.signal,
    log: o.log,
    onStep: o.onStep,
  });
  supernet.dispose();
  return cfg;
}

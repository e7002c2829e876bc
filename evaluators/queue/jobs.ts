import { backboneSpace } from '../../spaces/backbone.js';
import type { BackboneGenome } from '../../spaces/types.js';
import type { Candidate } from '../../search/types.js';
import { BACKEND_CHOICES } from '../backend-choices.js';
import { LATENCY_RUNTIME_NAMES } from '../latency.js';
import { WORKER_EVALUATORS, type WorkerConfig } from '../registry.js';
import type { TaskSpec } from '../tasks/named.js';
import { isFileRef, isSha256 } from './blobs.js';

/**
 * The messages of a distributed search, and the checks a worker and a coordinator make before they
 * use one. A job is plain JSON naming a run, a batch (or the final stage), a candidate, its seed and
 * the hashes of what it needs; its BullMQ id is made from exactly those, so a coordinator that
 * restarts finds its jobs again and never reads a result made for another run or batch. A worker
 * refuses (never runs) a job that is not exactly this shape, whose id does not match its content,
 * whose genome does not pass the backbone space's check, or whose setup is not a known evaluator.
 */

export const JOB_FORMAT = 'opnas-job';
export const SETUP_FORMAT = 'opnas-setup';
export const QUEUE_VERSION = 1;

export type JobType = 'score' | 'latency';

export interface CandidateJob {
  format: typeof JOB_FORMAT;
  version: typeof QUEUE_VERSION;
  type: JobType;
  /** The run's queue id (a UUID kept in run.json). */
  run: string;
  /** `b<batch>` during the search, `final<steps>` for the final stage's and screening's trainings. */
  tag: string;
  candidate: Candidate<BackboneGenome>;
  seed: number;
  /** Hash of the Setup blob. */
  setup: string;
  /** Hash of the supernet checkpoint folder this score must use. */
  checkpoint?: string;
}

/** What a worker returns: the job's id, so a result can only land where it was asked for. */
export type JobResult = { job: string; scores: Record<string, number>; seconds: number; devCorrect?: string } | { job: string; latency: number };

/**
 * The evaluator config a worker builds (WorkerConfig) with every file replaced by a hash: the task's
 * files (always as a spec of files, bundled tasks too) and the supernet's base checkpoint folder.
 */
export interface Setup {
  format: typeof SETUP_FORMAT;
  version: typeof QUEUE_VERSION;
  config: WorkerConfig;
}

export function jobId(j: Pick<CandidateJob, 'run' | 'tag' | 'type' | 'candidate' | 'seed'>): string {
  return [j.run, j.tag, j.candidate.id, j.type === 'score' ? `s${j.seed}` : 'latency'].join('.');
}

/** Thrown for a job a worker must not run; the worker fails it at once (no retry). */
export class RejectedJob extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TAG = /^(b\d{1,9}|final\d{0,9})$/;

function onlyKeys(what: string, o: Record<string, unknown>, allowed: string[], p: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) p.push(`${what}: unexpected field '${k.slice(0, 40)}'`);
}

/** The job as sent, or RejectedJob listing what is wrong with it. */
export function checkJob(id: string | undefined, data: unknown): CandidateJob {
  const p: string[] = [];
  if (!isObj(data)) throw new RejectedJob('job data is not an object');
  if (data.format !== JOB_FORMAT) throw new RejectedJob(`not an opnas job (format ${JSON.stringify(data.format)?.slice(0, 40)})`);
  if (data.version !== QUEUE_VERSION) throw new RejectedJob(`job version ${JSON.stringify(data.version)?.slice(0, 20)}, this worker reads version ${QUEUE_VERSION} (is it the same opnas version as the coordinator?)`);
  onlyKeys('job', data, ['format', 'version', 'type', 'run', 'tag', 'candidate', 'seed', 'setup', 'checkpoint'], p);
  if (data.type !== 'score' && data.type !== 'latency') p.push('type must be score or latency');
  if (typeof data.run !== 'string' || !RUN_ID.test(data.run)) p.push('run must be a run id (a UUID)');
  if (typeof data.tag !== 'string' || !TAG.test(data.tag)) p.push('tag must be b<batch> or final<steps>');
  if (!Number.isSafeInteger(data.seed)) p.push('seed must be an integer');
  if (!isSha256(data.setup)) p.push('setup must be a SHA-256 hash');
  if (data.checkpoint !== undefined && !isSha256(data.checkpoint)) p.push('checkpoint must be a SHA-256 hash');
  const c = data.candidate;
  if (!isObj(c)) p.push('candidate must be an object');
  else {
    onlyKeys('candidate', c, ['genome', 'id', 'parent', 'origin'], p);
    if (typeof c.id !== 'string' || !/^[\w-]{1,128}$/.test(c.id)) p.push('candidate id must be a short word');
    if (c.parent !== undefined && typeof c.parent !== 'string') p.push('candidate parent must be a string');
    if (!['sample', 'mutate', 'seed'].includes(c.origin as string)) p.push('candidate origin must be sample, mutate or seed');
    const space = backboneSpace();
    let checked: ReturnType<typeof space.check>;
    try {
      checked = space.check(c.genome as BackboneGenome);
    } catch (e) {
      checked = { errors: [(e as Error).message] } as ReturnType<typeof space.check>;
    }
    if (!checked.genome) p.push(`candidate genome is not a valid backbone genome: ${checked.errors.slice(0, 3).join('; ')}`);
    else if (typeof c.id === 'string' && space.id(checked.genome) !== c.id) p.push("candidate id is not its genome's id");
  }
  if (p.length) throw new RejectedJob(p.join('; '));
  const job = data as unknown as CandidateJob;
  if (id !== jobId(job)) throw new RejectedJob(`job id ${String(id).slice(0, 120)} does not match its content (expected ${jobId(job)})`);
  return job;
}

const numbers = (what: string, v: unknown, p: string[]) => {
  if (!isObj(v)) return void p.push(`${what} must be an object`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'number' && typeof x !== 'boolean') p.push(`${what}.${k.slice(0, 40)} must be a number`);
};

const TASK_KEYS = ['name', 'train', 'dev', 'test', 'metric', 'format', 'header', 'columns', 'textColumn', 'textPairColumn', 'labelColumn', 'labelMap', 'labelNames', 'encoding'];

/** The setup as stored, or RejectedJob: only known evaluators and fields, files only by hash. */
export function checkSetup(x: unknown): Setup {
  const p: string[] = [];
  if (!isObj(x) || x.format !== SETUP_FORMAT || x.version !== QUEUE_VERSION || !isObj(x.config)) throw new RejectedJob(`the job's setup is not an opnas setup of version ${QUEUE_VERSION}`);
  onlyKeys('setup', x, ['format', 'version', 'config'], p);
  const c = x.config;
  if (typeof c.kind !== 'string' || !Object.hasOwn(WORKER_EVALUATORS, c.kind)) throw new RejectedJob(`setup: unknown evaluator kind ${JSON.stringify(c.kind)?.slice(0, 40)}`);
  const common = ['kind', 'task', 'taskSeed', 'tokenizer', 'backend', 'latencyRuntime'];
  onlyKeys('setup', c, c.kind === 'standalone' ? [...common, 'train'] : [...common, 'macro', 'maxLen', 'checkpoint', 'score'], p);
  if (!Number.isSafeInteger(c.taskSeed)) p.push('taskSeed must be an integer');
  if (c.backend !== undefined && !BACKEND_CHOICES.includes(c.backend as never)) p.push('backend is not a known backend');
  if (c.latencyRuntime !== undefined && !LATENCY_RUNTIME_NAMES.includes(c.latencyRuntime as never)) p.push('latencyRuntime is not a known latency runtime');
  const tok = c.tokenizer;
  if (!isObj(tok) || !Array.isArray(tok.vocab) || !tok.vocab.every((w) => typeof w === 'string')) p.push('tokenizer must have a vocab of strings');
  const t = c.task;
  if (!isObj(t)) p.push('task must be a spec of files');
  else {
    onlyKeys('task', t, TASK_KEYS, p);
    if (!isFileRef(t.train)) p.push('task train must be a file hash');
    for (const k of ['dev', 'test'] as const) if (t[k] !== undefined && !isFileRef(t[k])) p.push(`task ${k} must be a file hash`);
    if (t.name !== undefined && typeof t.name !== 'string') p.push('task name must be a string');
    if (t.columns !== undefined && !(Array.isArray(t.columns) && t.columns.every((s) => typeof s === 'string'))) p.push('task columns must be strings');
    if (t.labelMap !== undefined) numbers('task labelMap', t.labelMap, p);
    if (t.labelNames !== undefined && !(Array.isArray(t.labelNames) && t.labelNames.every((s) => typeof s === 'string'))) p.push('task labelNames must be strings');
  }
  if (c.kind === 'standalone') numbers('train', c.train, p);
  else {
    if (!isSha256(c.checkpoint)) p.push('checkpoint must be a folder hash');
    if (!Number.isInteger(c.maxLen) || (c.maxLen as number) < 1 || (c.maxLen as number) > 4096) p.push('maxLen must be an integer in 1..4096');
    numbers('score', c.score, p);
    const m = c.macro;
    if (!isObj(m) || !Array.isArray(m.layers) || !Array.isArray(m.hidden) || !Array.isArray(m.heads)) p.push('macro must have layers, hidden and heads');
  }
  if (p.length) throw new RejectedJob(p.join('; '));
  return x as unknown as Setup;
}

/** The setup with the files it names replaced (`file(hash)`: a local path), ready for WorkerPool. */
export async function localConfig(s: Setup, file: (hash: string) => Promise<string>, folder: (hash: string) => Promise<string>): Promise<WorkerConfig> {
  const spec = s.config.task as TaskSpec;
  const task: TaskSpec = { ...spec, train: await file(spec.train) };
  if (spec.dev !== undefined) task.dev = await file(spec.dev);
  if (spec.test !== undefined) task.test = await file(spec.test);
  if (s.config.kind === 'supernet') return { ...s.config, task, checkpoint: await folder(s.config.checkpoint) };
  return { ...s.config, task };
}

/** A worker's result for the job `id`, or undefined when it is not one (then the coordinator ignores it). */
export function checkResult(id: string, type: JobType, rv: unknown): JobResult | undefined {
  if (!isObj(rv) || rv.job !== id) return undefined;
  if (type === 'latency') return typeof rv.latency === 'number' ? { job: id, latency: rv.latency } : undefined;
  if (typeof rv.seconds !== 'number' || !isObj(rv.scores)) return undefined;
  const scores: Record<string, number> = {};
  for (const [k, v] of Object.entries(rv.scores)) {
    if (typeof v !== 'number' && v !== null) return undefined;
    // JSON has no NaN: a diverged training's NaN arrives as null, as it does from a local worker process
    scores[k] = v as number;
  }
  // a stand-alone training's per-example dev record (EvalResult.devCorrect), kept only when well formed
  const rec = typeof rv.devCorrect === 'string' && /^[01]+$/.test(rv.devCorrect) ? { devCorrect: rv.devCorrect } : {};
  return { job: id, scores, seconds: rv.seconds, ...rec };
}

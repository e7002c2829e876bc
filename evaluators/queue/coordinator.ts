import { extname } from 'node:path';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BackboneGenome } from '../../spaces/types.js';
import type { Candidate } from '../../search/types.js';
import { WORKER_EVALUATORS, type WorkerConfig } from '../registry.js';
import { taskAsSpec, type TaskSpec } from '../tasks/named.js';
import { SetupError, type EvalContext, type EvalResult, type Evaluator } from '../types.js';
import { BlobStore } from './blobs.js';
import { checkResult, jobId, JOB_FORMAT, QUEUE_VERSION, SETUP_FORMAT, type CandidateJob, type JobType, type Setup } from './jobs.js';
import { checkRedis, openRedis, QUEUE_NAME, redisLabel } from './redis.js';

/**
 * The coordinator's side of a distributed search: an Evaluator, like the local WorkerPool, that
 * puts each candidate on a BullMQ queue in Redis instead of handing it to a local process, and
 * waits for a worker (`opnas worker`, on any machine) to return its scores. The loop, run.json,
 * resume and the reports do not know the difference: seeds still come from the run seed and the
 * candidate's id, so the same seed gives the same trials as a local run.
 *
 * Job ids are made from the run's id, the batch and the candidate (evaluators/queue/jobs.ts), so a
 * coordinator that was killed and resumed finds its jobs again: still queued, running or done.
 * Each job is polled until it finishes; one that vanished (Redis restarted without its data) is
 * queued again, with whatever it needs stored again; Redis unreachable for longer than `patience`
 * stops the search with a QueueUnavailable, which leaves the run interrupted and resumable.
 */

export interface QueueEvaluatorOptions {
  url: string;
  /** The run's queue id (a UUID kept in run.json). */
  run: string;
  /** What each worker builds its evaluator from (local paths: they are shipped by hash). */
  config: WorkerConfig;
  /** Jobs carry this tag (`final<steps>`: the final stage or a screening rung) instead of the batch `prepare` names. */
  tag?: string;
  log?: (msg: string) => void;
  /** Milliseconds Redis may stay unreachable before the search stops (default 60 s). */
  patienceMs?: number;
  /** Milliseconds between looks at a job (default 250). */
  pollMs?: number;
}

/** Redis could not be reached for too long: the run stops as interrupted, and resumes later. */
export class QueueUnavailable extends SetupError {}

/** Reasons a worker gives for failures that are not the candidate's (see evaluators/queue/worker.ts). */
export const SETUP_FAILURE = '[setup] ';
export const REJECTED = '[rejected] ';

/** Kept a week: a coordinator resumed within it finds the results of jobs that finished while it was away. */
const KEEP = { age: 7 * 24 * 3600 };

export class QueueEvaluator implements Evaluator<BackboneGenome> {
  readonly name: string;
  readonly scoreNames: string[];
  /** Supernet evaluators: the checkpoint folder every score from now on uses (as WorkerPool.checkpoint). */
  checkpoint?: string;
  /** Called before each batch, after the batch is known (a supernet trained batch by batch). */
  beforeBatch?: Evaluator<BackboneGenome>['prepare'];
  /** Told when a job went back to the queue (its worker stopped mid-job) or was queued again. */
  onRetry?: (message: string) => void;
  onProgress?: (worker: number, id: string, step: number, steps: number) => void;
  private tag: string;
  private readonly checkpoints = new Map<string, string>();
  private readonly slots: (string | undefined)[] = [];
  private readonly patienceMs: number;
  private readonly pollMs: number;
  private closed = false;
  /** Hash of the Setup blob every job names. */
  private setup = '';

  private constructor(
    private readonly o: QueueEvaluatorOptions,
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly blobs: BlobStore,
    /** The last connection problem, as openRedis words it. */
    private readonly errors: { last: string },
  ) {
    this.name = o.config.kind;
    this.scoreNames = WORKER_EVALUATORS[o.config.kind].scores;
    this.tag = o.tag ?? 'b0';
    this.patienceMs = o.patienceMs ?? 60_000;
    this.pollMs = o.pollMs ?? 250;
  }

  /** Check the server, open the queue and store the setup (task files, tokenizer, base checkpoint). */
  static async connect(o: QueueEvaluatorOptions): Promise<QueueEvaluator> {
    await checkRedis(o.url);
    const errors = { last: '' };
    const redis = openRedis(o.url, (m) => (errors.last = m));
    const queue = new Queue(QUEUE_NAME, { connection: redis });
    // the connection's own handler has said what went wrong (openRedis)
    queue.on('error', () => {});
    const blobs = new BlobStore(redis);
    const q = new QueueEvaluator(o, redis, queue, blobs, errors);
    try {
      q.setup = await q.patient('storing the task and settings', q.storeSetup());
    } catch (e) {
      await q.close();
      throw e;
    }
    return q;
  }

  private async storeSetup(): Promise<string> {
    const { config: local } = this.o;
    const spec = taskAsSpec(local.task);
    // by hash, keeping the extension: a task's files are read by it
    const ship = async (path: string) => (await this.blobs.putFile(path)) + (/^\.[a-z0-9]{1,8}$/.exec(extname(path).toLowerCase())?.[0] ?? '');
    const task: TaskSpec = { ...spec, train: await ship(spec.train) };
    if (spec.dev !== undefined) task.dev = await ship(spec.dev);
    if (spec.test !== undefined) task.test = await ship(spec.test);
    const config: WorkerConfig = local.kind === 'supernet' ? { ...local, task, checkpoint: await this.blobs.putFolder(local.checkpoint) } : { ...local, task };
    const setup = await this.blobs.putJson({ format: SETUP_FORMAT, version: QUEUE_VERSION, config } satisfies Setup);
    const files = [task.train, task.dev, task.test].filter((h): h is string => !!h).map((h) => h.slice(0, 64));
    this.blobs.depends(setup, config.kind === 'supernet' ? [...files, config.checkpoint] : files);
    return setup;
  }

  readonly prepare = async (p: Parameters<NonNullable<Evaluator<BackboneGenome>['prepare']>>[0]): Promise<void> => {
    if (!this.o.tag) this.tag = `b${p.batch}`;
    await this.beforeBatch?.(p);
  };

  /** A Redis call that gives up after `patience` (the client itself waits for the server forever). */
  private async patient<T>(what: string, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new QueueUnavailable(`lost the connection to Redis at ${redisLabel(this.o.url)} for ${Math.round(this.patienceMs / 1000)} s (${what}${this.errors.last ? `: ${this.errors.last}` : ''}); the run stops here, its trials are saved`)),
        this.patienceMs,
      );
    });
    try {
      return await Promise.race([p, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async checkpointHash(): Promise<string | undefined> {
    if (!this.checkpoint) return undefined;
    let h = this.checkpoints.get(this.checkpoint);
    if (!h) this.checkpoints.set(this.checkpoint, (h = await this.patient('storing the checkpoint', this.blobs.putFolder(this.checkpoint))));
    return h;
  }

  private async add(data: CandidateJob): Promise<Job> {
    await this.patient('storing what the job needs', this.blobs.ensure([data.setup, ...(data.checkpoint ? [data.checkpoint] : [])]));
    // an id already in the queue is not added again: BullMQ returns the existing job
    return this.patient('queueing a job', this.queue.add(data.type, data, { jobId: jobId(data), attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: KEEP, removeOnFail: KEEP }));
  }

  private async run(type: JobType, c: Candidate<BackboneGenome>, seed: number, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) throw new Error('the queue evaluator is closed');
    const candidate: Candidate<BackboneGenome> = { genome: c.genome, id: c.id, origin: c.origin, ...(c.parent !== undefined ? { parent: c.parent } : {}) };
    const checkpoint = type === 'score' ? await this.checkpointHash() : undefined;
    const data: CandidateJob = { format: JOB_FORMAT, version: QUEUE_VERSION, type, run: this.o.run, tag: this.tag, candidate, seed, setup: this.setup, ...(checkpoint ? { checkpoint } : {}) };
    const id = jobId(data);
    let slot = this.slots.indexOf(undefined);
    if (slot < 0) slot = this.slots.length;
    this.slots[slot] = id;
    try {
      let job = await this.add(data);
      // a job this process did not make may have failed for a reason that was not the candidate's (a
      // worker that could not load the setup, before a restart): run it again instead of reusing that
      if ((await this.patient('reading a job', job.getState())) === 'failed' && /^\[(setup|rejected)\] /.test(job.failedReason ?? '')) {
        await this.patient('retrying a job', job.retry('failed'));
      }
      let stalls = job.stalledCounter ?? 0;
      for (;;) {
        if (signal?.aborted) throw new Error('aborted');
        const found = await this.patient('reading a job', this.queue.getJob(id));
        if (!found) {
          this.onRetry?.(`job ${id} is gone from Redis (was the server restarted?); queued again`);
          job = await this.add(data);
          continue;
        }
        job = found;
        const state = await this.patient('reading a job', job.getState());
        // the job was read before its state: read it again for the result of a job that just finished
        if (state === 'completed' || state === 'failed') job = (await this.patient('reading a job', this.queue.getJob(id))) ?? job;
        // BullMQ counts the times a job's worker stopped renewing its lock (killed, machine gone)
        if (job.stalledCounter > stalls) this.onRetry?.(`job ${id} went back to the queue (its worker stopped mid-job, ${job.stalledCounter} time${job.stalledCounter === 1 ? '' : 's'}); another worker ran it again`);
        stalls = Math.max(stalls, job.stalledCounter ?? 0);
        if (state === 'completed') {
          const r = checkResult(id, type, job.returnvalue);
          if (!r) throw new Error(`the worker returned a malformed result for ${id}`);
          return r;
        }
        if (state === 'failed') {
          const reason = job.failedReason ?? 'failed without a reason';
          if (reason.startsWith(SETUP_FAILURE)) throw new SetupError(`a queue worker could not load its evaluator: ${reason.slice(SETUP_FAILURE.length)}`);
          if (reason.startsWith(REJECTED)) throw new SetupError(`a queue worker refused the job ${id}: ${reason.slice(REJECTED.length)}`);
          throw new Error(reason);
        }
        const pr = job.progress as { step?: number; steps?: number } | undefined;
        if (state === 'active' && pr && typeof pr.step === 'number' && typeof pr.steps === 'number') this.onProgress?.(slot, c.id, pr.step, pr.steps);
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    } finally {
      this.slots[slot] = undefined;
    }
  }

  async score(c: Candidate<BackboneGenome>, ctx: EvalContext): Promise<EvalResult> {
    const r = (await this.run('score', c, ctx.seed, ctx.signal)) as EvalResult;
    return { scores: r.scores, seconds: r.seconds, ...(typeof r.devCorrect === 'string' ? { devCorrect: r.devCorrect } : {}) };
  }

  async latency(c: Candidate<BackboneGenome>): Promise<number> {
    return ((await this.run('latency', c, 0)) as { latency: number }).latency;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // the server may be gone: do not wait for it long
    await Promise.race([this.queue.close().catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.redis.disconnect();
  }
}

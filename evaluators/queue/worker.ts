import { hostname } from 'node:os';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BackendChoice } from '../backend-choices.js';
import { WorkerPool, WORKER_RETRIES } from '../pool.js';
import type { WorkerConfig } from '../registry.js';
import { SetupError } from '../types.js';
import { BlobCache } from './blobs.js';
import { REJECTED, SETUP_FAILURE } from './coordinator.js';
import { checkJob, checkSetup, localConfig, RejectedJob, type CandidateJob, type JobResult } from './jobs.js';
import { checkRedis, openRedis, QUEUE_NAME, WORKER_KEY, type WorkerInfo } from './redis.js';

/**
 * `opnas worker`: pulls candidate jobs from the queue (a BullMQ Worker, `concurrency` at once) and
 * scores them in local worker processes, the same WorkerPool and evaluators/worker-main.ts a local
 * search uses, so a candidate scores the same here as on the coordinator's machine. What a job needs
 * is fetched by hash into `cacheDir` (evaluators/queue/blobs.ts). Every job is checked before use
 * (evaluators/queue/jobs.ts); one that fails the check is failed at once and never run.
 *
 * A worker killed mid-job stops renewing its job's lock: after `stallSeconds` another worker's
 * stalled-job check puts the job back on the queue (at most WORKER_RETRIES times, as a local pool
 * retries a crashed process). Each worker keeps a heartbeat key in Redis (`opnas workers` lists them).
 */

export interface QueueWorkerOptions {
  url: string;
  /** Jobs at once, one local worker process each. */
  concurrency: number;
  /** Where fetched files (task data, checkpoints) are kept between jobs. */
  cacheDir: string;
  /** A job whose worker has not renewed its lock for this long goes back to the queue (default 30). */
  stallSeconds?: number;
  /** Tensor backend of the worker processes (default: $OPNAS_BACKEND, else auto), whatever the coordinator uses. */
  backend?: BackendChoice;
  log?: (msg: string) => void;
  heartbeatSeconds?: number;
}


interface PoolEntry {
  pool: WorkerPool;
  active: number;
  used: number;
}

export class QueueWorker {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly progressOf = new Map<string, { job: Job; at: number }>();
  readonly info: WorkerInfo;
  private heartbeat?: NodeJS.Timeout;
  private worker!: Worker;
  private uses = 0;
  private lastError = '';

  private constructor(
    private readonly o: QueueWorkerOptions,
    private readonly redis: Redis,
    private readonly cache: BlobCache,
  ) {
    this.info = { hostname: hostname(), pid: process.pid, concurrency: o.concurrency, started: new Date().toISOString(), active: 0, done: 0, failed: 0, rejected: 0 };
  }

  static async start(o: QueueWorkerOptions): Promise<QueueWorker> {
    if (!(Number.isInteger(o.concurrency) && o.concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, got ${o.concurrency}`);
    await checkRedis(o.url);
    let self: QueueWorker | undefined;
    const redis = openRedis(o.url, (m) => self?.error(m));
    self = new QueueWorker(o, redis, new BlobCache(redis, o.cacheDir));
    const stall = (o.stallSeconds ?? 30) * 1000;
    self.worker = new Worker(QUEUE_NAME, (job) => self.process(job), {
      connection: redis,
      concurrency: o.concurrency,
      lockDuration: stall,
      stalledInterval: stall,
      maxStalledCount: WORKER_RETRIES,
    });
    // connection failures are said once by the connection's own handler (openRedis)
    self.worker.on('error', (e: Error) => {
      if (!/ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ECONNRESET|Connection is closed/.test(e.message)) self.error(e.message);
    });
    await self.beat();
    const every = (o.heartbeatSeconds ?? 5) * 1000;
    self.heartbeat = setInterval(() => void self.beat(), every);
    return self;
  }

  /** Say each distinct connection problem once (ioredis repeats them while it reconnects). */
  private error(m: string): void {
    if (m === this.lastError) return;
    this.lastError = m;
    this.o.log?.(`worker: ${m}`);
  }

  private async beat(): Promise<void> {
    try {
      await this.redis.set(`${WORKER_KEY}${this.info.hostname}:${this.info.pid}`, JSON.stringify(this.info), 'EX', Math.ceil(3 * (this.o.heartbeatSeconds ?? 5)));
      this.lastError = '';
    } catch (e) {
      this.error(`heartbeat: ${(e as Error).message}`);
    }
  }

  private poolFor(hash: string, cfg: WorkerConfig): PoolEntry {
    let e = this.pools.get(hash);
    if (!e) {
      const pool = new WorkerPool(this.o.concurrency, cfg);
      pool.onRetry = (m) => this.o.log?.(`worker: ${m}`);
      pool.onProgress = (_w, id, step, steps) => {
        const p = this.progressOf.get(id);
        if (!p || (step < steps && performance.now() - p.at < 1000)) return;
        p.at = performance.now();
        p.job.updateProgress({ step, steps }).catch(() => {});
      };
      this.pools.set(hash, (e = { pool, active: 0, used: 0 }));
    }
    e.used = ++this.uses;
    return e;
  }

  /** Close the pools no job uses, but the one used last (the next job most likely needs it). */
  private reap(): void {
    const newest = Math.max(...[...this.pools.values()].map((e) => e.used));
    for (const [h, e] of this.pools) {
      if (e.active === 0 && e.used < newest) {
        this.pools.delete(h);
        void e.pool.close();
      }
    }
  }

  private async process(job: Job): Promise<JobResult> {
    let data: CandidateJob;
    try {
      data = checkJob(job.id, job.data);
      if (job.name !== data.type) throw new RejectedJob(`job name '${String(job.name).slice(0, 40)}' is not its type '${data.type}'`);
    } catch (e) {
      return this.reject(job, e as Error);
    }
    let entry: PoolEntry;
    let checkpoint: string | undefined;
    const setupHash = data.setup;
    try {
      const setup = checkSetup(await this.cache.json(setupHash));
      const cfg = await localConfig(setup, (h) => this.cache.file(h), (h) => this.cache.folder(h));
      // the backend is this machine's choice (--backend, else $OPNAS_BACKEND, else auto), not the coordinator's
      cfg.backend = this.o.backend;
      checkpoint = data.checkpoint ? await this.cache.folder(data.checkpoint) : undefined;
      entry = this.poolFor(setupHash, cfg);
    } catch (e) {
      if (e instanceof RejectedJob) return this.reject(job, e);
      this.o.log?.(`job ${job.id}: cannot get what it needs: ${(e as Error).message}`);
      throw new Error(SETUP_FAILURE + (e as Error).message);
    }
    entry.active++;
    this.info.active++;
    this.o.log?.(`job ${job.id}: started`);
    this.progressOf.set(data.candidate.id, { job, at: 0 });
    const t0 = performance.now();
    try {
      if (data.type === 'latency') return { job: job.id!, latency: await entry.pool.latency(data.candidate) };
      const r = await entry.pool.scoreWith(data.candidate, { seed: data.seed }, checkpoint);
      this.info.done++;
      const dev = r.scores.dev;
      this.o.log?.(`job ${job.id}: scored${typeof dev === 'number' ? ` dev ${dev.toFixed(4)}` : ''} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return { job: job.id!, scores: r.scores, seconds: r.seconds, ...(r.devCorrect !== undefined ? { devCorrect: r.devCorrect } : {}) };
    } catch (e) {
      const m = (e as Error)?.message ?? String(e);
      if (e instanceof SetupError) {
        // a pool that cannot build its evaluator is of no more use; the next job starts a fresh one
        this.pools.delete(setupHash);
        void entry.pool.close();
        this.o.log?.(`job ${job.id}: ${m}`);
        throw new Error(SETUP_FAILURE + m);
      }
      this.info.failed++;
      this.o.log?.(`job ${job.id}: failed: ${m}`);
      // the candidate itself failed: it would fail the same way on any worker, so no retry
      throw new UnrecoverableError(m);
    } finally {
      entry.active--;
      this.info.active--;
      this.progressOf.delete(data.candidate.id);
      this.reap();
      void this.beat();
    }
  }

  private reject(job: Job, e: Error): never {
    this.info.rejected++;
    this.o.log?.(`rejected job ${String(job.id).slice(0, 120)}: ${e.message}`);
    throw new UnrecoverableError(REJECTED + e.message);
  }

  /** Stop taking jobs; with `force` false, wait for the running ones to finish first. */
  async close(force = false): Promise<void> {
    clearInterval(this.heartbeat);
    await this.worker.close(force).catch(() => {});
    await Promise.all([...this.pools.values()].map((e) => e.pool.close()));
    this.pools.clear();
    await this.redis.del(`${WORKER_KEY}${this.info.hostname}:${this.info.pid}`).catch(() => {});
    this.redis.disconnect();
  }
}

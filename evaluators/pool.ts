import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKER_EVALUATORS, type FromWorker, type WorkerConfig, type WorkerJob } from './registry.js';
import { packageRoot } from './tasks/named.js';
import { SetupError, type EvalContext, type EvalResult, type Evaluator } from './types.js';
import type { BackboneGenome } from '../spaces/types.js';
import type { Candidate } from '../search/types.js';

/**
 * Evaluates candidates in N worker processes (one wasm thread each). Jobs go to whichever worker is
 * free; results come back by job number, so the loop records them in ask order whatever finishes
 * first. A worker that dies (crash, out of memory, killed) is replaced and its candidate runs again,
 * up to WORKER_RETRIES times, before it fails with the reason; the same seed gives the same result.
 * A worker that cannot build its evaluator at all is a SetupError: every candidate would fail.
 */

interface Job {
  id: number;
  msg: WorkerJob;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** Times a worker died while running it. */
  deaths: number;
}

/** A candidate whose worker died is run again this many times before it is recorded as failed. */
export const WORKER_RETRIES = 2;

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
  job?: Job;
}

function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(here, '../../evaluators/worker-main.js');
  // running from source (tests): use the build, which `npm test` makes first
  const built = join(packageRoot(), 'dist/evaluators/worker-main.js');
  if (!existsSync(built)) throw new Error(`worker script ${built} is missing: run npm run build`);
  return built;
}

export class WorkerPool implements Evaluator<BackboneGenome> {
  readonly name: string;
  readonly scoreNames: string[];
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextJob = 0;
  private closed = false;
  /** Live tensors each worker reported after its last job (a leak shows up here). */
  readonly tensorCounts: number[] = [];
  /** Supernet evaluators: the checkpoint every score from now on uses (a search's batch checkpoint). */
  checkpoint?: string;
  /** The loop's hook before a batch (see Evaluator.prepare); a session sets it. */
  prepare?: Evaluator<BackboneGenome>['prepare'];
  /** Told when a worker died mid-candidate and the candidate goes back in the queue. */
  onRetry?: (message: string) => void;
  /** Training progress of the candidate a worker is on: (worker, candidate id, step, steps). */
  onProgress?: (worker: number, id: string, step: number, steps: number) => void;

  constructor(
    readonly size: number,
    private readonly config: WorkerConfig,
    private readonly execArgv: string[] = ['--max-old-space-size=4096'],
  ) {
    this.name = config.kind;
    this.scoreNames = WORKER_EVALUATORS[config.kind].scores;
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`workers must be a positive integer, got ${size}`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(i));
  }

  private spawn(i: number): Slot {
    const child = fork(workerScript(), [], { execArgv: this.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => ((markReady = res), (failReady = rej)));
    ready.catch(() => {});
    const slot: Slot = { child, ready };
    // A job sent to a worker that has died but whose exit the parent has not seen yet fails with
    // EPIPE (or a closed channel) as an 'error' event; unheard, that event would crash the search.
    // The exit handler below runs the job again, so the send error itself needs nothing more.
    child.on('error', () => {});
    child.on('message', (m: FromWorker) => {
      if (m.type === 'ready') return markReady();
      if (m.type === 'progress') {
        const c = slot.job?.msg.candidate;
        if (c) this.onProgress?.(i, c.id, m.step, m.steps);
        return;
      }
      if (m.type === 'error' && m.job === -1) return failReady(new SetupError(`a worker could not load its evaluator: ${m.message}`));
      const job = slot.job;
      if (!job || job.id !== m.job) return;
      slot.job = undefined;
      if (m.type === 'result') {
        if (m.tensors !== undefined) this.tensorCounts[i] = m.tensors;
        job.resolve(m.result);
      } else job.reject(m.setup ? new SetupError(m.message ?? 'worker setup failed') : new Error(m.message));
      this.pump();
    });
    child.on('exit', (code, signal) => {
      const why = `worker process exited (${signal ? `signal ${signal}` : `code ${code}`})`;
      failReady(new Error(why));
      const job = slot.job;
      slot.job = undefined;
      if (this.closed) return;
      this.slots[i] = this.spawn(i);
      if (job) {
        job.deaths++;
        const id = job.msg.candidate.id;
        if (job.deaths <= WORKER_RETRIES) {
          this.onRetry?.(`${why} while evaluating ${id}; running it again (retry ${job.deaths} of ${WORKER_RETRIES})`);
          this.queue.unshift(job);
        } else job.reject(new Error(`${why} while evaluating, ${job.deaths} times`));
      }
      this.pump();
    });
    child.send({ type: 'init', config: this.config });
    return slot;
  }

  private run<T>(msg: WorkerJob, signal?: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      const job: Job = {
        id: this.nextJob++,
        msg,
        resolve: (v) => (done(), resolve(v as T)),
        reject: (e) => (done(), reject(e)),
        deaths: 0,
      };
      this.queue.push(job);
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job || !this.queue.length) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.ready.then(
        () => {
          if (slot.job === job) slot.child.send({ ...job.msg, job: job.id });
        },
        (e: Error) => {
          // a worker that died before it was ready: its exit handler already requeued the job
          if (slot.job !== job) return;
          slot.job = undefined;
          job.reject(e instanceof SetupError ? e : new Error(`worker failed to start: ${e.message}`));
        },
      );
    }
  }

  score(c: Candidate<BackboneGenome>, ctx: EvalContext): Promise<EvalResult> {
    return this.run<EvalResult>({ type: 'score', candidate: c, seed: ctx.seed, ...(this.checkpoint ? { checkpoint: this.checkpoint } : {}) }, ctx.signal);
  }

  /** Score with the weights of `checkpoint` (a queue worker serves batches, and runs, that use different ones at once). */
  scoreWith(c: Candidate<BackboneGenome>, ctx: EvalContext, checkpoint?: string): Promise<EvalResult> {
    return this.run<EvalResult>({ type: 'score', candidate: c, seed: ctx.seed, ...(checkpoint ? { checkpoint } : {}) }, ctx.signal);
  }

  latency(c: Candidate<BackboneGenome>): Promise<number> {
    return this.run<number>({ type: 'latency', candidate: c });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) j.reject(new Error('worker pool closed'));
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((res) => {
            if (s.child.exitCode !== null || s.child.signalCode !== null) return res();
            s.child.once('exit', () => res());
            s.child.kill('SIGTERM');
          }),
      ),
    );
  }
}

import { availableParallelism, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import type { BackendChoice } from '../../evaluators/backend-choices.js';
import { queueStatus } from '../../evaluators/queue/status.js';
import { redisLabel } from '../../evaluators/queue/redis.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { backendOption, positiveInt } from '../options.js';
import { note, print } from '../output.js';

/** `opnas worker` (serve a distributed search's queue) and `opnas workers` (who serves it). */

interface WorkerArgs {
  redis: string;
  concurrency?: number;
  cache?: string;
  'stall-seconds': number;
  backend?: BackendChoice;
  quiet?: boolean;
}

/** Where a worker keeps fetched task files and checkpoints: --cache, $OPNAS_CACHE_DIR, else ~/.cache/opnas/worker. */
function cacheDir(given?: string): string {
  return resolve(given ?? process.env.OPNAS_CACHE_DIR ?? join(homedir(), '.cache', 'opnas', 'worker'));
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  builder: (y) =>
    backendOption(
      y
        .option('redis', { type: 'string', demandOption: true, describe: "the search's Redis (redis://[:password@]host[:port][/db], rediss:// for TLS)" })
        .option('concurrency', { alias: 'c', type: 'number', describe: 'candidates at once, one local process each (default: the number of cores)' })
        .option('cache', { type: 'string', describe: 'folder for the task files and checkpoints fetched from Redis (default: $OPNAS_CACHE_DIR, else ~/.cache/opnas/worker)' })
        .option('stall-seconds', { type: 'number', default: 30, describe: 'a job whose worker stops renewing its lock for this long (killed, machine gone) goes back to the queue' })
        .option('quiet', { type: 'boolean', describe: 'no log of the jobs' })
        .example([
          ['$0 worker --redis redis://:secret@10.0.0.5:6379', 'serve the searches whose coordinator runs opnas search --redis on that server'],
          ['$0 worker --redis rediss://:secret@redis.example.org:6380 --concurrency 2', 'over TLS, two candidates at once'],
        ]),
    ) as never,
  handler: async (a) => {
    const concurrency = positiveInt('concurrency', a.concurrency ?? availableParallelism());
    if (!(a['stall-seconds'] > 0)) throw new OpnasError(`--stall-seconds must be a positive number, got ${a['stall-seconds']}`);
    const log = a.quiet ? () => {} : note;
    // loaded here: it brings TF.js (the worker processes' evaluators), which opnas workers does not need
    const { QueueWorker } = await import('../../evaluators/queue/worker.js');
    const w = await QueueWorker.start({ url: a.redis, concurrency, cacheDir: cacheDir(a.cache), stallSeconds: a['stall-seconds'], backend: a.backend, log });
    note(`worker ${w.info.hostname}:${w.info.pid} serving ${redisLabel(a.redis)} with ${concurrency} process${concurrency === 1 ? '' : 'es'} (Ctrl-C to stop)`);
    await new Promise<void>((done) => {
      let stopping = false;
      const stop = (why: string) => {
        if (stopping) process.exit(130);
        stopping = true;
        note(`opnas: worker stopping (${why}); finishing its running jobs (Ctrl-C again to stop at once: they go back to the queue)`);
        void w.close().then(done);
      };
      process.on('SIGINT', () => stop('Ctrl-C'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGHUP', () => stop('SIGHUP'));
    });
    note(`worker stopped: ${w.info.done} scored, ${w.info.failed} failed, ${w.info.rejected} rejected`);
  },
};

interface WorkersArgs {
  redis: string;
  json?: boolean;
}

export const workersCommand: CommandModule<object, WorkersArgs> = {
  builder: (y) =>
    y
      .option('redis', { type: 'string', demandOption: true, describe: "the search's Redis (redis://[:password@]host[:port][/db], rediss:// for TLS)" })
      .example([['$0 workers --redis redis://:secret@10.0.0.5:6379', 'the workers serving that queue and its job counts']]) as never,
  handler: async (a) => {
    const s = await queueStatus(a.redis);
    if (a.json) return print(JSON.stringify(s));
    const c = s.counts;
    print(`queue at ${redisLabel(a.redis)}: ${c.waiting + (c.prioritized ?? 0)} waiting, ${c.active} running, ${c.delayed} delayed, ${c.completed} completed, ${c.failed} failed`);
    if (!s.workers.length) return print('no workers connected (start one with: opnas worker --redis URL)');
    print(`${s.workers.length} worker${s.workers.length === 1 ? '' : 's'}:`);
    const rows = [['host', 'pid', 'concurrency', 'running', 'done', 'failed', 'rejected', 'since'], ...s.workers.map((w) => [w.hostname, String(w.pid), String(w.concurrency), String(w.active), String(w.done), String(w.failed), String(w.rejected), w.started])];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) print('  ' + r.map((x, i) => (i === 0 || i === r.length - 1 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ').trimEnd());
  },
};

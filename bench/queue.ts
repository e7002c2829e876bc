/**
 * `npm run bench:queue`: candidates per minute of a stand-alone search on SST-2 scored by local
 * worker processes (1 and 2) and by 1, 2 and 4 `opnas worker` processes through a BullMQ queue in a
 * throw-away redis-server on loopback (bench/redis-server.ts). The coordinator runs in this process
 * through `startSearch`, as `opnas search --redis` does; each queue worker is the CLI with
 * `--concurrency 1`, started before the search (so its start-up is not counted, but building its
 * evaluator on the first job is, as a local pool's is). Also checks that every queue run has the
 * local run's trials. Writes its section into bench/RESULTS.md between the queue markers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../evaluators/tasks/named.js';
import { DEFAULT_SEARCH, startSearch, type SearchConfig } from '../runs/session.js';
import type { RunFile } from '../runs/types.js';
import { benchArgs } from './args.js';
import { fmt, table } from './common.js';
import { startRedis } from './redis-server.js';
import { spliceSection } from './sections.js';

const USAGE = 'usage: node dist/bench/queue.js [--candidates N (default 8)] [--steps S (training steps a candidate, default 40)] [--repeats R (default 2)] [--out FILE]';

interface Row {
  how: string;
  processes: number;
  candidates: number;
  /** Wall time of each repeat. */
  seconds: number[];
  /** Every repeat had the first run's trials. */
  same: boolean;
}

/** An `opnas worker` process, resolved once it serves the queue. */
function startWorker(url: string, cache: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(packageRoot(), 'dist/bin/opnas.js'), 'worker', '--redis', url, '--concurrency', '1', '--cache', cache, '--quiet'], {
    env: { ...process.env, OPNAS_BACKEND: 'wasm' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (/serving/.test(err)) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`worker exited (${code}): ${err}`)));
  });
}

const stopped = (c: ChildProcess) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    c.once('exit', () => r());
    c.kill('SIGTERM');
  });

/** Trials as results: without timings. */
const results = (run: RunFile) => JSON.stringify(run.trials.map((t) => ({ id: t.id, status: t.status, dev: t.scores.dev, test: t.scores.test })));

async function main(): Promise<void> {
  const a = benchArgs('queue', USAGE, { candidates: { type: 'string' }, steps: { type: 'string' }, repeats: { type: 'string' }, out: { type: 'string' } });
  const repeats = a.int('repeats', 2, 1);
  const candidates = a.int('candidates', 8, 1);
  const steps = a.int('steps', 40, 1);
  const out = a.str('out') ?? path.join(packageRoot(), 'bench', 'RESULTS.md');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'opnas-bench-queue-'));
  const config: SearchConfig = {
    ...DEFAULT_SEARCH,
    evaluator: 'standalone',
    macro: { ...DEFAULT_SEARCH.macro, layers: [1, 2], hidden: [64, 128], pool: undefined, embed: undefined },
    seeded: false,
    budget: candidates,
    batch: 4,
    train: { ...DEFAULT_SEARCH.train, steps },
    final: undefined,
    seed: 1,
  };
  const redis = await startRedis();
  const configs = [
    ...[1, 2].map((n) => ({ how: 'local worker processes', processes: n, queue: false })),
    ...[1, 2, 4].map((n) => ({ how: 'queue workers (opnas worker)', processes: n, queue: true })),
  ];
  const rows: Row[] = configs.map((c) => ({ ...c, candidates: 0, seconds: [], same: true }));
  const loads: number[] = [];
  let reference = '';
  try {
    // configurations interleaved, repeat by repeat, so a change in the machine's load spreads over all of them
    for (let rep = 0; rep < repeats; rep++) {
      for (const [i, c] of configs.entries()) {
        const ws = c.queue ? await Promise.all(Array.from({ length: c.processes }, () => startWorker(redis.url, path.join(dir, 'cache')))) : [];
        try {
          loads.push(os.loadavg()[0]);
          const t0 = performance.now();
          const run = await startSearch(dir, `r${rep}-${i}`, config, c.queue ? { redis: redis.url, backend: 'wasm' } : { workers: c.processes, backend: 'wasm' });
          const seconds = (performance.now() - t0) / 1000;
          reference ||= results(run);
          rows[i].candidates = run.trials.filter((t) => t.status === 'ok').length;
          rows[i].seconds.push(seconds);
          rows[i].same &&= results(run) === reference;
          console.error(`${c.how}, ${c.processes}: ${seconds.toFixed(1)} s`);
        } finally {
          await Promise.all(ws.map(stopped));
        }
      }
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const section = [
    '## Distributed search: queue workers against local worker processes',
    '',
    `\`node dist/bench/queue.js --candidates ${candidates} --steps ${steps} --repeats ${repeats}\` (\`npm run bench:queue\`), ${new Date().toISOString().slice(0, 10)}, on ${cpu}`,
    `(${os.availableParallelism()} cores; load average ${fmt(Math.min(...loads), 1)}-${fmt(Math.max(...loads), 1)} at the starts of the runs: other work shared the machine, so the`,
    'figures are noisy and more processes than free cores cannot help). A stand-alone search on SST-2 (op-evolution, seed 1, layers',
    `1-2, hidden 64/128, ${steps} training steps a candidate, batches of 4, ${candidates} candidates) run by \`startSearch\` in one process: with`,
    'local worker processes, and with `--redis` and 1, 2 and 4 `opnas worker --concurrency 1` processes on the same machine, through a',
    'redis-server on loopback; the configurations take turns, repeat by repeat. Each queue worker runs its candidates in a local worker',
    'process of its own, as a local search does; the queue adds Redis round trips, polling (every 250 ms) and each worker building',
    'its evaluator on its first job. Wall time includes training the tokenizer and starting the local processes.',
    '',
    table(
      ['scored by', 'processes', 'candidates', 'seconds (mean)', 'seconds (runs)', 'candidates / minute', 'same trials every run'],
      rows.map((r) => {
        const mean = r.seconds.reduce((x, y) => x + y, 0) / r.seconds.length;
        return [r.how, r.processes, r.candidates, fmt(mean, 1), r.seconds.map((x) => fmt(x, 1)).join(', '), fmt((60 * r.candidates) / mean, 2), r.same ? 'yes' : 'NO'];
      }),
    ),
    '',
  ].join('\n');
  const prior = existsSync(out) ? readFileSync(out, 'utf8') : '# opnas benchmark results\n';
  writeFileSync(out, spliceSection(prior, section, 'queue'));
  console.log(section);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((e) => {
    console.error(`bench:queue: ${(e as Error).message}`);
    process.exit(1);
  });
}

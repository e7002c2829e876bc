import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../evaluators/queue/redis.js';
import { ROOT, tempDir } from '../bin/helpers.js';
import { freePort, startRedis, type RedisServer } from '../../bench/redis-server.js';

/**
 * Issue 14: a search whose candidates are scored by `opnas worker` processes through a BullMQ queue
 * in a real redis-server (started here on a free loopback port, with a password). The trials must
 * equal a local `--workers 2` run's, also after a worker or the coordinator is killed with SIGKILL.
 */

const BIN = join(ROOT, 'dist/bin/opnas.js');
const PASSWORD = 'opnas-test-secret';
const SEARCH = ['--train', join(ROOT, 'test/fixtures/search/tiny.tsv'), '--vocab-size', '64', '--max-len', '16', '--evaluator', 'standalone',
  '--layers', '1-1', '--hidden', '16,32', '--heads', '1,2', '--train-steps', '12', '--budget', '6', '--batch', '3', '--seed', '5', '--final-top', '0'];

let redis: RedisServer;
const dir = tempDir();
const env = { OPNAS_RUNS_DIR: dir, OPNAS_BACKEND: 'wasm' };
const started: ChildProcess[] = [];
let reference: unknown[];

/** Trials without what is timing rather than result. */
const trials = (name: string) =>
  (JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')).trials as { seconds: number; scores: Record<string, number> }[]).map((t) => {
    const { latency: _latency, ...scores } = t.scores;
    return { ...t, seconds: 0, scores };
  });

/**
 * Run the CLI to its end without blocking this process (spawnSync would stall vitest's own messages
 * and the workers' log pipes for as long as a search takes).
 */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Start the CLI in the background; `onLine` sees each stderr line. */
function start(args: string[], onLine: (line: string) => void = () => {}, extraEnv: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(child);
  let stderr = '';
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const l of lines) onLine(l);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stderr: () => stderr, exited };
}

/** An `opnas worker` (one process), resolved once it serves the queue. */
async function worker(onLine?: (line: string) => void, url = redis.url, extraEnv: Record<string, string> = {}): Promise<Proc> {
  let ready!: () => void;
  const up = new Promise<void>((r) => (ready = r));
  const w = start(['worker', '--redis', url, '--concurrency', '1', '--cache', tempDir('opnas-cache-'), '--stall-seconds', '2'], (l) => {
    if (/^worker .* serving /.test(l)) ready();
    onLine?.(l);
  }, extraEnv);
  await Promise.race([up, w.exited.then((code) => Promise.reject(new Error(`worker exited (${code}): ${w.stderr()}`)))]);
  return w;
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  await p.exited;
}

/** How often each job id was scored, over the workers' logs. */
function scoredCounts(...logs: string[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const l of logs.join('\n').split('\n')) {
    const m = /^job (\S+): scored/.exec(l);
    if (m) n.set(m[1], (n.get(m[1]) ?? 0) + 1);
  }
  return n;
}

beforeAll(async () => {
  redis = await startRedis({ password: PASSWORD });
  // the reference: the same search in two local worker processes
  const local = await cli(['search', '--name', 'local', '--workers', '2', '--quiet', ...SEARCH]);
  expect(local.code, local.stderr).toBe(0);
  reference = trials('local');
  expect(reference.filter((t) => (t as { status: string }).status === 'ok')).toHaveLength(6);
}, 150_000);

// a test that failed half-way must not leave its workers serving the next test's queue
afterEach(async () => {
  const alive = started.filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(alive.map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGKILL')))));
});

afterAll(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.stop();
});

describe('opnas search --redis', () => {
  it('two queue workers give the same trials as two local worker processes; opnas workers lists them', async () => {
    const [a, b] = [await worker(), await worker()];
    const r = start(['search', '--name', 'q', '--redis', redis.url, '--quiet', ...SEARCH]);
    expect(await r.exited, r.stderr()).toBe(0);
    expect(trials('q')).toEqual(reference);
    // nothing of the URL's password is saved with the run
    expect(readFileSync(join(dir, 'q', 'run.json'), 'utf8')).not.toContain(PASSWORD);

    const ls = await cli(['workers', '--redis', redis.url, '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    const s = JSON.parse(ls.stdout) as { workers: { pid: number; done: number; concurrency: number; hostname: string }[]; counts: Record<string, number> };
    expect(s.workers.map((w) => w.pid).sort()).toEqual([a.child.pid, b.child.pid].sort());
    expect(s.workers.reduce((n, w) => n + w.done, 0)).toBe(6);
    expect(s.counts.completed).toBe(6);
    const text = await cli(['workers', '--redis', redis.url]);
    expect(text.stdout).toMatch(/6 completed/);
    expect(text.stdout).toContain(String(a.child.pid));
    await Promise.all([stop(a), stop(b)]);
  }, 120_000);

  it('the supernet evaluator, trained on each batch by the coordinator: the workers score with each batch checkpoint fetched by hash, and the trials equal a local run', async () => {
    const fix = join(ROOT, 'test/fixtures/train');
    const args = ['--final-top', '0', '--train', join(fix, 'reviews.csv'), '--dev', join(fix, 'reviews-dev.tsv'), '--max-len', '16', '--vocab-size', '60', '--layers', '1-2', '--hidden', '16,32',
      '--heads', '1,2', '--batch', '2', '--seed', '3', '--evaluator', 'supernet', '--supernet-steps', '20', '--population-steps', '3', '--budget', '4', '--quiet'];
    const local = await cli(['search', '--name', 'sn-local', '--workers', '2', ...args]);
    expect(local.code, local.stderr).toBe(0);
    const a = await worker();
    const r = start(['search', '--name', 'sn-q', '--redis', redis.url, ...args]);
    expect(await r.exited, r.stderr()).toBe(0);
    await stop(a);
    expect(trials('sn-q')).toEqual(trials('sn-local'));
    expect(trials('sn-q').filter((t) => (t as unknown as { status: string }).status === 'ok')).toHaveLength(4);
  }, 120_000);

  it('a worker killed with SIGKILL mid-job: the job goes back to the queue, another worker runs it, the trials are the same', async () => {
    let killed = false;
    const a = await worker((l) => {
      // mid-job: it has taken a candidate and not returned it
      if (!killed && /^job \S+: started/.test(l)) {
        killed = true;
        a.child.kill('SIGKILL');
      }
    });
    const r = start(['search', '--name', 'kw', '--redis', redis.url, ...SEARCH]);
    await a.exited;
    expect(killed).toBe(true);
    const b = await worker();
    expect(await r.exited, r.stderr()).toBe(0);
    expect(r.stderr()).toMatch(/went back to the queue \(its worker stopped mid-job/);
    expect(trials('kw')).toEqual(reference);
    await stop(b);
    expect([...scoredCounts(b.stderr()).values()].every((n) => n === 1)).toBe(true);
  }, 120_000);

  it('the coordinator killed with SIGKILL: opnas resume --redis finds its jobs again; nothing is scored twice', async () => {
    const a = await worker();
    let killedAt = -1;
    const r = start(['search', '--name', 'kc', '--redis', redis.url, ...SEARCH], (l) => {
      if (killedAt < 0 && /^trial 1 ok/.test(l)) {
        killedAt = 1;
        r.child.kill('SIGKILL');
      }
    });
    await r.exited;
    expect(killedAt).toBe(1);
    const before = JSON.parse(readFileSync(join(dir, 'kc', 'run.json'), 'utf8')) as { trials: unknown[] };
    expect(before.trials.length).toBeLessThan(6);
    const res = await cli(['resume', 'kc', '--redis', redis.url, '--quiet']);
    expect(res.code, res.stderr).toBe(0);
    expect(trials('kc')).toEqual(reference);
    await stop(a);
    // every job of the run was scored once: the resumed coordinator waited for the jobs already queued
    const counts = scoredCounts(a.stderr());
    expect(counts.size).toBe(6);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 150_000);

  it('a malformed or foreign job is rejected by the worker and never run', async () => {
    const a = await worker();
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const q = new Queue(QUEUE_NAME, { connection: conn });
    try {
      const foreign = await q.add('score', { cmd: 'rm -rf /' }, { jobId: 'foreign-1' });
      const genome = { version: 1, space: 'backbone', hidden: 16, heads: 1, layers: [] };
      const bad = await q.add('score', { format: 'opnas-job', version: 1, type: 'score', run: '00000000-0000-4000-8000-000000000000', tag: 'b0', seed: 1, setup: 'a'.repeat(64), candidate: { id: 'x', genome, origin: 'sample' } }, { jobId: 'bad-1' });
      const failed = async (id: string) => {
        for (let i = 0; i < 100; i++) {
          // the state first, then the job: a job read before it failed has no reason yet
          if ((await q.getJobState(id)) === 'failed') return (await q.getJob(id))?.failedReason;
          await new Promise((r) => setTimeout(r, 100));
        }
        return 'still not failed';
      };
      expect(await failed(foreign.id!)).toMatch(/^\[rejected\] not an opnas job/);
      expect(await failed(bad.id!)).toMatch(/^\[rejected\] .*candidate genome is not a valid backbone genome/);
    } finally {
      await q.close();
      conn.disconnect();
      await stop(a);
    }
    expect(a.stderr()).toMatch(/rejected job foreign-1/);
    expect(a.stderr()).not.toMatch(/job (foreign|bad)-1: started/);
  }, 60_000);

  it('Redis gone longer than --redis-wait: the run stops interrupted with one clear message; resumed after a restart (its data lost) it ends with the same trials', async () => {
    const a = await worker();
    let stopped = false;
    const r = start(['search', '--name', 'rr', '--redis', redis.url, '--redis-wait', '2', ...SEARCH], (l) => {
      if (!stopped && /^trial 0 ok/.test(l)) {
        stopped = true;
        void redis.stop();
      }
    });
    expect(await r.exited, r.stderr()).toBe(1);
    expect(r.stderr()).toMatch(/^opnas: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+ for 2 s .*the run stops here, its trials are saved\. Continue it with: opnas resume rr --redis URL$/m);
    const run = JSON.parse(readFileSync(join(dir, 'rr', 'run.json'), 'utf8')) as { status: string; trials: unknown[] };
    expect(run.status).toBe('interrupted');
    expect(existsSync(join(dir, 'rr', 'run.lock'))).toBe(false);
    await redis.restart(); // empty: no persistence
    const res = await cli(['resume', 'rr', '--redis', redis.url, '--quiet']);
    expect(res.code, res.stderr).toBe(0);
    expect(trials('rr')).toEqual(reference);
    await stop(a);
  }, 120_000);

  const openssl = spawnSync('openssl', ['version']).status === 0;
  it.skipIf(!openssl)('rediss:// (TLS): a worker and a search over TLS give the reference trials; an untrusted certificate or plain redis:// is one clear error', async () => {
    const certs = tempDir();
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certs, 'key.pem'), '-out', join(certs, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    expect(made.status, String(made.stderr)).toBe(0);
    const tls = await startRedis({ password: PASSWORD, tls: { cert: join(certs, 'cert.pem'), key: join(certs, 'key.pem') } });
    try {
      expect(tls.url).toMatch(/^rediss:/);
      const trust = { NODE_EXTRA_CA_CERTS: join(certs, 'cert.pem') };
      const a = await worker(undefined, tls.url, trust);
      const budget3 = SEARCH.map((x, i) => (SEARCH[i - 1] === '--budget' ? '3' : x));
      const r = start(['search', '--name', 'tls', '--redis', tls.url, '--quiet', ...budget3], undefined, trust);
      expect(await r.exited, r.stderr()).toBe(0);
      await stop(a);
      // the first batch of the reference run: the same candidates, seeds and scores
      expect(trials('tls')).toEqual(reference.slice(0, 3));
      const untrusted = await cli(['workers', '--redis', tls.url]);
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/^opnas: cannot talk TLS to Redis at rediss:\/\/127\.0\.0\.1:\d+: self-signed certificate\n$/);
      const plain = await cli(['workers', '--redis', tls.url.replace('rediss:', 'redis:')]);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(/^opnas: Redis at redis:\/\/127\.0\.0\.1:\d+ closed the connection \(does it serve TLS only\? then use rediss:\/\/\)\n$/);
    } finally {
      await tls.stop();
    }
  }, 90_000);

  it('a bad URL, an unreachable Redis, a missing or wrong password: one clear error each, no run folder, the run file intact', async () => {
    const port = await freePort();
    const cases: [string, RegExp][] = [
      ['http://127.0.0.1:6379', /^opnas: --redis: unsupported scheme 'http:'/],
      ['not a url', /^opnas: --redis: 'not a url' is not a URL/],
      [`redis://127.0.0.1:${port}`, /^opnas: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: connection refused/],
      [`redis://127.0.0.1:${redis.port}`, /^opnas: Redis at redis:\/\/127\.0\.0\.1:\d+ requires a password/],
      [`redis://:wrong@127.0.0.1:${redis.port}`, /^opnas: Redis at redis:\/\/127\.0\.0\.1:\d+ refused the password/],
    ];
    const runJson = readFileSync(join(dir, 'local', 'run.json'), 'utf8');
    for (const [url, message] of cases) {
      const s = await cli(['search', '--name', 'bad', '--redis', url, ...SEARCH]);
      expect(s.code, url).toBe(1);
      expect(s.stderr, url).toMatch(message);
      expect(s.stderr.trim().split('\n'), url).toHaveLength(1);
      expect(s.stderr).not.toContain('wrong');
      expect(existsSync(join(dir, 'bad'))).toBe(false);
      // resume and worker check the same way (a few cases keep the test short)
      if (/refused/.test(message.source)) {
        const res = await cli(['resume', 'local', '--budget', '9', '--redis', url]);
        expect(res.code, url).toBe(1);
        expect(res.stderr, url).toMatch(message);
      }
      if (/refused the password/.test(message.source)) {
        const w = await cli(['worker', '--redis', url]);
        expect(w.code, url).toBe(1);
        expect(w.stderr, url).toMatch(message);
      }
    }
    expect(readFileSync(join(dir, 'local', 'run.json'), 'utf8')).toBe(runJson);
    expect(readdirSync(join(dir, 'local'))).not.toContain('run.lock');
  }, 120_000);
});

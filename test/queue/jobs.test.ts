import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../../bench/redis-server.js';
import { BLOB_KEY, BlobCache, BlobStore, sha256 } from '../../evaluators/queue/blobs.js';
import { checkJob, checkResult, checkSetup, jobId, type CandidateJob } from '../../evaluators/queue/jobs.js';
import { checkRedisUrl, redisLabel } from '../../evaluators/queue/redis.js';
import { backboneSpace } from '../../spaces/backbone.js';
import type { BackboneGenome } from '../../spaces/types.js';
import { tempDir } from '../bin/helpers.js';

/** The checks a worker and a coordinator make on what comes out of Redis, and the blob store's hashes. */

const genome: BackboneGenome = {
  version: 1,
  space: 'backbone',
  hidden: 16,
  heads: 1,
  layers: [{ mixer: { type: 'conv', kernel: 3 }, ffn: { tree: 'L2(gelu(L1(x)))', stack: 1, ratio: 2 } }],
} as BackboneGenome;
const RUN = '0b7c2a5e-1111-4222-8333-444455556666';
const job = (): CandidateJob => ({
  format: 'opnas-job',
  version: 1,
  type: 'score',
  run: RUN,
  tag: 'b3',
  candidate: { genome, id: backboneSpace().id(backboneSpace().check(genome).genome!), origin: 'sample' },
  seed: 42,
  setup: 'a'.repeat(64),
});
const H = 'b'.repeat(64);
const setup = () => ({
  format: 'opnas-setup',
  version: 1,
  config: { kind: 'standalone', task: { train: `${H}.tsv`, textColumn: 'sentence', labelColumn: 'label' }, taskSeed: 0, tokenizer: { type: 'x', version: 1, vocab: ['[PAD]', 'a'] }, train: { steps: 8 } },
});

describe('jobs', () => {
  it('a job made by a coordinator passes, and its id is its run, batch, candidate and seed', () => {
    const j = job();
    expect(jobId(j)).toBe(`${RUN}.b3.${j.candidate.id}.s42`);
    expect(checkJob(jobId(j), j)).toEqual(j);
  });

  it('a foreign or malformed job is refused, with what is wrong', () => {
    const j = job();
    expect(() => checkJob('x', { cmd: 'rm -rf /' })).toThrow(/not an opnas job/);
    expect(() => checkJob(jobId(j), { ...j, version: 2 })).toThrow(/job version 2/);
    expect(() => checkJob(jobId(j), { ...j, extra: 1 })).toThrow(/unexpected field 'extra'/);
    expect(() => checkJob(jobId(j), { ...j, run: 'run-1' })).toThrow(/run must be a run id/);
    expect(() => checkJob(jobId(j), { ...j, setup: '../../etc/passwd' })).toThrow(/setup must be a SHA-256 hash/);
    // the id must be the genome's: a job cannot pass a genome off as another candidate
    expect(() => checkJob(jobId(j), { ...j, candidate: { ...j.candidate, id: 'ffffffffffffffff' } })).toThrow(/candidate id is not its genome's id/);
    expect(() => checkJob(jobId(j), { ...j, candidate: { ...j.candidate, genome: { ...genome, layers: [] } } })).toThrow(/not a valid backbone genome/);
    // a job under another run's or batch's id
    expect(() => checkJob(jobId({ ...j, tag: 'b4' }), j)).toThrow(/does not match its content/);
  });

  it('a setup names files only by hash, and only known evaluators and fields', () => {
    expect(checkSetup(setup())).toEqual(setup());
    const s = setup();
    expect(() => checkSetup({ ...s, config: { ...s.config, task: { ...s.config.task, train: '/etc/passwd' } } })).toThrow(/task train must be a file hash/);
    expect(() => checkSetup({ ...s, config: { ...s.config, kind: 'shell' } })).toThrow(/unknown evaluator kind/);
    expect(() => checkSetup({ ...s, config: { ...s.config, checkpoint: '/tmp/x' } })).toThrow(/unexpected field 'checkpoint'/);
    expect(() => checkSetup({ ...s, config: { ...s.config, train: { steps: 'many' } } })).toThrow(/train.steps must be a number/);
    expect(() => checkSetup({ ...s, config: { ...s.config, kind: 'supernet', train: undefined, checkpoint: '/run/supernet', maxLen: 16, score: {}, macro: { layers: [1, 1], hidden: [16], heads: [1] } } })).toThrow(
      /checkpoint must be a folder hash/,
    );
  });

  it("a result counts only for the job it names, in the expected shape", () => {
    expect(checkResult('j1', 'score', { job: 'j1', scores: { dev: 0.5 }, seconds: 1 })).toEqual({ job: 'j1', scores: { dev: 0.5 }, seconds: 1 });
    expect(checkResult('j1', 'score', { job: 'j2', scores: { dev: 0.5 }, seconds: 1 })).toBeUndefined();
    expect(checkResult('j1', 'score', { job: 'j1', scores: { dev: '0.5' }, seconds: 1 })).toBeUndefined();
    expect(checkResult('j1', 'latency', { job: 'j1', latency: 2 })).toEqual({ job: 'j1', latency: 2 });
    expect(checkResult('j1', 'score', null)).toBeUndefined();
    // a stand-alone training's per-example dev record travels with it; a malformed one is dropped, not the result
    expect(checkResult('j1', 'score', { job: 'j1', scores: { dev: 0.5 }, seconds: 1, devCorrect: '0110' })).toEqual({ job: 'j1', scores: { dev: 0.5 }, seconds: 1, devCorrect: '0110' });
    expect(checkResult('j1', 'score', { job: 'j1', scores: { dev: 0.5 }, seconds: 1, devCorrect: '01x0' })).toEqual({ job: 'j1', scores: { dev: 0.5 }, seconds: 1 });
    expect(checkResult('j1', 'score', { job: 'j1', scores: { dev: 0.5 }, seconds: 1, devCorrect: 7 })).toEqual({ job: 'j1', scores: { dev: 0.5 }, seconds: 1 });
  });

  it('URLs: only redis:// and rediss:// with a host; the password never shows in labels', () => {
    expect(() => checkRedisUrl('redis://:pw@10.0.0.5:6379/2')).not.toThrow();
    expect(() => checkRedisUrl('rediss://user:pw@example.org')).not.toThrow();
    expect(() => checkRedisUrl('http://example.org')).toThrow(/unsupported scheme 'http:'/);
    expect(() => checkRedisUrl('redis://:pw@host/abc')).toThrow(/must be a database number/);
    expect(() => checkRedisUrl('nonsense')).toThrow(/is not a URL/);
    expect(redisLabel('redis://:secret@10.0.0.5:6379')).toBe('redis://10.0.0.5:6379');
    expect(redisLabel('rediss://alice:secret@example.org:6380/1')).toBe('rediss://alice@example.org:6380/1');
  });
});

describe('blobs (a real redis-server)', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('files and folders round-trip by hash; a tampered blob or a path in a manifest is refused; lost blobs are stored again', async () => {
    const src = tempDir();
    mkdirSync(join(src, 'ckpt'));
    writeFileSync(join(src, 'ckpt', 'weights.bin'), Buffer.from([1, 2, 3, 4]));
    writeFileSync(join(src, 'ckpt', 'weights.json'), '{"x":1}');
    writeFileSync(join(src, 'ckpt', 'weights.bin.tmp'), 'half written');
    const store = new BlobStore(redis);
    const file = await store.putFile(join(src, 'ckpt', 'weights.json'));
    expect(file).toBe(sha256('{"x":1}'));
    const folder = await store.putFolder(join(src, 'ckpt'));
    const cache = new BlobCache(redis, tempDir());
    expect(readFileSync(await cache.file(`${file}.json`), 'utf8')).toBe('{"x":1}');
    const local = await cache.folder(folder);
    expect([...readFileSync(join(local, 'weights.bin'))]).toEqual([1, 2, 3, 4]);

    // bytes that do not match their hash
    const other = sha256('original');
    await redis.set(BLOB_KEY + other, 'tampered');
    await expect(cache.file(other)).rejects.toThrow(/does not match its hash/);
    // a manifest that names a path
    const evil = await store.putJson({ format: 'opnas-folder', files: { '../../escape': file } });
    await expect(cache.folder(evil)).rejects.toThrow(/bad file name/);
    await expect(cache.file('../../etc/passwd')).rejects.toThrow(/not a file hash/);

    // Redis lost everything (a restart without persistence): ensure() stores the folder and its files again
    await redis.flushall();
    await store.ensure([folder]);
    const fresh = new BlobCache(redis, tempDir());
    expect(readFileSync(join(await fresh.folder(folder), 'weights.json'), 'utf8')).toBe('{"x":1}');
  });
});

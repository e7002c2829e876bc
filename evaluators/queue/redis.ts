import { Redis, type RedisOptions } from 'ioredis';
import { OpnasError } from '../../spaces/base/errors.js';

/**
 * Connections to the Redis server that carries a distributed search (`--redis URL`): the URL
 * checked before anything else happens, one clear error for a bad URL, an unreachable server or a
 * refused password, and the long-lived connections BullMQ is given. ioredis reads the URL itself:
 * `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS.
 */

/** The queue every coordinator and worker uses, and the prefix of opnas's own keys beside it. */
export const QUEUE_NAME = 'opnas-candidates';
export const KEY_PREFIX = 'opnas:';
/** Each worker's heartbeat key: WORKER_KEY + host:pid, expiring unless refreshed. */
export const WORKER_KEY = `${KEY_PREFIX}worker:`;

/** What a worker's heartbeat key holds. */
export interface WorkerInfo {
  hostname: string;
  pid: number;
  concurrency: number;
  started: string;
  active: number;
  done: number;
  failed: number;
  rejected: number;
}

/** A URL without its password, for messages and listings. */
export function redisLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** Refuse anything that is not a redis:// or rediss:// URL with a host, before any connection. */
export function checkRedisUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OpnasError(`--redis: '${url.replace(/\/\/[^@/]*@/, '//***@')}' is not a URL (expected redis://[:password@]host[:port][/db] or rediss://... for TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new OpnasError(`--redis: unsupported scheme '${u.protocol}' in ${redisLabel(url)} (use redis:// or rediss:// for TLS)`);
  if (!u.hostname) throw new OpnasError(`--redis: ${redisLabel(url)} names no host`);
  if (u.port && !(Number(u.port) > 0 && Number(u.port) < 65536)) throw new OpnasError(`--redis: bad port '${u.port}' in ${redisLabel(url)}`);
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new OpnasError(`--redis: the path of ${redisLabel(url)} must be a database number, got '${db}'`);
}

/** What ioredis's error means for the user. */
function explain(url: string, e: Error & { code?: string }): string {
  const where = redisLabel(url);
  const m = e.message ?? String(e);
  if (/NOAUTH/i.test(m)) return `Redis at ${where} requires a password: give it in the URL (redis://:PASSWORD@host:port)`;
  if (/WRONGPASS|invalid password|invalid username-password/i.test(m)) return `Redis at ${where} refused the password in the URL`;
  if (e.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(m)) return `cannot reach Redis at ${where}: connection refused (is redis-server running there?)`;
  if (e.code === 'ENOTFOUND' || /ENOTFOUND|EAI_AGAIN/.test(m)) return `cannot reach Redis at ${where}: unknown host`;
  if (/ETIMEDOUT|timed out/i.test(m)) return `cannot reach Redis at ${where}: no answer (timed out)`;
  if (/EPROTO|SSL|TLS|certificate/i.test(m)) return `cannot talk TLS to Redis at ${where}: ${m}`;
  if (e.code === 'ECONNRESET' || /ECONNRESET|Connection is closed|socket hang up/.test(m)) return `Redis at ${where} closed the connection${url.startsWith('redis:') ? ' (does it serve TLS only? then use rediss://)' : ''}`;
  return `Redis at ${where}: ${m}`;
}

/**
 * Connect once, without retrying, and ask the server for PING: resolves when it answers, throws an
 * OpnasError naming the problem otherwise. Commands call this before they create or change anything.
 */
export async function checkRedis(url: string, timeoutMs = 5000): Promise<void> {
  checkRedisUrl(url);
  let failure: Error | undefined;
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', (e: Error) => (failure ??= e));
  try {
    await client.connect();
    const pong = await client.ping();
    if (pong !== 'PONG') throw new Error(`unexpected answer to PING: ${pong}`);
  } catch (e) {
    throw new OpnasError(explain(url, failure && !/NOAUTH|WRONGPASS/.test((e as Error).message) ? failure : (e as Error)));
  } finally {
    client.disconnect();
  }
}

/**
 * A connection for BullMQ and opnas's own keys: it reconnects on its own after the server went away
 * (commands wait meanwhile), and its errors are handed to `onError` instead of being printed.
 */
export function openRedis(url: string, onError: (message: string) => void, extra: RedisOptions = {}): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(200 * n, 2000), ...extra });
  client.on('error', (e: Error) => onError(explain(url, e)));
  return client;
}

import { Queue } from 'bullmq';
import { checkRedis, openRedis, QUEUE_NAME, WORKER_KEY, type WorkerInfo } from './redis.js';

/**
 * `opnas workers`: the workers whose heartbeat key is alive (each refreshes it every few seconds
 * and it expires when they stop) and the queue's job counts.
 */

export interface QueueStatus {
  workers: WorkerInfo[];
  counts: Record<string, number>;
}

export async function queueStatus(url: string): Promise<QueueStatus> {
  await checkRedis(url);
  let failure = '';
  const redis = openRedis(url, (m) => (failure = m), { maxRetriesPerRequest: 1 });
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  queue.on('error', () => {});
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${WORKER_KEY}*`, 'COUNT', 200);
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
    const workers: WorkerInfo[] = [];
    for (const v of keys.length ? await redis.mget(...keys) : []) {
      if (!v) continue;
      try {
        workers.push(JSON.parse(v) as WorkerInfo);
      } catch {
        // a key someone else wrote: not a worker of ours
      }
    }
    workers.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.pid - b.pid);
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
    return { workers, counts };
  } catch (e) {
    throw new Error(failure || (e as Error).message);
  } finally {
    await queue.close().catch(() => {});
    redis.disconnect();
  }
}

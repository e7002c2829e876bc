import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { WorkerPool } from '../../evaluators/pool.js';
import { trainTokenizer } from '../../evaluators/standalone.js';
import { loadTask } from '../../evaluators/tasks/named.js';
import { Rng, seedFrom } from '../../spaces/base/rng.js';
import { backboneSpace } from '../../spaces/backbone.js';

/**
 * The pool's handling of a worker that dies between jobs: the parent may hand it the next job
 * before it has seen the exit, and the send then fails with EPIPE. That must not crash the caller;
 * the job runs again on the replacement worker with the same result.
 */

const TINY_TSV = join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/search/tiny.tsv');
let pool: WorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** Block this thread: the child's death then reaches the parent only after the next send. */
const busyWait = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

it('a job handed to a worker that died unseen (EPIPE) runs on the replacement worker, with the same result', async () => {
  const spec = { train: TINY_TSV, textColumn: 'sentence', labelColumn: 'label' };
  const tokenizer = trainTokenizer(loadTask(spec), 64);
  pool = new WorkerPool(1, { kind: 'standalone', task: spec, taskSeed: 0, tokenizer, train: { steps: 2, batchSize: 16, maxLen: 16, evalEvery: 0, patience: 0 }, backend: 'wasm' });
  const retries: string[] = [];
  pool.onRetry = (m) => retries.push(m);
  const space = backboneSpace({ layers: [1, 1], hidden: [16, 16], heads: [1, 1], convProbability: 0 });
  const g = space.sample(new Rng('pool'));
  const cand = { genome: g, id: space.id(g), origin: 'sample' as const };
  const first = await pool.score(cand, { seed: seedFrom(1, 0) });

  const pid = (pool as unknown as { slots: { child: { pid: number } }[] }).slots[0].child.pid;
  process.kill(pid, 'SIGKILL');
  busyWait(500); // the child is dead now, but this process has not read its exit
  const again = await pool.score(cand, { seed: seedFrom(1, 0) });

  expect(retries).toHaveLength(1);
  expect(retries[0]).toMatch(/worker process exited \(signal SIGKILL\) while evaluating .*retry 1 of 2/);
  const { latency: _a, ...s1 } = first.scores;
  const { latency: _b, ...s2 } = again.scores;
  expect(s2).toEqual(s1);
}, 120_000);

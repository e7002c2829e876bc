import * as tf from '@tensorflow/tfjs-core';
import { createWorkerEvaluator, type FromWorker, type ToWorker, type WorkerEvaluator } from './registry.js';

/**
 * A worker process: builds one evaluator from the parent's JSON config, then scores candidates
 * one at a time. TF.js's wasm backend runs one thread per process under Node, so a search uses the
 * machine's cores through several of these.
 */
let evaluator: WorkerEvaluator | undefined;

const send = (m: FromWorker) => process.send!(m);

process.on('message', async (m: ToWorker) => {
  try {
    if (m.type === 'init') {
      evaluator = await createWorkerEvaluator(m.config);
      send({ type: 'ready' });
    } else if (m.type === 'score') {
      // a search that trains its supernet batch by batch names the checkpoint each score must use
      if (m.checkpoint && evaluator?.reload) {
        try {
          await evaluator.reload(m.checkpoint);
        } catch (e) {
          // every candidate scores with this checkpoint: the run cannot go on without it
          return send({ type: 'error', job: m.job, setup: true, message: `cannot load the supernet checkpoint ${m.checkpoint}: ${(e as Error)?.message ?? String(e)}` });
        }
      }
      const r = await evaluator!.score(m.candidate, { seed: m.seed }, (step: number, steps: number) => send({ type: 'progress', job: m.job, step, steps }));
      send({ type: 'result', job: m.job, result: r, tensors: tf.memory().numTensors });
    } else if (m.type === 'latency') {
      send({ type: 'result', job: m.job, result: await evaluator!.latency(m.candidate) });
    }
  } catch (e) {
    send({ type: 'error', job: 'job' in m ? m.job : -1, message: (e as Error)?.message ?? String(e) });
  }
});

process.on('disconnect', () => process.exit(0));

// Where latency is measured: TF.js (the evaluator's own model) or ONNX Runtime on the candidate's ONNX graph.
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../evaluators/backend.js';
import { Model } from '../../evaluators/compile.js';
import { candidateLatency, candidateOnnx, checkLatencyRuntime, LATENCY_RUNTIMES, latencyLabel, onnxLatency } from '../../evaluators/latency.js';
import { StandaloneEvaluator, trainTokenizer } from '../../evaluators/standalone.js';
import { loadTask } from '../../evaluators/tasks/named.js';
import { Rng } from '../../spaces/base/rng.js';
import { stackedBaseline } from '../helpers/genomes.js';

const TINY_TSV = join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/search/tiny.tsv');

const genome = stackedBaseline;

beforeAll(async () => {
  await initBackend('cpu', { log: () => {} });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('latency runtimes', () => {
  it('names the runtimes; anything else is one clear error', () => {
    expect(checkLatencyRuntime('onnx')).toBe('onnx');
    expect(() => checkLatencyRuntime('gpu')).toThrow('--latency-runtime must be tfjs, onnx or browser, got "gpu"');
    expect(latencyLabel(undefined)).toBe('TF.js');
    expect(latencyLabel('onnx')).toBe('ONNX Runtime');
  });

  it('onnx times the candidate\'s own ONNX graph (seed-0 weights: the same logits as the TF.js model), and a bigger model takes longer', async () => {
    const shape = { vocabSize: 50, maxLen: 32, numClasses: 2 };
    const g = genome(1, 16);
    const bytes = await candidateOnnx(g, shape);
    const session = await ort.InferenceSession.create(bytes);
    const ids = Array.from({ length: 32 }, (_, i) => (i * 7) % 50);
    const out = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, 32]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(32).fill(1n), [1, 32]),
    });
    await session.release();
    const m = new Model(g, shape, new Rng(0));
    const want = tf.tidy(() => m.forward(tf.tensor2d(ids, [1, 32], 'int32'), tf.ones([1, 32])).logits.dataSync());
    m.dispose();
    expect(Array.from(out.logits.data as Float32Array)).toEqual(Array.from(want).map((x) => expect.closeTo(x, 4)));

    const tfjs = vi.fn(() => 123);
    const small = await candidateLatency('onnx', g, shape, tfjs);
    const big = await candidateLatency('onnx', genome(4, 256), { ...shape, maxLen: 128 }, tfjs);
    expect(tfjs).not.toHaveBeenCalled();
    expect(small).toBeGreaterThan(0);
    expect(big).toBeGreaterThan(small);
    // tfjs (and the default) is the evaluator's own measurement
    expect(await candidateLatency('tfjs', g, shape, tfjs)).toBe(123);
    expect(await candidateLatency(undefined, g, shape, tfjs)).toBe(123);
    expect(await onnxLatency(bytes, 32)).toBeGreaterThan(0);
  }, 60_000);

  it('a stand-alone evaluator measures its latency score (and --max-latency-ms checks) with the run\'s runtime', async () => {
    const spec = { train: TINY_TSV, textColumn: 'sentence', labelColumn: 'label' };
    const tokenizer = trainTokenizer(loadTask(spec), 64);
    const train = { steps: 2, batchSize: 16, maxLen: 16, evalEvery: 0, patience: 0 };
    const c = { genome: genome(1, 16), id: 'x', origin: 'sample' as const };
    const onnx = vi.spyOn(LATENCY_RUNTIMES.onnx, 'candidate');
    const viaOnnx = await StandaloneEvaluator.create({ task: spec, taskSeed: 0, tokenizer, train, latencyRuntime: 'onnx' });
    const r = await viaOnnx.score(c, { seed: 1 });
    expect(onnx).toHaveBeenCalledTimes(1);
    expect(onnx.mock.calls[0][1]).toEqual({ vocabSize: tokenizer.vocab.length, maxLen: 16, numClasses: 2 });
    expect(r.scores.latency).toBe(await onnx.mock.results[0].value);
    await viaOnnx.latency(c);
    expect(onnx).toHaveBeenCalledTimes(2);
    const viaTfjs = await StandaloneEvaluator.create({ task: spec, taskSeed: 0, tokenizer, train });
    expect((await viaTfjs.score(c, { seed: 1 })).scores.latency).toBeGreaterThan(0);
    await viaTfjs.latency(c);
    expect(onnx).toHaveBeenCalledTimes(2);
  }, 60_000);
});

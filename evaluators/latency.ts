import { OpnasError } from '../spaces/base/errors.js';
import { Rng } from '../spaces/base/rng.js';
import type { BackboneGenome } from '../spaces/types.js';

/**
 * Where a candidate's forward latency is measured: the one place that knows the runtimes.
 *
 * `tfjs` times the TF.js model opnas trains (the backend the process runs: wasm by default);
 * `onnx` builds the candidate's ONNX graph (the model-folder exporter, evaluators/model-dir/onnx.ts)
 * and times an onnxruntime-node session, where the model would be served. Both time one example of
 * the run's maximum length, untrained weights (speed does not depend on their values).
 * A runtime is an entry of LATENCY_RUNTIMES: `ready` says whether it can run here (before a run
 * folder exists), `candidate` measures a genome, `onnxFile` (where the runtime runs ONNX) measures
 * an exported model.onnx for the model card. Adding one (e.g. a browser) is a new entry here and
 * its name in LatencyRuntime. Reports import this module for the labels, so it loads TF.js and the
 * exporter only when it measures.
 */

export type LatencyRuntime = 'tfjs' | 'onnx';

/** The sizes a candidate's model is built at. */
export interface LatencyShape {
  vocabSize: number;
  maxLen: number;
  numClasses: number;
}

export interface LatencyRuntimeEntry {
  /** How reports name it. */
  label: string;
  /** How it measures (threads, repetitions), for the model card. */
  how: string;
  /** Throws an OpnasError naming what to install when the runtime cannot run here. */
  ready(): Promise<void>;
  /** What ran, with its version, for the model card. */
  version(): Promise<string>;
  /** ms for one maxLen example of the genome; `tfjs` measures the evaluator's own TF.js model. */
  candidate(genome: BackboneGenome, shape: LatencyShape, tfjs: () => number): Promise<number>;
  /** ms for one maxLen example of an exported ONNX model (runtimes that run ONNX). */
  onnxFile?(bytes: Uint8Array, maxLen: number): Promise<number>;
}

/** Warm-up runs, then the median of the timed ones. */
export const ONNX_WARMUP = 2;
export const ONNX_REPS = 7;

type Ort = typeof import('onnxruntime-node');
let ort: Promise<Ort> | undefined;

/** onnxruntime-node, loaded on first use (an optional dependency: absent, one clear error). */
export function loadOnnxRuntime(): Promise<Ort> {
  ort ??= import('onnxruntime-node').catch((e: Error) => {
    ort = undefined;
    throw new OpnasError(`install onnxruntime-node to use --latency-runtime onnx (npm install onnxruntime-node; it could not be loaded: ${e.message.split('\n')[0]})`);
  }) as Promise<Ort>;
  return ort;
}

/** Median ms of one [1, maxLen] example through an ONNX model in onnxruntime-node (CPU, one thread). */
export async function onnxLatency(bytes: Uint8Array, maxLen: number): Promise<number> {
  const o = await loadOnnxRuntime();
  // one thread, as a search's worker (and TF.js's wasm backend under Node) uses one core
  const session = await o.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const feeds = {
      input_ids: new o.Tensor('int64', new BigInt64Array(maxLen).fill(2n), [1, maxLen]),
      attention_mask: new o.Tensor('int64', new BigInt64Array(maxLen).fill(1n), [1, maxLen]),
    };
    const times: number[] = [];
    for (let r = 0; r < ONNX_WARMUP + ONNX_REPS; r++) {
      const t0 = performance.now();
      await session.run(feeds);
      if (r >= ONNX_WARMUP) times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  } finally {
    await session.release();
  }
}

/** The candidate's ONNX graph with freshly initialised weights (seed 0, as the TF.js latency uses). */
export async function candidateOnnx(genome: BackboneGenome, shape: LatencyShape): Promise<Uint8Array> {
  const [{ Model }, { weightsOf }, { toOnnx }] = await Promise.all([import('./compile.js'), import('./model-dir/folder.js'), import('./model-dir/onnx.js')]);
  const model = new Model(genome, shape, new Rng(0));
  try {
    return toOnnx(genome, weightsOf(model.params), { numClasses: shape.numClasses });
  } finally {
    model.dispose();
  }
}

export const LATENCY_RUNTIMES: Record<LatencyRuntime, LatencyRuntimeEntry> = {
  tfjs: {
    label: 'TF.js',
    how: 'median of 5 after 1 warm-up',
    ready: async () => {},
    version: async () => {
      const tf = await import('@tensorflow/tfjs-core');
      return `TF.js ${tf.version_core}, ${tf.getBackend()} backend`;
    },
    candidate: async (_g, _s, tfjs) => tfjs(),
  },
  onnx: {
    label: 'ONNX Runtime',
    how: `CPU, 1 thread, median of ${ONNX_REPS} after ${ONNX_WARMUP} warm-ups`,
    ready: async () => {
      await loadOnnxRuntime();
    },
    version: async () => `onnxruntime-node ${(await loadOnnxRuntime()).env.versions.node ?? ''}`.trim(),
    candidate: async (genome, shape) => onnxLatency(await candidateOnnx(genome, shape), shape.maxLen),
    onnxFile: onnxLatency,
  },
};

export const LATENCY_RUNTIME_NAMES = Object.keys(LATENCY_RUNTIMES) as LatencyRuntime[];
export const DEFAULT_LATENCY_RUNTIME: LatencyRuntime = 'tfjs';

/** One clear error for a --latency-runtime value that is not a runtime. */
export function checkLatencyRuntime(v: unknown, what = '--latency-runtime'): LatencyRuntime {
  if (!(LATENCY_RUNTIME_NAMES as unknown[]).includes(v)) throw new OpnasError(`${what} must be ${LATENCY_RUNTIME_NAMES.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as LatencyRuntime;
}

/** A candidate's latency on a runtime (default tfjs: the evaluator's own measurement). */
export function candidateLatency(runtime: LatencyRuntime | undefined, genome: BackboneGenome, shape: LatencyShape, tfjs: () => number): Promise<number> {
  return LATENCY_RUNTIMES[runtime ?? DEFAULT_LATENCY_RUNTIME].candidate(genome, shape, tfjs);
}

/** A label for reports: "TF.js" or "ONNX Runtime". */
export function latencyLabel(runtime: LatencyRuntime | undefined): string {
  return LATENCY_RUNTIMES[runtime ?? DEFAULT_LATENCY_RUNTIME]?.label ?? String(runtime);
}

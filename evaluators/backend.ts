/**
 * Picks and initialises the tfjs backend: tfjs-node-gpu, tfjs-node, wasm, then the plain JS CPU
 * backend. Worker processes each call it (docs/ARCHITECTURE.md, "What happens during opnas search").
 */
import * as tf from '@tensorflow/tfjs-core';
// The Node build of tfjs-core registers neither gradients nor chained ops (`x.sum()`); the
// umbrella package's Node bundle registers both, on the same (global) registries.
import '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { OpnasError } from '../spaces/base/errors.js';
import { installWasmFastPaths } from './wasm-fast.js';
import { registerCpuSegmentSum, registerWasmGradientKernels } from './wasm-kernels.js';

import { BACKEND_CHOICES, type BackendChoice } from './backend-choices.js';

export { BACKEND_CHOICES, type BackendChoice };

export interface BackendInfo {
  /** tfjs backend name: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** What runs it, e.g. "@tensorflow/tfjs-node-gpu" or "XNNPACK, SIMD, 1 thread". */
  detail: string;
}

export interface InitBackendOptions {
  /** Receives one line naming the backend chosen and why earlier ones were skipped. */
  log?: (msg: string) => void;
}

/** A candidate backend; `load` throws with a short reason when it cannot be used. */
interface Candidate {
  label: string;
  load: () => Promise<BackendInfo>;
}

const require = createRequire(import.meta.url);
const NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Backends already initialised, by the choice that picked them: switching back is cheap. */
const ready = new Map<BackendChoice, BackendInfo>();
const pending = new Map<BackendChoice, Promise<BackendInfo>>();

/**
 * Initialises the backend for `choice` (default: $OPNAS_BACKEND, else 'auto') and waits until it
 * is ready. Calling it again with the same choice returns the same result without work (or, if
 * another backend was made active meanwhile, just switches back).
 */
export async function initBackend(choice?: BackendChoice, opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const fromEnv = choice === undefined && !!process.env.OPNAS_BACKEND;
  const wanted = (choice ?? (process.env.OPNAS_BACKEND || 'auto')) as BackendChoice;
  if (!BACKEND_CHOICES.includes(wanted)) {
    throw new OpnasError(
      `unknown backend '${String(wanted)}'${fromEnv ? ' (from OPNAS_BACKEND)' : ''}; valid choices: ${BACKEND_CHOICES.join(', ')}`,
    );
  }
  const known = ready.get(wanted);
  if (known !== undefined) {
    if (tf.getBackend() !== known.name) await setBackend(known.name);
    return known;
  }
  let run = pending.get(wanted);
  if (run === undefined) {
    run = select(wanted, opts.log ?? (() => {})).finally(() => pending.delete(wanted));
    pending.set(wanted, run);
  }
  return run;
}

/** The active tfjs backend's name, or 'none' before any is set. */
export function currentBackend(): string {
  return tf.getBackend() ?? 'none';
}

async function select(choice: BackendChoice, log: (msg: string) => void): Promise<BackendInfo> {
  const candidates: Candidate[] = [];
  if (choice === 'auto' || choice === 'tensorflow') candidates.push(...NODE_PACKAGES.map(nodeCandidate));
  if (choice === 'auto' || choice === 'wasm') candidates.push(wasmCandidate);
  if (choice === 'auto' || choice === 'cpu') candidates.push(cpuCandidate);

  const skipped: string[] = [];
  for (const candidate of candidates) {
    let info: BackendInfo;
    try {
      info = await candidate.load();
      await tf.ready();
    } catch (err) {
      skipped.push(`${candidate.label}: ${reason(err)}`);
      continue;
    }
    ready.set(choice, info);
    const why = skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : '';
    log(`backend: ${info.name} (${info.detail}), chosen by '${choice}'${why}`);
    return info;
  }
  const hint = choice === 'tensorflow' ? "; install @tensorflow/tfjs-node(-gpu) or choose 'wasm' or 'cpu'" : '';
  throw new OpnasError(`backend '${choice}' unavailable: ${skipped.join('; ')}${hint}`);
}

function nodeCandidate(pkg: string): Candidate {
  return {
    label: pkg,
    load: async () => {
      await import(pkg); // registers the 'tensorflow' backend as a side effect
      await setBackend('tensorflow');
      return { name: 'tensorflow', detail: pkg };
    },
  };
}

const wasmCandidate: Candidate = {
  label: 'wasm',
  load: async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const requested = os.availableParallelism();
    if (tf.engine().registry.wasm === undefined) {
      // The Node bundle finds its .wasm files next to itself (__dirname); naming the folder keeps
      // that true if the bundle is ever inlined elsewhere. Both only apply before initialisation.
      wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
      wasm.setThreadsCount(requested);
    }
    await setBackend('wasm');
    registerWasmGradientKernels();
    installWasmFastPaths();
    const threads = wasm.getThreadsCount();
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'SIMD, ' : '';
    // Under Node the threaded build needs browser workers, so it stays at one thread.
    const note = threads < requested ? ` of ${requested} requested` : '';
    return { name: 'wasm', detail: `XNNPACK, ${simd}${threads} thread${threads === 1 ? '' : 's'}${note}` };
  },
};

const cpuCandidate: Candidate = {
  label: 'cpu',
  load: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await setBackend('cpu');
    registerCpuSegmentSum();
    // Its first write prints a banner recommending tfjs-node; initBackend's log line covers that.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return { name: 'cpu', detail: 'plain JavaScript' };
  },
};

async function setBackend(name: string): Promise<void> {
  if (tf.findBackendFactory(name) == null) throw new Error(`no '${name}' backend registered`);
  // tfjs logs the initialisation error itself and returns false.
  if (!(await tf.setBackend(name))) throw new Error(`'${name}' backend failed to initialise`);
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find (package|module) '@tensorflow\//.test(e.message ?? '')) {
    return 'not installed';
  }
  if (/native addon module/.test(e?.message ?? '')) return 'installed, but its native addon (libtensorflow binding) is missing';
  return String(e?.message ?? err).split('\n')[0]!;
}

/** The frame of bench/RESULTS.md around the sections: the header, "How measured", and the kept long-measurement blocks. */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackendInfo } from '../evaluators/backend.js';
import { BATCH, LR, PYTHON, SEQ, TORCH_THREADS, fmt } from './common.js';
import { existingSections } from './sections.js';
import type { ThroughputRow, TorchState } from './throughput.js';

export interface RunInfo {
  quick: boolean;
  started: Date;
  /** Seconds the measurements took. */
  wall: number;
  load0: number[];
  load1: number[];
  backend: BackendInfo;
  torch: TorchState;
}

export function renderHeader(run: RunInfo): string[] {
  const { quick: q, started, wall, load0, load1, backend, torch: state } = run;
  const cpus = os.cpus();
  const torchInfo = state.torchInfo;
  const out: string[] = [];
  out.push('# opnas benchmark results', '');
  if (q) out.push('**Quick run (`--quick`): too few steps for meaningful numbers; a smoke test only.**', '');
  out.push(
    `- Date: ${started.toISOString()}`,
    `- Command: \`npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` (wall time ${fmt(wall, 0)} s)`,
    `- Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores (os.cpus), ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Load average (1 min) at start / end: ${fmt(load0[0], 2)} / ${fmt(load1[0], 2)} (other processes share this machine; see "How measured")`,
    `- Node ${process.version}; tfjs ${tf.version_core} backend \`${backend.name}\`: ${backend.detail}`,
    `- PyTorch: ${torchInfo ? `${torchInfo.torch} (${PYTHON}), ${torchInfo.threads} threads` : `not measured: ${state.torchWhyNot ?? 'unknown reason'}`}`,
    '',
  );
  return out;
}

/** `leaked`: how the tensor count changed over the run. */
export function renderHowMeasured(thr: ThroughputRow[], backend: BackendInfo, leaked: number): string[] {
  const out: string[] = [];
  out.push('## How measured', '');
  out.push(
    [
      `Each model is built by opnas's compiler (\`new Model(genome, ...)\`, the same code \`opnas train\` uses) and trained with`,
      "`trainStep(model, opt, batch, lr)` from evaluators/train.ts (forward, `tf.variableGrads`, AdamW with weight decay and",
      `global-norm clipping at lr ${LR}) on four pre-made random batches of ${BATCH}×${SEQ} token ids, cycled; after every step the`,
      'loss is read back with `dataSync()`, so each timed step includes all of its work. Warm-up steps (kernel setup, wasm heap',
      `growth) are excluded: ${thr.map((r) => `${r.spec.label}: ${r.spec.tfWarmup} before the first round and 1 before each later one`).join('; ')}.`,
      `PyTorch runs \`${PYTHON} bench/torch_bert.py\` (the same architecture: post-LN, GELU-tanh FFN, tanh pooler on [CLS]; plain Adam,`,
      `no clipping, so it does slightly less optimizer work) with ${TORCH_THREADS} threads, its own untimed warm-up steps, and \`loss.item()\` every step.`,
      'To give both sides the same machine conditions the measurements are interleaved in one process run: opnas round, PyTorch',
      'round, opnas round, ... (the "order" column), and each side reports the median of its rounds (a mean for two rounds);',
      `the opnas tfjs model keeps training across rounds. The tfjs ${backend.name} backend runs on ${/1 thread/.test(backend.detail) ? 'ONE thread under Node' : backend.detail}`,
      `while PyTorch uses ${TORCH_THREADS}. The per-kernel table uses \`tf.profile\`, whose kernelTimeMs on wasm is the synchronous`,
      'wall time of each kernel call. Other processes were running on this shared machine during the run (load average above),',
      'so absolute numbers are noisy; the interleaving is meant to keep the ratios fair.',
      leaked !== 0 ? `Tensor count changed by ${leaked} over the run (expected 0).` : 'No tensors leaked over the run.',
    ].join('\n'),
    '',
  );
  return out;
}

/** Writes the report to `file` followed by the marked blocks it already holds, and prints it. */
export function writeReport(file: string, out: string[]): void {
  // sections 7 and on come from the long measurements (bench:fidelity, bench:winner): kept as they are
  const kept = existingSections(file);
  const text = out.join('\n') + kept.map((k) => `\n${k}\n`).join('');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(text);
}

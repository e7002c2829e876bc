/**
 * What the sections of `npm run bench` share: the setting of every training measurement, the
 * log line, number formatting, markdown tables, random batches and a step-by-step trainer.
 */
import { performance } from 'node:perf_hooks';
import { Model } from '../evaluators/compile.js';
import { AdamW, DEFAULT_ADAMW } from '../evaluators/optimizer.js';
import type { Batch } from '../evaluators/tasks/batching.js';
import { trainStep } from '../evaluators/train.js';
import { Rng } from '../spaces/base/rng.js';
import type { BackboneGenome } from '../spaces/types.js';

export const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// shared settings

export const SEQ = 64;
export const BATCH = 32;
export const VOCAB = 8192;
export const CLASSES = 2;
export const LR = 1e-3;
export const TORCH_THREADS = 2;
export const TOKENS_PER_STEP = BATCH * SEQ;

/** The Python that runs the PyTorch reference (bench/torch_bert.py). */
export const PYTHON = '/usr/bin/python3';

// ---------------------------------------------------------------------------------------------
// small helpers

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
export const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
export const pct = (x: number, d = 1) => (Number.isFinite(x) ? `${(100 * x).toFixed(d)}%` : 'n/a');

export function table(head: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const al = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  const lines = [`| ${head.join(' | ')} |`, `|${al.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

/** Random full-length batches (no padding): ids in [4, vocab), labels in {0, 1}. */
export function randomBatches(n: number, seed: number): Batch[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const ids = new Int32Array(BATCH * SEQ);
    for (let i = 0; i < ids.length; i++) ids[i] = 4 + rng.int(VOCAB - 4);
    const labels = Int32Array.from({ length: BATCH }, () => rng.int(CLASSES));
    return { ids, mask: new Float32Array(BATCH * SEQ).fill(1), labels, indices: Int32Array.from({ length: BATCH }, (_, i) => i), batchSize: BATCH, seqLen: SEQ };
  });
}

/** A model, its optimizer and a few batches, trained step by step. */
export class Trainer {
  readonly model: Model;
  readonly opt: AdamW;
  readonly batches = randomBatches(4, 1);
  private next = 0;
  lastLoss = NaN;

  constructor(readonly genome: BackboneGenome) {
    this.model = new Model(genome, { vocabSize: VOCAB, maxLen: SEQ, numClasses: CLASSES }, new Rng(0));
    this.opt = new AdamW(this.model.params, DEFAULT_ADAMW);
  }

  /** One optimizer step with the loss read back (a sync point). */
  step(): number {
    const loss = trainStep(this.model, this.opt, this.batches[this.next++ % this.batches.length], LR);
    this.lastLoss = loss.dataSync()[0];
    loss.dispose();
    return this.lastLoss;
  }

  /** `warmup` untimed steps, then `steps` timed ones; tokens/s of the timed steps. */
  measure(steps: number, warmup: number): { tokensPerSecond: number; msPerStep: number } {
    for (let i = 0; i < warmup; i++) this.step();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) this.step();
    const ms = performance.now() - t0;
    if (!Number.isFinite(this.lastLoss)) throw new Error(`loss is ${this.lastLoss}`);
    return { tokensPerSecond: (TOKENS_PER_STEP * steps * 1000) / ms, msPerStep: ms / steps };
  }

  dispose(): void {
    this.opt.dispose();
    this.model.dispose();
  }
}

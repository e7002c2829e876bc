/**
 * Micro-batching of encoded sequences.
 *
 * Bucketed (the default; the length-grouping idea of response-length-aware micro-batching,
 * arXiv 2305.13144): the examples are shuffled, cut into large chunks (`chunkBatches` batches
 * each), each chunk is sorted by length and cut into batches, and the order of all batches is then
 * shuffled. A batch is padded only to its own longest sequence (rounded up to `padMultiple`, never
 * past maxLen), so little compute goes to padding, while the chunking keeps batches random.
 * Unbucketed (the naive baseline): shuffled batches padded to maxLen.
 *
 * Everything is a function of the rng: the same rng state gives the same batches.
 */
import { Rng, type RngState } from '../../spaces/base/rng.js';

export interface Batch {
  /** Token ids, batchSize × seqLen, row-major; PAD (0) after each sequence's end. */
  ids: Int32Array;
  /** 1 for real tokens, 0 for padding; batchSize × seqLen. */
  mask: Float32Array;
  labels: Int32Array;
  /** Index of each row's example in the input arrays (to put predictions back in order). */
  indices: Int32Array;
  batchSize: number;
  seqLen: number;
}

export interface BatchOptions {
  batchSize: number;
  maxLen: number;
  /** Group examples of similar length (default true). */
  bucket?: boolean;
  /** Pad every batch to maxLen rather than to its longest sequence (default: !bucket). */
  padToMaxLen?: boolean;
  /** Round each batch's length up to a multiple of this (default 1: no rounding; 8 suits GPU kernels), capped at maxLen. */
  padMultiple?: number;
  /** Batches per sorted chunk when bucketing (default 64). */
  chunkBatches?: number;
  /** Drop a final batch smaller than batchSize (default false). */
  dropLast?: boolean;
}

/** A batch before its tensors are filled: which examples, padded to what length. */
export interface BatchPlan {
  indices: Int32Array;
  seqLen: number;
}

function checkOptions(o: BatchOptions): Required<BatchOptions> {
  const bucket = o.bucket ?? true;
  const r: Required<BatchOptions> = {
    batchSize: o.batchSize,
    maxLen: o.maxLen,
    bucket,
    padToMaxLen: o.padToMaxLen ?? !bucket,
    padMultiple: o.padMultiple ?? 1,
    chunkBatches: o.chunkBatches ?? 64,
    dropLast: o.dropLast ?? false,
  };
  for (const k of ['batchSize', 'maxLen', 'padMultiple', 'chunkBatches'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new RangeError(`batching: ${k} must be an integer >= 1, got ${r[k]}`);
  }
  return r;
}

/** Length a batch whose longest sequence has `longest` tokens is padded to. */
export function paddedLength(longest: number, o: BatchOptions): number {
  const r = checkOptions(o);
  if (r.padToMaxLen) return r.maxLen;
  const m = r.padMultiple;
  return Math.min(r.maxLen, Math.max(1, Math.ceil(longest / m) * m));
}

/** Decide the batches of one epoch (consumes draws from rng). */
export function planBatches(lengths: ArrayLike<number>, opts: BatchOptions, rng: Rng): BatchPlan[] {
  const o = checkOptions(opts);
  const n = lengths.length;
  for (let i = 0; i < n; i++) {
    if (lengths[i] > o.maxLen) throw new RangeError(`batching: sequence ${i} has ${lengths[i]} tokens, more than maxLen ${o.maxLen}`);
  }
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const groups: number[][] = [];
  if (o.bucket) {
    const chunk = o.batchSize * o.chunkBatches;
    for (let s = 0; s < n; s += chunk) {
      // Array.prototype.sort is stable, so equal lengths keep their shuffled order.
      const part = order.slice(s, s + chunk).sort((a, b) => lengths[a] - lengths[b]);
      for (let b = 0; b < part.length; b += o.batchSize) groups.push(part.slice(b, b + o.batchSize));
    }
    // A chunk's short remainder batch would otherwise always hold its longest examples.
    rng.shuffle(groups);
  } else {
    for (let b = 0; b < n; b += o.batchSize) groups.push(order.slice(b, b + o.batchSize));
  }
  const kept = o.dropLast ? groups.filter((g) => g.length === o.batchSize) : groups;
  return kept.map((g) => {
    let longest = 0;
    for (const i of g) longest = Math.max(longest, lengths[i]);
    return { indices: Int32Array.from(g), seqLen: paddedLength(longest, o) };
  });
}

/** Fill a batch's tensors from its plan. */
export function materialize(plan: BatchPlan, seqs: readonly Int32Array[], labels: ArrayLike<number>): Batch {
  const B = plan.indices.length;
  const T = plan.seqLen;
  const ids = new Int32Array(B * T); // zeros: PAD is 0
  const mask = new Float32Array(B * T);
  const lab = new Int32Array(B);
  for (let r = 0; r < B; r++) {
    const i = plan.indices[r];
    const s = seqs[i];
    if (s.length > T) throw new RangeError(`batching: sequence ${i} has ${s.length} tokens, more than the batch length ${T}`);
    ids.set(s, r * T);
    mask.fill(1, r * T, r * T + s.length);
    lab[r] = labels[i];
  }
  return { ids, mask, labels: lab, indices: Int32Array.from(plan.indices), batchSize: B, seqLen: T };
}

/** One epoch of batches. */
export function makeBatches(
  seqs: readonly Int32Array[],
  labels: ArrayLike<number>,
  opts: BatchOptions & { rng: Rng },
): Batch[] {
  if (seqs.length !== labels.length) throw new RangeError(`batching: ${seqs.length} sequences but ${labels.length} labels`);
  return planBatches(lengthsOf(seqs), opts, opts.rng).map((p) => materialize(p, seqs, labels));
}

/**
 * Batches for scoring: every example once, in length order (no rng), padded per batch. Use
 * `batch.indices` to put predictions back in the split's order.
 */
export function evalBatches(
  seqs: readonly Int32Array[],
  labels: ArrayLike<number>,
  opts: { batchSize: number; maxLen: number; padMultiple?: number },
): Batch[] {
  const o = checkOptions({ ...opts, bucket: true });
  const lengths = lengthsOf(seqs);
  const order = Array.from({ length: seqs.length }, (_, i) => i).sort((a, b) => lengths[a] - lengths[b]);
  const out: Batch[] = [];
  for (let b = 0; b < order.length; b += o.batchSize) {
    const g = order.slice(b, b + o.batchSize);
    const longest = lengths[g[g.length - 1]];
    if (longest > o.maxLen) throw new RangeError(`batching: a sequence has ${longest} tokens, more than maxLen ${o.maxLen}`);
    out.push(materialize({ indices: Int32Array.from(g), seqLen: paddedLength(longest, o) }, seqs, labels));
  }
  return out;
}

/** Padding tokens / all tokens (B·T summed over the batches). */
export function paddingFraction(batches: Iterable<Pick<Batch, 'mask'>>): number {
  let all = 0;
  let real = 0;
  for (const b of batches) {
    all += b.mask.length;
    for (let i = 0; i < b.mask.length; i++) real += b.mask[i];
  }
  return all === 0 ? 0 : (all - real) / all;
}

function lengthsOf(seqs: readonly Int32Array[]): Int32Array {
  return Int32Array.from(seqs, (s) => s.length);
}

/** Where a BatchIterator stands: enough to continue with exactly the same batches. */
export interface BatchIteratorState {
  /** Current epoch, 0-based. */
  epoch: number;
  /** Batches of this epoch already handed out. */
  position: number;
  /** Rng state before this epoch's batches were planned. */
  rng: RngState;
}

/**
 * Endless training batches, epoch after epoch, each epoch re-planned with the iterator's own rng.
 * `state()` can be saved at any point and `BatchIterator.restore` continues from it exactly.
 */
export class BatchIterator {
  private rng: Rng;
  private epochStart: RngState;
  private plans: BatchPlan[];
  private _epoch = 0;
  private _position = 0;

  constructor(
    private readonly seqs: readonly Int32Array[],
    private readonly labels: ArrayLike<number>,
    private readonly opts: BatchOptions,
    seed: number | string | { state: BatchIteratorState },
  ) {
    if (seqs.length !== labels.length) throw new RangeError(`batching: ${seqs.length} sequences but ${labels.length} labels`);
    if (seqs.length === 0) throw new RangeError('batching: no sequences');
    if (typeof seed === 'object') {
      this.rng = Rng.fromState(seed.state.rng);
      this._epoch = seed.state.epoch;
      this._position = seed.state.position;
    } else {
      this.rng = new Rng(seed);
    }
    this.epochStart = this.rng.state();
    this.plans = planBatches(lengthsOf(seqs), opts, this.rng);
    if (this.plans.length === 0) throw new RangeError('batching: fewer examples than one batch with dropLast');
    if (this._position > this.plans.length) {
      throw new RangeError(`batching: saved position ${this._position} is past the epoch's ${this.plans.length} batches`);
    }
  }

  static restore(
    seqs: readonly Int32Array[],
    labels: ArrayLike<number>,
    opts: BatchOptions,
    state: BatchIteratorState,
  ): BatchIterator {
    return new BatchIterator(seqs, labels, opts, { state });
  }

  get epoch(): number {
    return this._epoch;
  }

  get position(): number {
    return this._position;
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    return this.plans.length;
  }

  next(): Batch {
    if (this._position >= this.plans.length) {
      this._epoch++;
      this._position = 0;
      this.epochStart = this.rng.state();
      this.plans = planBatches(lengthsOf(this.seqs), this.opts, this.rng);
    }
    return materialize(this.plans[this._position++], this.seqs, this.labels);
  }

  state(): BatchIteratorState {
    return { epoch: this._epoch, position: this._position, rng: structuredClone(this.epochStart) };
  }
}

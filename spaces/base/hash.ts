import { createHash } from 'node:crypto';

/**
 * Functional fingerprints: a genome is evaluated on a fixed pseudo-random input (plain float64
 * JS, no tensors) and its rounded output is hashed, so functionally equal genomes
 * (add(Q,K) vs add(K,Q), neg(neg(x)) vs x) share an id. EfficientBERT dedupes FFN candidates the
 * same way. The inputs come from a fixed-seed generator, so ids are stable across processes.
 */

/** Round to `digits` significant digits; -0 and tiny noise collapse to 0. */
export function roundSig(x: number, digits = 6): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (Math.abs(x) < 1e-9) return '0';
  return x.toPrecision(digits);
}

export function fingerprint(values: ArrayLike<number>, digits = 6): string {
  const parts: string[] = [];
  for (let i = 0; i < values.length; i++) parts.push(roundSig(values[i], digits));
  return parts.join(',');
}

/** Short stable hex id of any number of string parts. */
export function hashId(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p);
    h.update('\u0000');
  }
  return h.digest('hex').slice(0, 16);
}

/** Deterministic pseudo-random matrix (rows x cols) for fingerprint inputs; mulberry32 stream. */
export function fixedMatrix(seed: number, rows: number, cols: number): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = u * 2 - 1;
  }
  return out;
}

import seedrandom from 'seedrandom';

/** Saved generator state: enough to continue the exact same stream after a resume. */
export type RngState = object;

/**
 * The one source of randomness in opnas. Every random draw takes an explicit Rng so a run's
 * seed and generator state can be saved and restored (ARC4 via seedrandom, which exposes its state).
 */
export class Rng {
  private gen: seedrandom.PRNG & { state(): RngState };

  constructor(seed: number | string, state?: RngState) {
    // seedrandom accepts a saved state object in place of `true`; its typings only know booleans
    const options = { state: state ?? true } as unknown as Parameters<typeof seedrandom>[1];
    this.gen = seedrandom(String(seed), options) as unknown as seedrandom.PRNG & { state(): RngState };
  }

  static fromState(state: RngState): Rng {
    return new Rng('restored', state);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.gen.double();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new RangeError(`Rng.int: n must be >= 1, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.choice: empty list');
    return items[this.int(items.length)];
  }

  /** Draw an index with probability proportional to weights (all >= 0, not all 0). */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((a, b) => a + b, 0);
    if (!(total > 0)) return this.int(weights.length);
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A child generator whose stream is fixed by this one's next draw (for per-candidate seeds). */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 2 ** 52));
  }

  state(): RngState {
    return this.gen.state();
  }
}

/** Deterministic 32-bit seed from a string (FNV-1a), e.g. run seed + genome id. */
export function seedFrom(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('\u0000')) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

import type { Rng } from './base/rng.js';
import type { PoolKind } from './types.js';

/**
 * Macro choices: depth, hidden width, heads. AutoTinyBERT searches layers 1-8 and hidden 128-768 on
 * a grid; Bamboo (arXiv 2205.10505) finds deeper-narrower often wins at equal parameters. The
 * defaults are a CPU-sized slice of that grid; every range is an option of the backbone space.
 */
export interface MacroRanges {
  /** Inclusive range of encoder layers. */
  layers: [number, number];
  /** Hidden widths to choose from. */
  hidden: number[];
  /** Attention heads to choose from (a width is only paired with heads that divide it). */
  heads: number[];
  /** Probability that a sampled layer uses the convolution mixer instead of an attention graph. */
  convProbability: number;
  /** Sequence readouts to choose from (default: ['cls'], BERT's). */
  pool?: PoolKind[];
  /** Factorised embedding widths to choose from besides the full width (default: none). */
  embed?: number[];
}

export const DEFAULT_MACRO: MacroRanges = {
  layers: [1, 4],
  hidden: [64, 128, 192, 256],
  heads: [1, 2, 4],
  convProbability: 0.3,
};

/** AutoTinyBERT's full grid, for users with a GPU. */
export const WIDE_MACRO: MacroRanges = {
  layers: [1, 8],
  hidden: [128, 192, 256, 320, 384, 448, 512, 576, 640, 704, 768],
  heads: [1, 2, 4, 8, 12],
  convProbability: 0.3,
};

/** Draw the readout and embedding width (absent fields are BERT's: [CLS], a full-width table). */
export function sampleHead(rng: Rng, r: MacroRanges, hidden: number): { pool?: PoolKind; embed?: number } {
  const pools: PoolKind[] = r.pool?.length ? r.pool : ['cls'];
  const embeds = [hidden, ...(r.embed ?? []).filter((e) => e < hidden)];
  const pool = rng.choice(pools);
  const embed = rng.choice(embeds);
  return { ...(pool !== 'cls' ? { pool } : {}), ...(embed !== hidden ? { embed } : {}) };
}

export function headsFor(hidden: number, r: MacroRanges): number[] {
  return r.heads.filter((h) => hidden % h === 0 && hidden / h >= 8);
}

export function sampleWidth(rng: Rng, r: MacroRanges): { hidden: number; heads: number } {
  const hidden = rng.choice(r.hidden);
  const heads = headsFor(hidden, r);
  return { hidden, heads: heads.length ? rng.choice(heads) : 1 };
}

/** Problems with a hidden/heads pair, whatever the ranges (the ranges only steer sampling). */
export function checkWidth(hidden: unknown, heads: unknown): string[] {
  const errors: string[] = [];
  if (!Number.isInteger(hidden) || (hidden as number) < 8 || (hidden as number) > 4096)
    errors.push(`hidden: must be an integer in 8..4096, got ${JSON.stringify(hidden)}`);
  if (!Number.isInteger(heads) || (heads as number) < 1 || (heads as number) > 64)
    errors.push(`heads: must be an integer in 1..64, got ${JSON.stringify(heads)}`);
  if (!errors.length && (hidden as number) % (heads as number) !== 0)
    errors.push(`heads: ${heads} does not divide hidden ${hidden}`);
  return errors;
}

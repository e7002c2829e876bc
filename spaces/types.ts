import type { Rng } from './base/rng.js';
import type { Cost, Shape } from './base/types.js';

// the sizes and costs every layer shares live in the base layer
export { DEFAULT_SHAPE, type Cost, type Shape } from './base/types.js';

/** Per-op weights that steer which op a mutation inserts or replaces (operation priority). */
export type OpPriority = Readonly<Record<string, number>>;

export interface CheckResult<G> {
  genome?: G;
  errors: string[];
}

export interface SearchSpace<G> {
  name: string;
  description: string;
  sample(rng: Rng): G;
  mutate(g: G, rng: Rng, opts?: MutateOptions): G;
  /** Validate unknown input; collect every problem; never throws. */
  check(x: unknown): CheckResult<G>;
  /** Stable hash: equal for functionally equal genomes, stable across processes. */
  id(g: G): string;
  /** Human-readable formula. */
  render(g: G): string;
  cost(g: G, shape?: Shape): Cost;
  /** The primitive ops a genome uses (for operation-priority statistics). */
  ops(g: G): string[];
  /** Every op a mutation can draw from. */
  opSet(): string[];
  /** Known-good genomes a seeded search starts its population from (the textbook point first). */
  seeds?(): G[];
  /**
   * The genome's family, for spreading the final stage's few slots over families (the backbone
   * space: 'attention', 'conv' or 'hybrid' by its token mixers). Spaces without families leave it out.
   */
  family?(g: G): string;
  /**
   * Coarse-to-fine search (EfficientBERT): the blocks are searched first at one fixed macro shape
   * (depth, width, heads, FFN ratio, readout), then the macro around the best blocks. Spaces
   * without a macro shape leave it out, and the coarse-to-fine strategy refuses them.
   */
  coarse?: {
    /** A random genome at the fixed shape. */
    sample(rng: Rng): G;
    /** The genome's blocks at the fixed shape. */
    project(g: G): G;
    /** The fixed shape, in words. */
    describe: string;
  };
}

/**
 * What a mutation may change: everything; only the blocks (attention graphs, mixer kinds, FFN
 * trees and stacks), keeping the macro shape; or only the macro shape (depth, width, heads, FFN
 * ratios, readout, embedding), keeping the blocks.
 */
export type MutationScope = 'all' | 'blocks' | 'macro';

export interface MutateOptions {
  priority?: OpPriority;
  scope?: MutationScope;
}

// ---- attention as a graph of primitive ops (AutoBERT-Zero intra-layer space) ----

/** An input of the graph ('Q', 'K', 'V': per-head projections) or the index of an earlier node. */
export type AttnRef = 'Q' | 'K' | 'V' | number;

export interface AttnNode {
  op: string;
  in: AttnRef[];
}

/** 'none' | 'no-diagonal' | 'band:W' (keep |i-j| <= W) | 'dam' (learnt, SparseBERT). Applied to [T,T] scores before softmax. */
export type MaskSpec = string;

export interface AttentionGraph {
  /** Nodes in topological order; the last node is the output. */
  nodes: AttnNode[];
  mask?: MaskSpec;
  /**
   * Primer's multi-dconv-head attention (arXiv 2109.08668): a depthwise convolution of width 3 over
   * the sequence after each Q, K, V projection (a filter per channel, so per head).
   */
  dconv?: boolean;
}

// ---- feed-forward as an expression tree (EfficientBERT) ----

export interface FfnNode {
  op: string;
  in?: FfnNode[];
}

export interface FfnGenome {
  tree: FfnNode;
  /** How many FFNs (each with its own residual and LayerNorm) are stacked in the layer: 1..4. */
  stack: number;
  /** Expansion ratio r: L1 maps d -> r*d. */
  ratio: number;
}

// ---- token mixer per layer ----

export type MixerGenome =
  | { type: 'attention'; graph: AttentionGraph }
  | { type: 'conv'; kernel: number };

export interface LayerGenome {
  mixer: MixerGenome;
  ffn: FfnGenome;
}

export const GENOME_VERSION = 1;

/** A whole BERT-style encoder: macro choices plus one mixer and FFN per layer. */
export interface BackboneGenome {
  version: number;
  space: 'backbone';
  hidden: number;
  heads: number;
  layers: LayerGenome[];
  /**
   * How the classifier reads the sequence: 'cls' (BERT: the first token's state, the default),
   * 'mean' (the average of the real tokens' states, as sentence encoders do) or 'max' (the
   * per-channel maximum over real tokens, as in Kim's 2014 CNN for sentence classification).
   */
  pool?: PoolKind;
  /**
   * Width of the token embedding table when it is factorised (ALBERT, arXiv 1909.11942): tokens
   * are looked up at this width and projected to `hidden`. Absent: the table is `hidden` wide.
   * Most of a small model's parameters sit in that table (1.05M of bert-tiny's 1.47M).
   */
  embed?: number;
}

export const POOL_KINDS = ['cls', 'mean', 'max'] as const;
export type PoolKind = (typeof POOL_KINDS)[number];

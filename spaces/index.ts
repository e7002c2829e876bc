export * from './types.js';
export { attentionSpace, STANDARD_ATTENTION, parseAttentionFormula, renderAttention } from './attention-graph.js';
export { ffnSpace, STANDARD_FFN, parseFfnFormula, renderFfn } from './ffn-tree.js';
export { backboneSpace, BASELINES, bertBaseline, backboneCost } from './backbone.js';
export { DEFAULT_MACRO, WIDE_MACRO, type MacroRanges } from './macro.js';
export { nb201Space, type Nb201Genome, toArchString, parseArchString } from './nb201.js';
export { SPACES, getSpace, readGenomeFile } from './registry.js';
export { ATTN_OPS } from './ops.js';
export { OpnasError, ValidationError } from './base/errors.js';

/** Tasks: loading, tokenising, batching and scoring classification data. */
export * from './load.js';
export * from './named.js';
export * from './tokenizer.js';
export * from './batching.js';
export * from './metrics.js';

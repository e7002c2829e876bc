import type { BackboneGenome } from './types.js';

/**
 * A backbone genome's family by its token mixers: 'attention' when every layer mixes tokens by
 * attention, 'conv' when every layer convolves, else 'hybrid'. Kept apart from backbone.ts (which
 * loads the op tables and TF.js) so the commands that only read runs can name families.
 */
export function backboneFamily(g: Pick<BackboneGenome, 'layers'>): 'attention' | 'conv' | 'hybrid' {
  const kinds = new Set(g.layers.map((l) => l.mixer.type));
  return kinds.size > 1 ? 'hybrid' : kinds.has('conv') ? 'conv' : 'attention';
}

/**
 * The backbone space's known-good references by name (`REFERENCES` in backbone.ts builds each one;
 * the final stage's `references` lists which it trains). Here, free of TF.js, so the CLI can check
 * names without loading it.
 */
export const REFERENCE_NAMES = ['conv', 'hybrid', 'deep'] as const;
export type ReferenceName = (typeof REFERENCE_NAMES)[number];

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

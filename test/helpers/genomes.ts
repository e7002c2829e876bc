import { BASELINES } from '../../spaces/backbone.js';
import type { BackboneGenome } from '../../spaces/types.js';

/** bert-tiny's layer stacked `layers` times at width `hidden`, 2 heads (sizes for latency tests). */
export function stackedBaseline(layers: number, hidden: number): BackboneGenome {
  const g = structuredClone(BASELINES['bert-tiny']);
  g.hidden = hidden;
  g.heads = 2;
  g.layers = Array.from({ length: layers }, () => structuredClone(BASELINES['bert-tiny'].layers[0]));
  return g;
}

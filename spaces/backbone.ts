import type { Rng } from './base/rng.js';
import {
  attentionCost,
  attentionId,
  checkAttention,
  isObj,
  mutateAttention,
  renderAttention,
  sampleAttention,
  STANDARD_ATTENTION,
  typeName,
} from './attention-graph.js';
import { checkConv, convCost, mutateConv, renderConv, sampleConv } from './conv.js';
import { checkFfn, ffnCost, ffnSpace, FFN_RATIOS, mutateFfn, parseFfnFormula, STANDARD_FFN } from './ffn-tree.js';
import { hashId } from './base/hash.js';
import { ATTN_OPS } from './ops.js';
import { backboneFamily, type ReferenceName } from './family.js';
import { checkWidth, DEFAULT_MACRO, headsFor, type MacroRanges, sampleHead, sampleWidth } from './macro.js';
import {
  type BackboneGenome,
  type CheckResult,
  type Cost,
  DEFAULT_SHAPE,
  GENOME_VERSION,
  type LayerGenome,
  type MixerGenome,
  type MutationScope,
  type OpPriority,
  POOL_KINDS,
  type PoolKind,
  type SearchSpace,
  type Shape,
} from './types.js';

/**
 * A whole BERT-style encoder: macro (depth, width, heads) plus, per layer, a token mixer (an
 * attention graph or a lightweight convolution: AutoBERT-Zero's inter-layer choice) and a stack of
 * FFN expression trees (EfficientBERT). Op names are prefixed `attn.` / `ffn.` in `ops()` so the
 * operation-priority statistics of the two spaces don't mix.
 */

export function mixerId(m: MixerGenome): string {
  return m.type === 'conv' ? `conv:${m.kernel}` : attentionId(m.graph);
}

export function renderMixer(m: MixerGenome): string {
  return m.type === 'conv' ? renderConv(m) : renderAttention(m.graph);
}

function standardLayer(): LayerGenome {
  return { mixer: { type: 'attention', graph: structuredClone(STANDARD_ATTENTION) }, ffn: structuredClone(STANDARD_FFN) };
}

function randomLayer(rng: Rng, r: MacroRanges): LayerGenome {
  const mixer: MixerGenome = rng.bool(r.convProbability) ? sampleConv(rng) : { type: 'attention', graph: sampleAttention(rng) };
  return { mixer, ffn: ffnSpace.sample(rng) };
}

/** The textbook BERT layer at a given size: standard attention, L2(gelu(L1(x))), ratio 4. */
export function bertBaseline(layers: number, hidden: number, heads: number): BackboneGenome {
  return { version: GENOME_VERSION, space: 'backbone', hidden, heads, layers: Array.from({ length: layers }, standardLayer) };
}

/**
 * The textbook layer at a search's widths: its deepest depth and widest width, one head per 64
 * channels as in BERT (Turc et al. 2019). With the default ranges this is bert-tiny.
 */
export function referenceBaseline(r: MacroRanges): BackboneGenome {
  const hidden = Math.max(...r.hidden);
  return bertBaseline(r.layers[1], hidden, Math.max(1, Math.floor(hidden / 64)));
}

/**
 * The convolution-only reference at the run's widths: every token mixer a lightweight convolution
 * (kernels 3 then 7), the most heads the ranges allow (one kernel per head: 8 by default), the
 * textbook FFNs, read out by max-pooling over the sequence as Kim's (2014) CNN for sentence
 * classification does (mean pooling where the ranges offer no max). Trained alone on SST-2 it beat
 * bert-tiny by 1.22 test points over 3 seeds (README, bench/RESULTS.md). Undefined when the ranges
 * offer neither readout or no head count fits the width.
 */
export function convReference(r: MacroRanges): BackboneGenome | undefined {
  const base = referenceBaseline(r);
  const pool = r.pool?.includes('max') ? 'max' : r.pool?.includes('mean') ? 'mean' : undefined;
  const heads = headsFor(base.hidden, r);
  if (!pool || !heads.length) return undefined;
  return { ...base, heads: Math.max(...heads), pool, layers: base.layers.map((l, i) => ({ ...structuredClone(l), mixer: { type: 'conv', kernel: i === 0 ? 3 : 7 } })) };
}

/**
 * The hybrid reference at the run's widths: the textbook layer with its first token mixer a
 * lightweight convolution of kernel 3 (AutoBERT-Zero found convolution in the lower layers and
 * attention above it; arXiv 2107.07445), everything else as the baseline. Trained alone on TREC it
 * beat bert-tiny by 1.13 test points over 3 seeds, with fewer parameters; on SST-2 it won on dev but
 * not on test, so the final stage trains it only when asked (README, bench/RESULTS.md). Undefined
 * for one-layer ranges.
 */
export function hybridReference(r: MacroRanges): BackboneGenome | undefined {
  const base = referenceBaseline(r);
  if (base.layers.length < 2) return undefined;
  base.layers[0].mixer = { type: 'conv', kernel: 3 };
  return base;
}

/**
 * The deep reference at the run's widths: two lightweight convolutions (kernels 3 then 7, as in
 * the convolution-only reference) in place of the baseline's first layer, below its remaining attention layers,
 * with every FFN at half the baseline's ratio so the extra layer costs no parameters (deeper and
 * narrower, as Bamboo argues; convolution below attention, as AutoBERT-Zero found). The conv
 * reference's heads and readout (8 heads, max pooling by default). At the default widths: 3 layers,
 * FFN ratio 2, 1.44M parameters against bert-tiny's 1.47M. Trained alone on TREC it beat bert-tiny
 * by 1.20 test points over 3 seeds (dev +1.28); on SST-2 its dev score is below the conv
 * reference's and bert-tiny's (README, bench/RESULTS.md). Undefined where the conv reference is, or
 * for one-layer ranges.
 */
export function deepReference(r: MacroRanges): BackboneGenome | undefined {
  const conv = convReference(r);
  const base = referenceBaseline(r);
  if (!conv || base.layers.length < 2) return undefined;
  const ratio = Math.max(1, Math.floor(STANDARD_FFN.ratio / 2));
  const convs: MixerGenome[] = [3, 7].map((kernel) => ({ type: 'conv', kernel }));
  // the baseline is built afresh here (standardLayer clones), so its mixers are taken, not copied
  const layers = [...convs, ...base.layers.slice(1).map((l) => l.mixer)].map((mixer) => ({ mixer, ffn: { ...structuredClone(STANDARD_FFN), ratio } }));
  return { ...conv, layers };
}

/** The final stage's known-good references by name: `FinalConfig.references` lists which, in the order they are trained. */
export const REFERENCES: Record<ReferenceName, (r: MacroRanges) => BackboneGenome | undefined> = { conv: convReference, hybrid: hybridReference, deep: deepReference };

/**
 * Known-good starting points for a seeded search, all inside the ranges: the textbook layer at the
 * run's widths first, then variants of it that the papers (and opnas's own measurements, see the
 * README) found to help small models: AutoBERT-Zero's alternation of lightweight convolution and
 * attention, Primer's squared-ReLU FFN, and a mean-pooled readout and a factorised embedding
 * (ALBERT) where the ranges offer them; last, the convolution-only reference (`convReference`).
 */
export function knownGood(r: MacroRanges): BackboneGenome[] {
  const base = referenceBaseline(r);
  const out: BackboneGenome[] = [base];
  const variant = (f: (g: BackboneGenome) => void) => {
    const g = structuredClone(base);
    f(g);
    out.push(g);
  };
  const kernel = 7;
  const conv = (): MixerGenome => ({ type: 'conv', kernel });
  const pool = r.pool?.includes('mean') ? 'mean' : r.pool?.includes('max') ? 'max' : undefined;
  const embed = (r.embed ?? []).filter((e) => e < base.hidden).sort((a, b) => b - a)[0];
  const head = (g: BackboneGenome) => {
    if (pool) g.pool = pool;
    if (embed) g.embed = embed;
  };
  if (pool || embed) variant(head);
  if (base.layers.length >= 2) variant((g) => (head(g), (g.layers[0].mixer = conv())));
  variant((g) => (head(g), g.layers.forEach((l) => (l.ffn = { ...l.ffn, tree: parseFfnFormula('L2(squared_relu(L1(x)))') }))));
  const ref = convReference(r);
  if (ref) out.push(ref);
  const heads = new Set(r.heads);
  return out.filter((g) => heads.has(g.heads) && g.layers.length >= r.layers[0] && g.layers.length <= r.layers[1]);
}

export { backboneFamily } from './family.js';

/** Named baselines (sizes from Turc et al. 2019, "Well-Read Students Learn Better"). */
export const BASELINES: Record<string, BackboneGenome> = {
  'bert-tiny': bertBaseline(2, 128, 2),
  'bert-mini': bertBaseline(4, 256, 4),
  'bert-small': bertBaseline(4, 512, 8),
};

export function checkBackbone(x: unknown): CheckResult<BackboneGenome> {
  if (!isObj(x)) return { errors: [`genome: expected an object, got ${typeName(x)}`] };
  const errors: string[] = [];
  if (x.version !== undefined && x.version !== GENOME_VERSION)
    errors.push(`version: ${JSON.stringify(x.version)} is not supported (this opnas reads version ${GENOME_VERSION})`);
  if (x.space !== undefined && x.space !== 'backbone') errors.push(`space: expected 'backbone', got ${JSON.stringify(x.space)}`);
  errors.push(...checkWidth(x.hidden, x.heads));
  if (!Array.isArray(x.layers) || x.layers.length === 0) {
    errors.push(`layers: expected a non-empty array of {mixer, ffn}, got ${typeName(x.layers)}`);
    return { errors };
  }
  if (x.layers.length > 48) errors.push(`layers: ${x.layers.length} layers exceed the maximum 48`);
  const layers: LayerGenome[] = [];
  x.layers.forEach((l: unknown, i: number) => {
    const at = `layers[${i}]`;
    if (!isObj(l)) return void errors.push(`${at}: expected {mixer, ffn}, got ${typeName(l)}`);
    let mixer: MixerGenome | undefined;
    const m = l.mixer;
    if (!isObj(m)) errors.push(`${at}.mixer: expected {type: 'attention', graph} or {type: 'conv', kernel}, got ${typeName(m)}`);
    else if (m.type === 'conv') {
      const e = checkConv(m, `${at}.mixer`);
      if (e.length) errors.push(...e);
      else mixer = { type: 'conv', kernel: m.kernel as number };
    } else if (m.type === 'attention') {
      const r = checkAttention(m.graph ?? m.formula, `${at}.mixer.graph`);
      errors.push(...r.errors);
      if (r.genome) mixer = { type: 'attention', graph: r.genome };
    } else errors.push(`${at}.mixer.type: expected 'attention' or 'conv', got ${JSON.stringify(m.type)}`);
    const f = checkFfn(l.ffn, `${at}.ffn`);
    errors.push(...f.errors);
    if (mixer && f.genome) layers.push({ mixer, ffn: f.genome });
  });
  if (x.pool !== undefined && !(POOL_KINDS as readonly unknown[]).includes(x.pool))
    errors.push(`pool: expected one of ${POOL_KINDS.join(', ')}, got ${JSON.stringify(x.pool)}`);
  if (x.embed !== undefined && (!Number.isInteger(x.embed) || (x.embed as number) < 1 || (Number.isInteger(x.hidden) && (x.embed as number) > (x.hidden as number))))
    errors.push(`embed: the factorised embedding width must be an integer in 1..hidden, got ${JSON.stringify(x.embed)}`);
  if (errors.length) return { errors };
  const pool = x.pool !== undefined && x.pool !== 'cls' ? { pool: x.pool as PoolKind } : {};
  // a table as wide as the model is the unfactorised one
  const embed = x.embed !== undefined && x.embed !== x.hidden ? { embed: x.embed as number } : {};
  return { genome: { version: GENOME_VERSION, space: 'backbone', hidden: x.hidden as number, heads: x.heads as number, layers, ...pool, ...embed }, errors };
}

export function backboneCost(g: BackboneGenome, shape: Shape = DEFAULT_SHAPE): Cost {
  const d = g.hidden;
  const T = shape.seqLen;
  // token embeddings (factorised: a narrower table and a projection), positions, their LayerNorm
  const e = g.embed ?? d;
  let params = shape.vocabSize * e + (e !== d ? e * d + d : 0) + T * d + 2 * d;
  let flops = e !== d ? 2 * e * d : 0;
  for (const l of g.layers) {
    const mix = l.mixer.type === 'conv' ? convCost(l.mixer.kernel, d, g.heads, T) : attentionCost(l.mixer.graph, d, g.heads, T);
    const ffn = ffnCost(l.ffn, d);
    params += mix.params + 2 * d + ffn.params;
    flops += mix.flops + ffn.flops + 10 * d;
  }
  // pooler (tanh dense on [CLS]) and classifier
  params += d * d + d + d * shape.numClasses + shape.numClasses;
  flops += (2 * d * d + 2 * d * shape.numClasses) / T;
  return { params, flops };
}

function renderBackbone(g: BackboneGenome): string {
  const lines = [`${g.layers.length} layers, hidden ${g.hidden}, ${g.heads} heads${g.embed ? `, embedding ${g.embed}` : ''}${g.pool && g.pool !== 'cls' ? `, ${g.pool} pooling` : ''}`];
  g.layers.forEach((l, i) => lines.push(`  L${i}: ${renderMixer(l.mixer)} | ffn ${ffnSpace.render(l.ffn)}`));
  return lines.join('\n');
}

function withPrefix(priority: OpPriority | undefined, prefix: string): OpPriority | undefined {
  if (!priority) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(priority)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

export function backboneSpace(ranges: MacroRanges = DEFAULT_MACRO): SearchSpace<BackboneGenome> {
  const id = (g: BackboneGenome) =>
    hashId('backbone', String(g.hidden), String(g.heads), ...(g.pool && g.pool !== 'cls' ? [`pool:${g.pool}`] : []), ...(g.embed ? [`embed:${g.embed}`] : []), ...g.layers.map((l) => `${mixerId(l.mixer)}|${ffnSpace.id(l.ffn)}`));

  // the changes a mutation draws from; each is shared by the full, blocks-only and macro-only scopes
  const changeMixer = (layer: LayerGenome, rng: Rng, priority?: OpPriority): void => {
    if (layer.mixer.type === 'attention') layer.mixer = { type: 'attention', graph: mutateAttention(layer.mixer.graph, rng, withPrefix(priority, 'attn.')) };
    else layer.mixer = mutateConv(layer.mixer, rng);
  };
  const swapMixerKind = (layer: LayerGenome, rng: Rng): void => {
    layer.mixer = layer.mixer.type === 'conv' ? { type: 'attention', graph: sampleAttention(rng) } : sampleConv(rng);
  };
  const changeDepth = (out: BackboneGenome, i: number, rng: Rng): void => {
    const grow = out.layers.length < ranges.layers[1] && (out.layers.length <= ranges.layers[0] || rng.bool());
    if (grow) out.layers.splice(i, 0, structuredClone(out.layers[i]));
    else if (out.layers.length > ranges.layers[0]) out.layers.splice(i, 1);
  };
  /** A new width; the heads are redrawn when they no longer fit (or, with `redrawHeads`, half the time). */
  const changeWidth = (out: BackboneGenome, rng: Rng, redrawHeads: boolean): void => {
    const w = sampleWidth(rng, ranges);
    out.hidden = w.hidden;
    if (out.hidden % out.heads !== 0 || !headsFor(out.hidden, ranges).includes(out.heads) || (redrawHeads && rng.bool())) out.heads = w.heads;
    if (out.embed !== undefined && out.embed >= out.hidden) delete out.embed;
  };
  const changeHead = (out: BackboneGenome, rng: Rng): void => {
    delete out.pool;
    delete out.embed;
    Object.assign(out, sampleHead(rng, ranges, out.hidden));
  };
  const hasHeadChoice = Boolean(ranges.pool?.length || ranges.embed?.length);

  /** One change to the blocks of one layer: its mixer, its FFN (the ratio kept), or its mixer kind. */
  const mutateBlock = (out: BackboneGenome, rng: Rng, priority?: OpPriority): void => {
    const layer = out.layers[rng.int(out.layers.length)];
    const u = rng.next() * 0.83;
    if (u < 0.4) changeMixer(layer, rng, priority);
    else if (u < 0.75) layer.ffn = mutateFfn(layer.ffn, rng, { priority: withPrefix(priority, 'ffn.'), keepRatio: true });
    else swapMixerKind(layer, rng);
  };

  /** One change to the macro shape: depth (a layer copied or removed), width and heads, one FFN ratio, or the readout. */
  const mutateMacro = (out: BackboneGenome, rng: Rng): void => {
    const u = rng.next();
    const i = rng.int(out.layers.length);
    if (u < 0.3) changeDepth(out, i, rng);
    else if (u < 0.6 || (u >= 0.8 && !hasHeadChoice)) changeWidth(out, rng, true);
    else if (u < 0.8) {
      const ffn = out.layers[i].ffn;
      out.layers[i].ffn = { ...ffn, ratio: rng.choice(FFN_RATIOS.filter((r) => r !== ffn.ratio)) };
    } else changeHead(out, rng);
  };

  const mutateOnce = (g: BackboneGenome, rng: Rng, priority?: OpPriority, scope: MutationScope = 'all'): BackboneGenome => {
    const out = structuredClone(g);
    if (scope === 'blocks') return mutateBlock(out, rng, priority), out;
    if (scope === 'macro') return mutateMacro(out, rng), out;
    const i = rng.int(out.layers.length);
    const layer = out.layers[i];
    const u = rng.next();
    if (u < 0.4) changeMixer(layer, rng, priority);
    else if (u < 0.75) layer.ffn = ffnSpace.mutate(layer.ffn, rng, { priority: withPrefix(priority, 'ffn.') });
    else if (u < 0.83) swapMixerKind(layer, rng);
    else if (u < 0.91) changeDepth(out, i, rng);
    else if (u < 0.96 || !hasHeadChoice) changeWidth(out, rng, false);
    else changeHead(out, rng);
    return out;
  };

  // the coarse stage's fixed shape: the deepest depth (so every layer position's blocks are
  // searched), the narrowest width with its textbook head count, FFN ratio 4, BERT's readout
  const coarseShape = (() => {
    const hidden = Math.min(...ranges.hidden);
    const heads = headsFor(hidden, ranges);
    const textbook = Math.max(1, Math.floor(hidden / 64));
    return { depth: ranges.layers[1], hidden, heads: heads.includes(textbook) ? textbook : (heads[0] ?? 1), ratio: 4 as const };
  })();
  const project = (g: BackboneGenome): BackboneGenome => {
    const layers = g.layers.map((l) => ({ mixer: structuredClone(l.mixer), ffn: { ...structuredClone(l.ffn), ratio: coarseShape.ratio } }));
    // a shallower genome repeats its last layer's blocks; a deeper one keeps its first layers
    while (layers.length < coarseShape.depth) layers.push(structuredClone(layers[layers.length - 1]));
    return { version: GENOME_VERSION, space: 'backbone', hidden: coarseShape.hidden, heads: coarseShape.heads, layers: layers.slice(0, coarseShape.depth) };
  };

  return {
    name: 'backbone',
    description: 'a BERT-style encoder: depth/width/heads, per layer attention graph or lightweight conv, and FFN trees',
    sample(rng) {
      const { hidden, heads } = sampleWidth(rng, ranges);
      const n = rng.range(ranges.layers[0], ranges.layers[1]);
      const layers = Array.from({ length: n }, () => randomLayer(rng, ranges));
      // drawn last, and only when the ranges offer a choice, so the default space samples as before
      const head = ranges.pool?.length || ranges.embed?.length ? sampleHead(rng, ranges, hidden) : {};
      return { version: GENOME_VERSION, space: 'backbone', hidden, heads, layers, ...head };
    },
    mutate(g, rng, opts) {
      const before = id(g);
      const scope = opts?.scope ?? 'all';
      for (let t = 0; t < 20; t++) {
        const m = mutateOnce(g, rng, opts?.priority, scope);
        if (id(m) !== before) return m;
      }
      // nothing changed in 20 tries (a scope with little room): a fresh genome that keeps to the scope
      if (scope === 'blocks') return project(this.sample(rng));
      if (scope === 'macro') return mutateOnce(g, rng, undefined, 'blocks');
      return this.sample(rng);
    },
    check: checkBackbone,
    id,
    render: renderBackbone,
    cost: backboneCost,
    ops: (g) => [
      ...new Set(
        g.layers.flatMap((l) => [
          ...(l.mixer.type === 'attention' ? l.mixer.graph.nodes.map((n) => `attn.${n.op}`) : [`conv.k${l.mixer.kernel}`]),
          ...ffnSpace.ops(l.ffn).map((o) => `ffn.${o}`),
        ]),
      ),
    ],
    seeds: () => knownGood(ranges),
    family: backboneFamily,
    coarse: {
      sample: (rng) => project({ version: GENOME_VERSION, space: 'backbone', hidden: coarseShape.hidden, heads: coarseShape.heads, layers: Array.from({ length: coarseShape.depth }, () => randomLayer(rng, ranges)) }),
      project,
      describe: `${coarseShape.depth} layers, hidden ${coarseShape.hidden}, ${coarseShape.heads} head${coarseShape.heads > 1 ? 's' : ''}, FFN ratio ${coarseShape.ratio}, [CLS] readout, full-width embedding`,
    },
    opSet: () => [...[...ATTN_OPS.keys()].map((o) => `attn.${o}`), ...ffnSpace.opSet().map((o) => `ffn.${o}`)],
  };
}

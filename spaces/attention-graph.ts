import type { Rng } from './base/rng.js';
import { fingerprint, fixedMatrix, hashId } from './base/hash.js';
import { drawOp } from './priority.js';
import { ATTN_BINARY, ATTN_INPUTS, ATTN_OPS, ATTN_UNARY, type AttnShape, type Mat } from './ops.js';
import type { AttentionGraph, AttnNode, AttnRef, CheckResult, Cost, OpPriority, SearchSpace, Shape } from './types.js';
import { DEFAULT_SHAPE } from './types.js';

/**
 * Attention as a DAG of primitive ops over per-head Q, K, V (AutoBERT-Zero's intra-layer space).
 * Nodes are in topological order and the last one is the output. A graph is valid when its output
 * is [T, D], every node feeds the output, and some op reduces over positions (it mixes tokens).
 */

export const MAX_NODES = 16;
const SAMPLE_NODES: [number, number] = [3, 8];
export const BAND_WIDTHS = [1, 2, 4, 8, 16];
/** How often a sampled graph uses Primer's depthwise convolutions after its projections. */
const DCONV_PROBABILITY = 0.2;
/** Width of those convolutions (Primer's). */
export const DCONV_WIDTH = 3;
export const DCONV_CENTRE = (DCONV_WIDTH - 1) / 2;

export const STANDARD_ATTENTION: AttentionGraph = {
  nodes: [
    { op: 'transpose', in: ['K'] },
    { op: 'matmul', in: ['Q', 0] },
    { op: 'scale', in: [1] },
    { op: 'softmax', in: [2] },
    { op: 'matmul', in: [3, 'V'] },
  ],
  mask: 'none',
};

// ---------------------------------------------------------------- masks

/**
 * 'dam' is SparseBERT's Differentiable Attention Mask (Shi et al. 2021, arXiv 2102.12871): a mask
 * over position pairs learnt with the model. opnas keeps it soft and deterministic: a weight
 * alpha [maxLen, maxLen] per layer, and the scores of a [T, T] softmax get log(sigmoid(alpha[:T, :T]))
 * added, so attention_ij is proportional to sigmoid(alpha_ij) exp(s_ij). alpha starts at 0, where the
 * mask is uniform and the layer equals plain attention; training moves it towards keeping (1) or
 * dropping (0) each pair. (The paper samples it with Gumbel noise and binarises it after search.)
 */
export type ParsedMask = { kind: 'none' } | { kind: 'no-diagonal' } | { kind: 'band'; width: number } | { kind: 'dam' };

export function parseMask(m: unknown): ParsedMask | string {
  if (m === undefined || m === 'none') return { kind: 'none' };
  if (m === 'no-diagonal') return { kind: 'no-diagonal' };
  if (m === 'dam') return { kind: 'dam' };
  if (typeof m === 'string') {
    const b = /^band:(\d+)$/.exec(m);
    if (b && Number(b[1]) >= 1) return { kind: 'band', width: Number(b[1]) };
  }
  return `unknown mask ${JSON.stringify(m)} (expected 'none', 'no-diagonal', 'band:W' with W >= 1, or 'dam')`;
}

/** Whether a graph carries a learnt mask (a weight per layer). */
export function hasDam(g: AttentionGraph): boolean {
  return g.mask === 'dam';
}

/**
 * [T, T] keep-matrix (1 keep, 0 drop) for a fixed mask; undefined for none and for 'dam', whose
 * initial (uniform) mask changes nothing.
 */
export function maskMatrix(m: ParsedMask, T: number): Float64Array | undefined {
  if (m.kind === 'none' || m.kind === 'dam') return undefined;
  const out = new Float64Array(T * T);
  for (let i = 0; i < T; i++)
    for (let j = 0; j < T; j++) out[i * T + j] = m.kind === 'no-diagonal' ? Number(i !== j) : Number(Math.abs(i - j) <= m.width);
  return out;
}

// ---------------------------------------------------------------- analysis

export interface GraphInfo {
  shapes: AttnShape[];
  /** Does node i's value carry information between positions? */
  mixing: boolean[];
  /** Does node i feed the output? */
  used: boolean[];
  inputs: Set<'Q' | 'K' | 'V'>;
  hasScoreSoftmax: boolean;
}

const INPUT_SHAPE: AttnShape = ['T', 'D'];

/** Shape inference and validity; returns every problem found (paths relative to the graph). */
export function analyse(g: AttentionGraph, path = 'graph'): { info?: GraphInfo; errors: string[] } {
  const errors: string[] = [];
  const shapes: AttnShape[] = [];
  const mixing: boolean[] = [];
  let hasScoreSoftmax = false;
  const inputs = new Set<'Q' | 'K' | 'V'>();
  if (g.nodes.length === 0) return { errors: [`${path}.nodes: empty graph (needs at least one node)`] };
  if (g.nodes.length > MAX_NODES) errors.push(`${path}.nodes: ${g.nodes.length} nodes exceed the maximum ${MAX_NODES}`);
  g.nodes.forEach((n, i) => {
    const at = `${path}.nodes[${i}]`;
    const op = ATTN_OPS.get(n.op);
    shapes.push(INPUT_SHAPE);
    mixing.push(false);
    if (!op) {
      errors.push(`${at}: unknown op '${n.op}' (known: ${[...ATTN_OPS.keys()].join(', ')})`);
      return;
    }
    if (n.in.length !== op.arity) {
      errors.push(`${at}: '${n.op}' takes ${op.arity} input${op.arity > 1 ? 's' : ''}, got ${n.in.length} (wrong arity)`);
      return;
    }
    const ins: AttnShape[] = [];
    let mix = false;
    let ok = true;
    for (const r of n.in) {
      if (typeof r === 'number') {
        if (!Number.isInteger(r) || r < 0) {
          errors.push(`${at}: input ${JSON.stringify(r)} is not a node index or Q/K/V`);
          ok = false;
        } else if (r >= i) {
          errors.push(`${at}: input ${r} is not an earlier node (${r === i ? 'self-loop' : 'cycle or forward reference'})`);
          ok = false;
        } else {
          ins.push(shapes[r]);
          mix ||= mixing[r];
        }
      } else if ((ATTN_INPUTS as readonly string[]).includes(r)) {
        inputs.add(r);
        ins.push(INPUT_SHAPE);
      } else {
        errors.push(`${at}: unknown input ${JSON.stringify(r)} (use Q, K, V or an earlier node index)`);
        ok = false;
      }
    }
    if (!ok) return;
    const s = op.shape(ins);
    if (typeof s === 'string') {
      errors.push(`${at}: ${s}`);
      return;
    }
    shapes[i] = s;
    mixing[i] = mix || op.mixes(ins);
    if (n.op === 'softmax' && ins[0][0] === 'T' && ins[0][1] === 'T') hasScoreSoftmax = true;
  });
  const used = g.nodes.map(() => false);
  used[g.nodes.length - 1] = true;
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    if (!used[i]) continue;
    for (const r of g.nodes[i].in) if (typeof r === 'number' && r >= 0 && r < i) used[r] = true;
  }
  if (errors.length) return { errors };
  const out = g.nodes.length - 1;
  if (shapes[out][0] !== 'T' || shapes[out][1] !== 'D')
    errors.push(`${path}: output (node ${out}) has shape [${shapes[out].join(',')}], must be [T,D] (shape mismatch)`);
  else if (!mixing[out]) errors.push(`${path}: output never mixes positions (needs an op that reduces over T, e.g. matmul with [.,T] x [T,.])`);
  const unused = used.flatMap((u, i) => (u ? [] : [i]));
  if (unused.length) errors.push(`${path}: node${unused.length > 1 ? 's' : ''} ${unused.join(', ')} not used by the output`);
  const mask = parseMask(g.mask);
  if (typeof mask === 'string') errors.push(`${path}.mask: ${mask}`);
  else if (mask.kind !== 'none' && !hasScoreSoftmax) errors.push(`${path}.mask: a mask needs a softmax over [T,T] scores to apply to`);
  return errors.length ? { errors } : { info: { shapes, mixing, used, inputs, hasScoreSoftmax }, errors };
}

// ---------------------------------------------------------------- formula syntax

function renderRef(g: AttentionGraph, r: AttnRef): string {
  if (typeof r !== 'number') return r;
  const n = g.nodes[r];
  return `${n.op}(${n.in.map((x) => renderRef(g, x)).join(', ')})`;
}

export function renderAttention(g: AttentionGraph): string {
  const f = renderRef(g, g.nodes.length - 1);
  return `${f}${g.mask && g.mask !== 'none' ? ` [mask ${g.mask}]` : ''}${g.dconv ? ' [dconv]' : ''}`;
}

/** Parse `matmul(softmax(scale(matmul(Q, transpose(K)))), V) [mask band:4] [dconv]`; shared subterms become one node. */
export function parseAttentionFormula(src: string): { graph?: AttentionGraph; error?: string } {
  let s = src.trim();
  let mask: string | undefined;
  let dconv = false;
  // trailing annotations, in any order: [mask band:4] [dconv]
  for (let m: RegExpExecArray | null; (m = /\[\s*(mask\s+[^\]]+|dconv)\s*\]\s*$/.exec(s)); ) {
    if (m[1] === 'dconv') dconv = true;
    else mask = m[1].slice(4).trim();
    s = s.slice(0, m.index).trim();
  }
  const nodes: AttnNode[] = [];
  const memo = new Map<string, number>();
  let pos = 0;
  const skip = () => {
    while (pos < s.length && /\s/.test(s[pos])) pos++;
  };
  const shown = src.length > 80 ? `${JSON.stringify(src.slice(0, 80))}... (${src.length} characters)` : JSON.stringify(src);
  const fail = (msg: string) => {
    throw new Error(`formula: ${msg} at position ${pos + 1} of ${shown}`);
  };
  // a graph has at most MAX_NODES nodes, so deeper nesting is invalid anyway: stop before the stack runs out
  const term = (depth = 0): AttnRef => {
    if (depth > MAX_NODES) fail(`nested deeper than ${MAX_NODES} levels (a graph has at most ${MAX_NODES} nodes)`);
    skip();
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(pos));
    if (!id) fail('expected an op name or Q/K/V');
    pos += id![0].length;
    skip();
    if (s[pos] !== '(') {
      if ((ATTN_INPUTS as readonly string[]).includes(id![0])) return id![0] as AttnRef;
      fail(`'${id![0]}' is not an input (Q, K, V); ops need '('`);
    }
    pos++;
    const args: AttnRef[] = [];
    skip();
    if (s[pos] !== ')')
      for (;;) {
        args.push(term(depth + 1));
        skip();
        if (s[pos] === ',') {
          pos++;
          continue;
        }
        if (s[pos] === ')') break;
        fail("expected ',' or ')'");
      }
    pos++;
    const key = `${id![0]}(${args.join(',')})`;
    const seen = memo.get(key);
    if (seen !== undefined) return seen;
    nodes.push({ op: id![0], in: args });
    memo.set(key, nodes.length - 1);
    return nodes.length - 1;
  };
  try {
    const out = term();
    skip();
    if (pos < s.length) fail('unexpected text after the formula');
    if (typeof out !== 'number') nodes.push({ op: 'transpose', in: [out] }); // a bare input is invalid; let analyse say so
    return { graph: { nodes, mask: mask ?? 'none', ...(dconv ? { dconv } : {}) } };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

// ---------------------------------------------------------------- check

/** Validate user input: a graph object `{nodes, mask}` or `{formula}`, or a formula string. */
export function checkAttention(x: unknown, path = 'graph'): CheckResult<AttentionGraph> {
  let g: AttentionGraph;
  if (typeof x === 'string' || (isObj(x) && typeof x.formula === 'string' && x.nodes === undefined)) {
    const p = parseAttentionFormula(typeof x === 'string' ? x : (x as { formula: string }).formula);
    if (!p.graph) return { errors: [`${path}: ${p.error}`] };
    g = p.graph;
    if (isObj(x) && x.mask !== undefined) g.mask = x.mask as string;
    if (isObj(x) && x.dconv !== undefined) g.dconv = x.dconv as boolean;
  } else {
    if (!isObj(x)) return { errors: [`${path}: expected an object with 'nodes' (or 'formula'), got ${typeName(x)}`] };
    if (!Array.isArray(x.nodes)) return { errors: [`${path}.nodes: expected an array of {op, in}, got ${typeName(x.nodes)}`] };
    const errors: string[] = [];
    const nodes: AttnNode[] = [];
    x.nodes.forEach((n: unknown, i: number) => {
      const at = `${path}.nodes[${i}]`;
      if (!isObj(n)) errors.push(`${at}: expected {op, in}, got ${typeName(n)}`);
      else if (typeof n.op !== 'string') errors.push(`${at}.op: expected a string, got ${typeName(n.op)}`);
      else if (!Array.isArray(n.in)) errors.push(`${at}.in: expected an array of inputs, got ${typeName(n.in)}`);
      else nodes.push({ op: n.op, in: n.in as AttnRef[] });
    });
    if (errors.length) return { errors };
    g = { nodes, mask: (x.mask as string | undefined) ?? 'none', ...(x.dconv !== undefined ? { dconv: x.dconv as boolean } : {}) };
  }
  const { errors } = analyse(g, path);
  if (g.dconv !== undefined && typeof g.dconv !== 'boolean') errors.push(`${path}.dconv: expected true or false, got ${typeName(g.dconv)}`);
  if (g.dconv === false) delete g.dconv;
  return errors.length ? { errors } : { genome: g, errors };
}

export function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function typeName(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x;
}

// ---------------------------------------------------------------- id (functional fingerprint)

const FP_T = 6;
const FP_D = 4;
const FP_INPUTS: Record<'Q' | 'K' | 'V', Mat> = {
  Q: { r: FP_T, c: FP_D, d: fixedMatrix(101, FP_T, FP_D) },
  K: { r: FP_T, c: FP_D, d: fixedMatrix(202, FP_T, FP_D) },
  V: { r: FP_T, c: FP_D, d: fixedMatrix(303, FP_T, FP_D) },
};

export function evalAttentionJs(g: AttentionGraph, inputs: Record<'Q' | 'K' | 'V', Mat>, dh: number): Mat {
  const mask = parseMask(g.mask);
  const keep = typeof mask === 'string' ? undefined : maskMatrix(mask, inputs.Q.r);
  const vals: Mat[] = [];
  for (const n of g.nodes) {
    const ins = n.in.map((r) => (typeof r === 'number' ? vals[r] : inputs[r]));
    vals.push(ATTN_OPS.get(n.op)!.js(ins, { dh, mask: keep }));
  }
  return vals[vals.length - 1];
}

/** Equal for functionally equal graphs (add(Q,K) vs add(K,Q)); includes which projections are used. */
export function attentionId(g: AttentionGraph): string {
  const info = analyse(g).info;
  const used = info ? [...info.inputs].sort().join('') : '';
  const out = evalAttentionJs(g, FP_INPUTS, FP_D);
  // a learnt mask starts as no mask, so the fingerprint alone would not tell them apart
  return hashId('attention', used, fingerprint(out.d), ...(g.dconv ? ['dconv'] : []), ...(hasDam(g) ? ['dam'] : []));
}

// ---------------------------------------------------------------- cost

/** Projections (only for the inputs the graph uses) plus the output projection, per layer of width d. */
export function attentionCost(g: AttentionGraph, d: number, heads: number, seqLen: number): Cost {
  const info = analyse(g).info;
  if (!info) throw new Error('attentionCost: invalid graph');
  const dh = d / heads;
  const projections = info.inputs.size + 1;
  // dconv: a width-3 filter and a bias per channel of each Q/K/V projection
  const dconv = g.dconv ? info.inputs.size * 4 * d : 0;
  // dam: one logit per position pair, at the model's longest sequence
  const dam = hasDam(g) ? seqLen * seqLen : 0;
  const params = projections * (d * d + d) + dconv + dam;
  let graphFlops = 0;
  g.nodes.forEach((n) => {
    const ins = n.in.map((r) => (typeof r === 'number' ? info.shapes[r] : INPUT_SHAPE));
    graphFlops += ATTN_OPS.get(n.op)!.flops(ins, seqLen, dh);
  });
  // dam per token: a row of the log-sigmoid mask (about 3 flops an entry) and its addition in each head
  return { params, flops: projections * 2 * d * d + (g.dconv ? info.inputs.size * 6 * d : 0) + (heads * graphFlops) / seqLen + (dam ? (3 + heads) * seqLen : 0) };
}

// ---------------------------------------------------------------- sample and mutate

type Pool = { ref: AttnRef; shape: AttnShape }[];

const pickOp = drawOp;

/** Try to build node `op` from the pool; inputs favour recent nodes so graphs grow deep. */
function tryNode(op: string, pool: Pool, rng: Rng): AttnNode | undefined {
  const spec = ATTN_OPS.get(op)!;
  const pickRef = () => (rng.bool(0.6) ? pool[pool.length - 1 - rng.int(Math.min(3, pool.length))] : rng.choice(pool));
  for (let t = 0; t < 12; t++) {
    const a = pickRef();
    if (spec.arity === 1) return { op, in: [a.ref] };
    const b = rng.choice(pool);
    if (typeof spec.shape([a.shape, b.shape]) !== 'string') return { op, in: [a.ref, b.ref] };
    if (typeof spec.shape([b.shape, a.shape]) !== 'string') return { op, in: [b.ref, a.ref] };
  }
  return undefined;
}

/** Drop nodes that don't feed `out` and renumber; `out` becomes the last node. */
export function prune(nodes: AttnNode[], out: number): AttnNode[] {
  const keep = new Array(nodes.length).fill(false);
  keep[out] = true;
  for (let i = out; i >= 0; i--) if (keep[i]) for (const r of nodes[i].in) if (typeof r === 'number') keep[r] = true;
  const index = new Map<number, number>();
  const res: AttnNode[] = [];
  for (let i = 0; i <= out; i++)
    if (keep[i]) {
      index.set(i, res.length);
      res.push({ op: nodes[i].op, in: nodes[i].in.map((r) => (typeof r === 'number' ? index.get(r)! : r)) });
    }
  return res;
}

function shapesOf(nodes: AttnNode[]): AttnShape[] {
  const shapes: AttnShape[] = [];
  for (const n of nodes) {
    const s = ATTN_OPS.get(n.op)!.shape(n.in.map((r) => (typeof r === 'number' ? shapes[r] : INPUT_SHAPE)));
    shapes.push(typeof s === 'string' ? INPUT_SHAPE : s);
  }
  return shapes;
}

function randomMask(rng: Rng): string {
  const u = rng.next();
  return u < 0.7 ? 'none' : u < 0.8 ? 'no-diagonal' : u < 0.9 ? 'dam' : `band:${rng.choice(BAND_WIDTHS)}`;
}

export function sampleAttention(rng: Rng, priority?: OpPriority): AttentionGraph {
  const ops = [...ATTN_OPS.keys()];
  for (let attempt = 0; attempt < 500; attempt++) {
    const n = rng.range(SAMPLE_NODES[0], SAMPLE_NODES[1]);
    const nodes: AttnNode[] = [];
    const pool: Pool = ATTN_INPUTS.map((r) => ({ ref: r, shape: INPUT_SHAPE }));
    for (let i = 0; i < n; i++) {
      const node = tryNode(pickOp(ops, rng, priority), pool, rng);
      if (!node) continue;
      nodes.push(node);
      pool.push({ ref: nodes.length - 1, shape: shapesOf(nodes)[nodes.length - 1] });
    }
    if (!nodes.length) continue;
    // the output is the last node whose pruned graph is valid
    let out = nodes.length - 1;
    while (out >= 0 && !analyse({ nodes: prune(nodes, out), mask: 'none' }).info) out--;
    if (out < 0) continue;
    const pruned = prune(nodes, out);
    const g: AttentionGraph = { nodes: pruned, mask: 'none' };
    const mask = randomMask(rng);
    if (mask !== 'none' && analyse({ nodes: pruned, mask }).info) g.mask = mask;
    if (rng.bool(DCONV_PROBABILITY)) g.dconv = true;
    return g;
  }
  return structuredClone(STANDARD_ATTENTION);
}

/** Shift node refs >= at by `by` (for inserting or removing a node at `at`). */
function shiftRefs(nodes: AttnNode[], at: number, by: number): void {
  for (const n of nodes) n.in = n.in.map((r) => (typeof r === 'number' && r >= at ? r + by : r));
}

type Mutation = (nodes: AttnNode[], g: AttentionGraph, rng: Rng, priority?: OpPriority) => AttnNode[] | undefined;

const replaceOp: Mutation = (nodes, _g, rng, priority) => {
  const i = rng.int(nodes.length);
  const arity = ATTN_OPS.get(nodes[i].op)!.arity;
  const names = (arity === 1 ? ATTN_UNARY : ATTN_BINARY).filter((o) => o !== nodes[i].op);
  nodes[i] = { op: pickOp(names, rng, priority), in: nodes[i].in };
  return nodes;
};

/** Insert a new node after node i (or at the front, reading an input) and route one consumer through it. */
const insertNode: Mutation = (nodes, _g, rng, priority) => {
  const at = rng.int(nodes.length); // new node goes at index `at`, reading from something before it
  const pool: Pool = ATTN_INPUTS.map((r) => ({ ref: r, shape: INPUT_SHAPE }));
  const shapes = shapesOf(nodes);
  for (let j = 0; j < at; j++) pool.push({ ref: j, shape: shapes[j] });
  const node = tryNode(pickOp([...ATTN_OPS.keys()], rng, priority), pool, rng);
  if (!node) return undefined;
  const consumers = nodes.slice(at).flatMap((n, k) => n.in.map((_, slot) => [at + k, slot] as const));
  shiftRefs(nodes, at, 1);
  nodes.splice(at, 0, node);
  if (!consumers.length) return nodes;
  const [c, slot] = rng.choice(consumers);
  nodes[c + 1].in[slot] = at;
  return nodes;
};

/** Remove a node, handing its consumers one of its inputs. */
const deleteNode: Mutation = (nodes, _g, rng) => {
  if (nodes.length < 2) return undefined;
  const i = rng.int(nodes.length - 1);
  const replacement = rng.choice(nodes[i].in);
  for (const n of nodes) n.in = n.in.map((r) => (r === i ? replacement : r));
  nodes.splice(i, 1);
  shiftRefs(nodes, i + 1, -1);
  return nodes;
};

const rewire: Mutation = (nodes, _g, rng) => {
  const i = rng.int(nodes.length);
  const slot = rng.int(nodes[i].in.length);
  const refs: AttnRef[] = [...ATTN_INPUTS, ...Array.from({ length: i }, (_, k) => k)];
  nodes[i].in[slot] = rng.choice(refs);
  return nodes;
};

const MUTATIONS: Mutation[] = [replaceOp, replaceOp, insertNode, deleteNode, rewire];

export function mutateAttention(g: AttentionGraph, rng: Rng, priority?: OpPriority): AttentionGraph {
  const before = attentionId(g);
  for (let attempt = 0; attempt < 200; attempt++) {
    let mask = g.mask ?? 'none';
    let dconv = g.dconv === true;
    let nodes: AttnNode[] | undefined = structuredClone(g.nodes);
    const u = rng.next();
    if (u < 0.1) mask = randomMask(rng);
    else if (u < 0.15) dconv = !dconv;
    else nodes = rng.choice(MUTATIONS)(nodes, g, rng, priority);
    if (!nodes || !nodes.length) continue;
    const cand: AttentionGraph = { nodes: prune(nodes, nodes.length - 1), mask, ...(dconv ? { dconv } : {}) };
    if (analyse(cand).info && attentionId(cand) !== before) return cand;
  }
  return sampleAttention(rng, priority);
}

export const attentionSpace: SearchSpace<AttentionGraph> = {
  name: 'attention',
  description: 'attention as a DAG of primitive ops over per-head Q, K, V (AutoBERT-Zero)',
  sample: (rng) => sampleAttention(rng),
  mutate: (g, rng, opts) => mutateAttention(g, rng, opts?.priority),
  check: (x) => checkAttention(x),
  id: attentionId,
  render: renderAttention,
  cost: (g, shape: Shape = DEFAULT_SHAPE) => attentionCost(g, 128, 2, shape.seqLen),
  ops: (g) => [...new Set(g.nodes.map((n) => n.op))],
  opSet: () => [...ATTN_OPS.keys()],
};

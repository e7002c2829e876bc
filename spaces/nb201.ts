import type { Rng } from './base/rng.js';
import { OpnasError } from './base/errors.js';
import { hashId } from './base/hash.js';
import { drawOp } from './priority.js';
import type { CheckResult, Cost, SearchSpace } from './types.js';

/**
 * The NAS-Bench-201 (NATS-Bench topology) cell: a DAG of 4 nodes whose 6 edges each carry one of
 * five ops. It is not a transformer block; it is here so search strategies can be checked against
 * a tabular benchmark (evaluators/nb201.ts) without training anything.
 *
 * The edges are kept in the order of the benchmark's arch string
 * `|e0~0|+|e1~0|e2~1|+|e3~0|e4~1|e5~2|`: edge `op~j` in the i-th `+`-separated group feeds node i+1
 * from node j. So edges = [0->1, 0->2, 1->2, 0->3, 1->3, 2->3].
 */

export const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export type Nb201Op = (typeof NB201_OPS)[number];

export const NB201_EDGES = 6;

/** For each edge, in genome order: the node it leaves (j in `op~j`) and the node it enters. */
export const NB201_EDGE_NODES: readonly (readonly [from: number, to: number])[] = [
  [0, 1], [0, 2], [1, 2], [0, 3], [1, 3], [2, 3],
];

export interface Nb201Genome {
  edges: string[];
}

const KNOWN = `known: ${NB201_OPS.join(', ')}`;

function isOp(x: unknown): x is Nb201Op {
  return typeof x === 'string' && (NB201_OPS as readonly string[]).includes(x);
}

/** JSON of a value for messages; never throws (bigints, cycles, symbols, undefined). */
function show(x: unknown): string {
  try {
    return JSON.stringify(x) ?? describe(x);
  } catch {
    return describe(x);
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}

/** The benchmark's arch string of a cell, e.g. `|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|`. */
export function toArchString(g: Nb201Genome): string {
  const e = g.edges;
  return `|${e[0]}~0|+|${e[1]}~0|${e[2]}~1|+|${e[3]}~0|${e[4]}~1|${e[5]}~2|`;
}

/** Problems with an arch string (each message names the part at fault), and its edges when it has none. */
export function checkArchString(s: string, path = 'arch'): CheckResult<Nb201Genome> {
  const errors: string[] = [];
  const text = s.trim();
  const groups = text.split('+');
  if (groups.length !== 3) {
    return {
      errors: [`${path}: must have 3 node groups separated by '+' (|op~0|+|op~0|op~1|+|op~0|op~1|op~2|), got ${groups.length} in ${JSON.stringify(s)}`],
    };
  }
  const edges: string[] = [];
  groups.forEach((group, i) => {
    if (!(group.startsWith('|') && group.endsWith('|') && group.length > 1)) {
      errors.push(`${path}: node ${i + 1} group ${JSON.stringify(group)} must start and end with '|'`);
      return;
    }
    const tokens = group.slice(1, -1).split('|');
    if (tokens.length !== i + 1) {
      errors.push(`${path}: node ${i + 1} must have ${i + 1} input edge${i === 0 ? '' : 's'} (op~0${i > 0 ? ` .. op~${i}` : ''}), got ${tokens.length} in ${JSON.stringify(group)}`);
      return;
    }
    tokens.forEach((tok, j) => {
      const m = /^([^~|+]*)~(\d+)$/.exec(tok);
      const at = `edges[${(i * (i + 1)) / 2 + j}]`;
      if (!m) {
        errors.push(`${path}: ${at} ${JSON.stringify(tok)} must be op~${j}`);
        edges.push(tok);
        return;
      }
      if (Number(m[2]) !== j) errors.push(`${path}: ${at} ${JSON.stringify(tok)} must come from node ${j} (op~${j}), not node ${m[2]}`);
      if (!isOp(m[1])) errors.push(`${path}: ${at}: unknown op ${JSON.stringify(m[1])} (${KNOWN})`);
      edges.push(m[1]);
    });
  });
  return errors.length ? { errors } : { genome: { edges }, errors };
}

/** Parse an arch string; throws OpnasError listing every problem. */
export function parseArchString(s: string): Nb201Genome {
  const r = checkArchString(s);
  if (!r.genome) throw new OpnasError(`invalid NAS-Bench-201 arch string ${JSON.stringify(s)}:\n  - ${r.errors.join('\n  - ')}`);
  return r.genome;
}

/**
 * Validate a genome given as `{ edges: [6 ops] }` (optionally with `space: 'nb201'`), an arch
 * string, or `{ arch: '<arch string>' }`. Never throws; lists every problem.
 */
export function checkNb201(x: unknown): CheckResult<Nb201Genome> {
  if (typeof x === 'string') return checkArchString(x);
  if (typeof x !== 'object' || x === null || Array.isArray(x)) {
    return { errors: [`nb201 genome: must be { edges: [6 ops] }, { arch: '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' } or an arch string, got ${describe(x)}`] };
  }
  const r = x as Record<string, unknown>;
  const errors: string[] = [];
  for (const k of Object.keys(r)) {
    if (k !== 'edges' && k !== 'arch' && k !== 'space') errors.push(`${k}: unknown field (an nb201 genome has edges or arch)`);
  }
  if ('space' in r && r.space !== 'nb201') errors.push(`space: must be 'nb201', got ${show(r.space)}`);
  let genome: Nb201Genome | undefined;
  if ('arch' in r && 'edges' in r) {
    errors.push('give either edges or arch, not both');
  } else if ('arch' in r) {
    if (typeof r.arch !== 'string') errors.push(`arch: must be an arch string, got ${describe(r.arch)}`);
    else {
      const a = checkArchString(r.arch);
      errors.push(...a.errors);
      genome = a.genome;
    }
  } else if (!('edges' in r)) {
    errors.push(`edges: missing (an array of ${NB201_EDGES} ops, ${KNOWN})`);
  } else if (!Array.isArray(r.edges)) {
    errors.push(`edges: must be an array of ${NB201_EDGES} ops, got ${describe(r.edges)}`);
  } else {
    const edges = r.edges as unknown[];
    if (edges.length !== NB201_EDGES) errors.push(`edges: must have ${NB201_EDGES} ops, got ${edges.length}`);
    edges.forEach((op, i) => {
      if (!isOp(op)) errors.push(`edges[${i}]: unknown op ${show(op)} (${KNOWN})`);
    });
    genome = { edges: [...(edges as string[])] };
  }
  return errors.length ? { errors } : { genome, errors };
}

export function sampleNb201(rng: Rng): Nb201Genome {
  const edges: string[] = [];
  for (let i = 0; i < NB201_EDGES; i++) edges.push(rng.choice(NB201_OPS));
  return { edges };
}

/**
 * Per-op cost of one edge, for a cell of the first stage of the NAS-Bench-201 network (16
 * channels, 32x32 feature maps). Params: conv weights (no bias) plus BatchNorm's scale and shift;
 * FLOPs: 2 per multiply-add of the conv, 9 per output element of the 3x3 average pool. ReLU,
 * BatchNorm and the node sums are left out; `none` and `skip_connect` are free.
 */
const C = 16;
const HW = 32 * 32;
export const NB201_OP_COST: Readonly<Record<Nb201Op, Cost>> = {
  none: { params: 0, flops: 0 },
  skip_connect: { params: 0, flops: 0 },
  nor_conv_1x1: { params: C * C + 2 * C, flops: 2 * C * C * HW },
  nor_conv_3x3: { params: 9 * C * C + 2 * C, flops: 2 * 9 * C * C * HW },
  avg_pool_3x3: { params: 0, flops: 9 * C * HW },
};

/** Cost proxy of a cell: the sum of NB201_OP_COST over its edges (the shape is ignored). */
export function nb201Cost(g: Nb201Genome): Cost {
  let params = 0;
  let flops = 0;
  for (const op of g.edges) {
    const c = NB201_OP_COST[op as Nb201Op];
    if (!c) continue;
    params += c.params;
    flops += c.flops;
  }
  return { params, flops };
}

/** Change one edge, chosen uniformly, to a different op (drawn by operation priority when given). */
export function mutateNb201(g: Nb201Genome, rng: Rng, priority?: Readonly<Record<string, number>>): Nb201Genome {
  const edges = [...g.edges];
  const i = rng.int(NB201_EDGES);
  const others = NB201_OPS.filter((o) => o !== edges[i]);
  edges[i] = drawOp(others, rng, priority);
  return { edges };
}

export const nb201Space: SearchSpace<Nb201Genome> = {
  name: 'nb201',
  description:
    'NAS-Bench-201 / NATS-Bench topology cell: 6 edges, each none, skip_connect, nor_conv_1x1, nor_conv_3x3 or avg_pool_3x3 (15,625 cells); scored by table lookup',
  sample: sampleNb201,
  mutate: (g, rng, opts) => mutateNb201(g, rng, opts?.priority),
  check: checkNb201,
  /**
   * Hash of the arch string. Isomorphic cells (same function, different edges) keep distinct ids
   * on purpose: the benchmark lists every one of the 15,625 cells as its own row, and the
   * reference random-search numbers draw over all rows.
   */
  id: (g) => hashId('nb201', toArchString(g)),
  render: toArchString,
  cost: (g) => nb201Cost(g),
  ops: (g) => [...new Set(g.edges)],
  opSet: () => [...NB201_OPS],
};

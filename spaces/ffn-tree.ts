import { drawOp } from './priority.js';
import type { Rng } from './base/rng.js';
import { OpnasError } from './base/errors.js';
import {
  FFN_BINARY,
  FFN_BINARY_OPS,
  FFN_KNOWN_OPS,
  FFN_LEAF,
  FFN_UNARY,
  FFN_UNARY_OPS,
  ffnArity,
  isFfnBinary,
  isFfnUnary,
} from './ffn-ops.js';
import { fingerprint, fixedMatrix, hashId } from './base/hash.js';
import type { CheckResult, Cost, FfnGenome, FfnNode, OpPriority, SearchSpace } from './types.js';

/**
 * Feed-forward block as an expression tree (EfficientBERT). Leaves are `x`; L1 (d -> r*d) and
 * L2 (r*d -> d) are the only weighted nodes; activations and binary ops come from ffn-ops.ts.
 * A tree is valid when its height (nodes on the longest root-to-leaf path) is 3..7, it has
 * exactly one L1 and one L2 with L1 below L2, no activation sits directly in another, no binary
 * op has structurally identical operands, and the widths work out (root width d).
 *
 * With one L1 and one L2 the valid trees have three parts: an L-free subtree under L1 (width d),
 * at most one activation between L1 and L2 (width r*d; a binary op there would need a second L1),
 * and activations/binary ops above L2 whose other operands are L-free subtrees (width d).
 */

export const FFN_RATIOS = [1, 2, 3, 4] as const;
export const FFN_MAX_STACK = 4;
export const FFN_MIN_HEIGHT = 3;
export const FFN_MAX_HEIGHT = 7;
/** Hidden width the space's own `cost` uses; callers that know d call ffnCost(g, d). */
export const FFN_COST_HIDDEN = 128;
/** Input nesting beyond this is reported rather than walked (keeps check safe on hostile input). */
const WALK_LIMIT = 32;

const leaf = (): FfnNode => ({ op: FFN_LEAF });
const node = (op: string, ...inputs: FfnNode[]): FfnNode => ({ op, in: inputs });

function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object') {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

/** The standard BERT feed-forward block L2(gelu(L1(x))), one block, ratio 4. */
export const STANDARD_FFN: FfnGenome = deepFreeze({
  tree: node('L2', node('gelu', node('L1', leaf()))),
  stack: 1,
  ratio: 4,
});

// ---------------------------------------------------------------- formula syntax

/** `op` for a leaf, `op(a, b)` otherwise; parseFfnFormula reads exactly this back. */
export function renderFfn(tree: FfnNode): string {
  if (!tree.in || tree.in.length === 0) return tree.op;
  return `${tree.op}(${tree.in.map(renderFfn).join(', ')})`;
}

/**
 * Parse `L2(gelu(L1(x)))`-style text into a tree (syntax only; check() judges the ops).
 * Throws OpnasError naming the 1-based column of the problem.
 */
export function parseFfnFormula(s: string): FfnNode {
  let pos = 0;
  const shown = s.length > 80 ? `'${s.slice(0, 80)}...' (${s.length} characters)` : `'${s}'`;
  const fail = (what: string): never => {
    const found = pos < s.length ? `'${s[pos]}'` : 'end of formula';
    throw new OpnasError(`parse error at column ${pos + 1} of ${shown}: expected ${what}, found ${found}`);
  };
  const skip = () => {
    while (pos < s.length && /\s/.test(s[pos])) pos++;
  };
  const parseNode = (depth: number): FfnNode => {
    if (depth > WALK_LIMIT) throw new OpnasError(`parse error at column ${pos + 1} of ${shown}: nested deeper than ${WALK_LIMIT} levels`);
    skip();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(pos));
    if (!m) return fail('an op name');
    pos += m[0].length;
    skip();
    if (s[pos] !== '(') return { op: m[0] };
    pos++;
    const inputs: FfnNode[] = [parseNode(depth + 1)];
    skip();
    while (s[pos] === ',') {
      pos++;
      inputs.push(parseNode(depth + 1));
      skip();
    }
    if (s[pos] !== ')') fail("',' or ')'");
    pos++;
    return { op: m[0], in: inputs };
  };
  const tree = parseNode(0);
  skip();
  if (pos < s.length) fail('end of formula');
  return tree;
}

/** Nodes on the longest root-to-leaf path: L2(gelu(L1(x))) has height 4. */
export function ffnHeight(tree: FfnNode): number {
  return 1 + Math.max(0, ...(tree.in ?? []).map(ffnHeight));
}

// ---------------------------------------------------------------- validation

type Width = 'd' | 'rd';
const showWidth = (w: Width) => (w === 'd' ? 'd' : 'r*d');

interface WalkState {
  errors: string[];
  l1: { path: string; underL2: boolean }[];
  l2: string[];
}

interface Visit {
  /** The normalized node, when this subtree is well-formed enough to rebuild. */
  node?: FfnNode;
  /** Inferred width; undefined when an error below makes it unknowable. */
  width?: Width;
  height: number;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'nothing';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return 'an object';
  return typeof x === 'string' ? `'${x}'` : typeof x === 'number' || typeof x === 'boolean' ? String(x) : typeof x;
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

function walk(x: unknown, path: string, st: WalkState, depth: number, parentOp: string | undefined, underL2: boolean): Visit {
  if (depth >= WALK_LIMIT) {
    st.errors.push(`${path}: nested deeper than ${WALK_LIMIT} levels (tree too deep)`);
    return { height: WALK_LIMIT };
  }
  if (!isRecord(x)) {
    st.errors.push(`${path}: must be a node { op, in? }, got ${describe(x)}`);
    return { height: 1 };
  }
  for (const k of Object.keys(x)) {
    if (k !== 'op' && k !== 'in') st.errors.push(`${path}: unknown field '${k}' (a node has 'op' and 'in')`);
  }
  const op = typeof x.op === 'string' ? x.op : undefined;
  if (op === undefined) st.errors.push(`${path}.op: missing or not a string`);
  let inputs: unknown[] = [];
  if (x.in !== undefined) {
    if (Array.isArray(x.in)) inputs = x.in;
    else st.errors.push(`${path}.in: must be an array of nodes, got ${describe(x.in)}`);
  }
  const arity = op === undefined ? undefined : ffnArity(op);
  if (op !== undefined && arity === undefined) {
    st.errors.push(`${path}: unknown op '${op}' (known: ${FFN_KNOWN_OPS.join(', ')})`);
  }
  const arityOk = arity !== undefined && inputs.length === arity;
  if (arity !== undefined && !arityOk) {
    st.errors.push(`${path}: '${op}' needs ${arity} input${arity === 1 ? '' : 's'}, got ${inputs.length} (wrong arity)`);
  }
  if (op !== undefined && isFfnUnary(op) && parentOp !== undefined && isFfnUnary(parentOp)) {
    st.errors.push(`${path}: activation '${op}' directly inside activation '${parentOp}' (nested activations are not allowed)`);
  }
  if (op === 'L1') st.l1.push({ path, underL2 });
  if (op === 'L2') st.l2.push(path);

  const kids = inputs.map((c, i) => walk(c, `${path}.in[${i}]`, st, depth + 1, op, underL2 || op === 'L2'));
  const height = 1 + Math.max(0, ...kids.map((k) => k.height));
  if (!arityOk || op === undefined) return { height };

  const width = inferWidth(op, kids, path, st.errors);
  if (isFfnBinary(op) && kids[0].node && kids[1].node) {
    const a = renderFfn(kids[0].node);
    if (a === renderFfn(kids[1].node)) {
      st.errors.push(`${path}: '${op}' has two identical operands ${a} (op(a, a) is not allowed)`);
    }
  }
  const built = kids.every((k) => k.node) ? (kids.length ? node(op, ...kids.map((k) => k.node!)) : leaf()) : undefined;
  return { node: built, width, height };
}

function inferWidth(op: string, kids: Visit[], path: string, errors: string[]): Width | undefined {
  if (op === FFN_LEAF) return 'd';
  const [a, b] = kids.map((k) => k.width);
  if (op === 'L1' || op === 'L2') {
    const want: Width = op === 'L1' ? 'd' : 'rd';
    if (a !== undefined && a !== want) {
      errors.push(`${path}: ${op} expects an input of width ${showWidth(want)}, got ${showWidth(a)} (width mismatch)`);
    }
    return op === 'L1' ? 'rd' : 'd';
  }
  if (isFfnUnary(op)) return a;
  if (a === undefined || b === undefined) return undefined;
  if (a !== b) {
    errors.push(`${path}: '${op}' operands have different widths ${showWidth(a)} and ${showWidth(b)} (width mismatch)`);
    return undefined;
  }
  return a;
}

/** Validate a tree (node object or formula string); every problem is listed with its path. */
export function checkFfnTree(x: unknown, path = 'tree'): { tree?: FfnNode; errors: string[] } {
  if (typeof x === 'string') {
    try {
      x = parseFfnFormula(x);
    } catch (e) {
      return { errors: [`${path}: ${(e as Error).message}`] };
    }
  }
  const st: WalkState = { errors: [], l1: [], l2: [] };
  const v = walk(x, path, st, 0, undefined, false);
  if (v.width !== undefined && v.width !== 'd') {
    st.errors.push(`${path}: output width is ${showWidth(v.width)}, must be d (width mismatch)`);
  }
  if (v.height > FFN_MAX_HEIGHT) {
    st.errors.push(`${path}: height ${v.height} exceeds the maximum ${FFN_MAX_HEIGHT} (tree too deep)`);
  } else if (v.height < FFN_MIN_HEIGHT) {
    st.errors.push(`${path}: height ${v.height} is below the minimum ${FFN_MIN_HEIGHT} (tree too shallow)`);
  }
  for (const [name, found] of [['L1', st.l1.length], ['L2', st.l2.length]] as const) {
    if (found !== 1) st.errors.push(`${path}: needs exactly one ${name}, found ${found}`);
  }
  if (st.l2.length > 0) {
    for (const l1 of st.l1) {
      if (!l1.underL2) st.errors.push(`${l1.path}: L1 must be below L2 (it is not a descendant of L2)`);
    }
  }
  return st.errors.length ? { errors: st.errors } : { tree: v.node, errors: [] };
}

const GENOME_FIELDS = ['tree', 'formula', 'stack', 'ratio'];

/**
 * Validate an FFN genome: `{ tree, stack, ratio }` where tree is a node or a formula string, or
 * `{ formula, stack, ratio }`. `path` prefixes every message (e.g. 'layers[2].ffn').
 */
export function checkFfn(x: unknown, path = ''): CheckResult<FfnGenome> {
  const at = (field: string) => (path ? `${path}.${field}` : field);
  if (!isRecord(x)) {
    return { errors: [`${path || 'genome'}: must be an object { tree | formula, stack, ratio }, got ${describe(x)}`] };
  }
  const errors: string[] = [];
  for (const k of Object.keys(x)) {
    if (!GENOME_FIELDS.includes(k)) errors.push(`${at(k)}: unknown field (an FFN genome has ${GENOME_FIELDS.join(', ')})`);
  }
  let tree: FfnNode | undefined;
  if (x.tree === undefined && x.formula === undefined) {
    errors.push(`${at('tree')}: missing (give 'tree' as a node or formula string, or 'formula')`);
  } else if (x.formula !== undefined && typeof x.formula !== 'string') {
    errors.push(`${at('formula')}: must be a string, got ${describe(x.formula)}`);
  } else {
    const fromTree = x.tree !== undefined ? checkFfnTree(x.tree, at('tree')) : undefined;
    const fromFormula = x.formula !== undefined ? checkFfnTree(x.formula, at('formula')) : undefined;
    errors.push(...(fromTree?.errors ?? []), ...(fromFormula?.errors ?? []));
    if (fromTree?.tree && fromFormula?.tree && renderFfn(fromTree.tree) !== renderFfn(fromFormula.tree)) {
      errors.push(`${at('formula')}: '${renderFfn(fromFormula.tree)}' does not match tree '${renderFfn(fromTree.tree)}'`);
    }
    tree = (fromTree ?? fromFormula)?.tree;
  }
  const stack = x.stack;
  if (!(Number.isInteger(stack) && (stack as number) >= 1 && (stack as number) <= FFN_MAX_STACK)) {
    errors.push(`${at('stack')}: must be an integer in 1..${FFN_MAX_STACK}, got ${describe(stack)}`);
  }
  const ratio = x.ratio;
  if (!(FFN_RATIOS as readonly unknown[]).includes(ratio)) {
    errors.push(`${at('ratio')}: must be one of ${FFN_RATIOS.join(', ')}, got ${describe(ratio)}`);
  }
  if (errors.length || !tree) return { errors };
  return { genome: { tree, stack: stack as number, ratio: ratio as number }, errors: [] };
}

const isValidTree = (t: FfnNode) => checkFfnTree(t).errors.length === 0;

// ---------------------------------------------------------------- evaluation and identity

export interface FfnTreeImpl<T> {
  L1(t: T): T;
  L2(t: T): T;
  unary(op: string, t: T): T;
  binary(op: string, a: T, b: T): T;
}

/** Evaluate a (checked) tree on input x; the compiler passes tensors, the fingerprint arrays. */
export function evalFfnTree<T>(tree: FfnNode, x: T, impl: FfnTreeImpl<T>): T {
  const go = (n: FfnNode): T => {
    const ins = n.in ?? [];
    if (ffnArity(n.op) !== ins.length) {
      throw new OpnasError(`cannot evaluate FFN node '${n.op}' with ${ins.length} inputs (check the genome first)`);
    }
    if (n.op === FFN_LEAF) return x;
    if (n.op === 'L1') return impl.L1(go(ins[0]));
    if (n.op === 'L2') return impl.L2(go(ins[0]));
    if (isFfnUnary(n.op)) return impl.unary(n.op, go(ins[0]));
    return impl.binary(n.op, go(ins[0]), go(ins[1]));
  };
  return go(tree);
}

interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

function matmul(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new OpnasError(`fingerprint: cannot multiply [${a.rows}x${a.cols}] by [${b.rows}x${b.cols}]`);
  const out = new Float64Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k];
      for (let j = 0; j < b.cols; j++) out[i * b.cols + j] += v * b.data[k * b.cols + j];
    }
  return { rows: a.rows, cols: b.cols, data: out };
}

// A fixed batch of 6 tokens at d = 4 and fixed L1 [4 x 8], L2 [8 x 4] (no bias): the ratio is
// hashed separately, so one intermediate width serves every r.
const FP_X: Mat = { rows: 6, cols: 4, data: fixedMatrix(0xf0f1, 6, 4) };
const FP_W1: Mat = { rows: 4, cols: 8, data: fixedMatrix(0xf0f2, 4, 8) };
const FP_W2: Mat = { rows: 8, cols: 4, data: fixedMatrix(0xf0f3, 8, 4) };

const fingerprintImpl: FfnTreeImpl<Mat> = {
  L1: (m) => matmul(m, FP_W1),
  L2: (m) => matmul(m, FP_W2),
  unary: (op, m) => ({ ...m, data: m.data.map(FFN_UNARY[op as keyof typeof FFN_UNARY].js) }),
  binary: (op, a, b) => {
    if (a.cols !== b.cols) throw new OpnasError(`fingerprint: '${op}' operands have different widths`);
    const f = FFN_BINARY[op as keyof typeof FFN_BINARY].js;
    return { ...a, data: a.data.map((v, i) => f(v, b.data[i])) };
  },
};

/** Functional fingerprint of a tree: its rounded output on the fixed input. */
export function ffnFingerprint(tree: FfnNode): string {
  return fingerprint(evalFfnTree(tree, FP_X, fingerprintImpl).data);
}

export function ffnId(g: FfnGenome): string {
  return hashId('ffn', ffnFingerprint(g.tree), `stack=${g.stack}`, `ratio=${g.ratio}`);
}

// ---------------------------------------------------------------- cost

interface Site {
  node: FfnNode;
  /** Child indices from the root. */
  path: number[];
  parent?: FfnNode;
  width: Width;
  /** Whether the subtree holds L1 or L2. */
  linear: boolean;
}

/** Every node of a checked tree, parents before children, with its width. */
function sites(tree: FfnNode): Site[] {
  const out: Site[] = [];
  const go = (n: FfnNode, path: number[], parent?: FfnNode): { width: Width; linear: boolean } => {
    const site: Site = { node: n, path, parent, width: 'd', linear: false };
    out.push(site);
    const kids = (n.in ?? []).map((c, i) => go(c, [...path, i], n));
    site.width = n.op === 'L1' ? 'rd' : n.op === 'L2' || n.op === FFN_LEAF ? 'd' : kids[0].width;
    site.linear = n.op === 'L1' || n.op === 'L2' || kids.some((k) => k.linear);
    return site;
  };
  go(tree, []);
  return out;
}

/**
 * Parameters and FLOPs per token of a layer's stacked FFN blocks at hidden width d. Per block the
 * compiler allocates L1 kernel [d, rd] + bias [rd], L2 kernel [rd, d] + bias [d], LayerNorm
 * gamma [d] + beta [d]. FLOPs count the two matmuls (2 FLOPs per multiply-add) and the tree's
 * element-wise ops at their widths; bias adds, the residual and LayerNorm are left out.
 */
export function ffnCost(g: FfnGenome, d: number): Cost {
  if (!(Number.isInteger(d) && d > 0)) throw new RangeError(`ffnCost: d must be a positive integer, got ${d}`);
  const rd = g.ratio * d;
  const params = d * rd + rd + rd * d + d + 2 * d;
  let flops = 2 * d * rd * 2;
  for (const s of sites(g.tree)) {
    const perElement = isFfnUnary(s.node.op) ? FFN_UNARY[s.node.op].flops : isFfnBinary(s.node.op) ? FFN_BINARY[s.node.op].flops : 0;
    flops += perElement * (s.width === 'd' ? d : rd);
  }
  return { params: params * g.stack, flops: flops * g.stack };
}

// ---------------------------------------------------------------- sampling

/**
 * Draw one of `ops`, proportional to `priority` when given (operation-priority evolution).
 * Ops with no finite priority count as untried and are drawn first; negative priorities count as 0.
 */

/** A random subtree without L1/L2 (width d) of height at most maxHeight. */
function lfree(rng: Rng, maxHeight: number, parentOp: string | undefined, priority?: OpPriority): FfnNode {
  if (maxHeight <= 1 || rng.bool(0.4)) return leaf();
  if (!(parentOp && isFfnUnary(parentOp)) && rng.bool(0.5)) {
    const act = drawOp(FFN_UNARY_OPS, rng, priority);
    return node(act, lfree(rng, maxHeight - 1, act, priority));
  }
  const op = drawOp(FFN_BINARY_OPS, rng, priority);
  const a = lfree(rng, maxHeight - 1, op, priority);
  for (let i = 0; i < 4; i++) {
    const b = lfree(rng, maxHeight - 1, op, priority);
    if (renderFfn(a) !== renderFfn(b)) return node(op, a, b);
  }
  return leaf();
}

function proposeTree(rng: Rng): FfnNode {
  // The standard family L2(act(L1(x))) gets a fixed share so the search always sees it.
  if (rng.bool(0.3)) {
    const core = node('L1', leaf());
    return node('L2', rng.bool(0.9) ? node(rng.choice(FFN_UNARY_OPS), core) : core);
  }
  let t = node('L1', lfree(rng, rng.range(1, 3), 'L1'));
  if (rng.bool(0.7)) t = node(rng.choice(FFN_UNARY_OPS), t);
  t = node('L2', t);
  for (let level = rng.int(3); level > 0; level--) {
    if (isFfnUnary(t.op) || rng.bool(0.5)) {
      const other = lfree(rng, rng.range(1, 2), undefined);
      const op = rng.choice(FFN_BINARY_OPS);
      t = rng.bool() ? node(op, t, other) : node(op, other, t);
    } else {
      t = node(rng.choice(FFN_UNARY_OPS), t);
    }
  }
  return t;
}

function sampleTree(rng: Rng): FfnNode {
  for (let i = 0; i < 64; i++) {
    const t = proposeTree(rng);
    if (isValidTree(t)) return t;
  }
  return STANDARD_FFN.tree;
}

export function sampleFfn(rng: Rng): FfnGenome {
  return { tree: sampleTree(rng), stack: rng.range(1, FFN_MAX_STACK), ratio: rng.choice(FFN_RATIOS) };
}

// ---------------------------------------------------------------- mutation

function replaceAt(tree: FfnNode, path: number[], replacement: FfnNode): FfnNode {
  if (path.length === 0) return replacement;
  const [i, ...rest] = path;
  const ins = tree.in!.slice();
  ins[i] = replaceAt(ins[i], rest, replacement);
  return { op: tree.op, in: ins };
}

type Mutation = (g: FfnGenome, rng: Rng, priority?: OpPriority) => FfnGenome | undefined;

const withTree = (g: FfnGenome, tree: FfnNode): FfnGenome => ({ tree, stack: g.stack, ratio: g.ratio });

/** Picks a site matching `keep`, or undefined when none does. */
function pick(tree: FfnNode, rng: Rng, keep: (s: Site) => boolean): Site | undefined {
  const found = sites(tree).filter(keep);
  return found.length ? rng.choice(found) : undefined;
}

/**
 * EfficientBERT/AutoBERT-style edits. Each returns a candidate (checked by the caller) or
 * undefined when the tree offers no place for it. 'unwrap' (drop a binary op, keeping one operand)
 * is opnas's addition so trees can shrink as well as grow.
 */
const MUTATIONS: { name: string; weight: number; apply: Mutation }[] = [
  {
    name: 'replace-op',
    weight: 3,
    apply: (g, rng, priority) => {
      const s = pick(g.tree, rng, (s) => isFfnUnary(s.node.op) || isFfnBinary(s.node.op));
      if (!s) return undefined;
      const pool = (isFfnUnary(s.node.op) ? FFN_UNARY_OPS : FFN_BINARY_OPS).filter((o) => o !== s.node.op);
      return withTree(g, replaceAt(g.tree, s.path, { op: drawOp(pool, rng, priority), in: s.node.in }));
    },
  },
  {
    name: 'insert-activation',
    weight: 1.5,
    apply: (g, rng, priority) => {
      const s = pick(g.tree, rng, (s) => !isFfnUnary(s.node.op) && !(s.parent && isFfnUnary(s.parent.op)));
      if (!s) return undefined;
      return withTree(g, replaceAt(g.tree, s.path, node(drawOp(FFN_UNARY_OPS, rng, priority), s.node)));
    },
  },
  {
    name: 'remove-activation',
    weight: 1.5,
    apply: (g, rng) => {
      const s = pick(g.tree, rng, (s) => isFfnUnary(s.node.op));
      return s && withTree(g, replaceAt(g.tree, s.path, s.node.in![0]));
    },
  },
  {
    name: 'wrap-binary',
    weight: 1.5,
    apply: (g, rng, priority) => {
      const s = pick(g.tree, rng, (s) => s.width === 'd');
      if (!s) return undefined;
      const donors = sites(g.tree).filter((d) => !d.linear && d.node.op !== FFN_LEAF);
      const roll = rng.next();
      const other =
        roll < 0.5 || donors.length === 0
          ? leaf()
          : roll < 0.75
            ? node(drawOp(FFN_UNARY_OPS, rng, priority), leaf())
            : rng.choice(donors).node;
      const op = drawOp(FFN_BINARY_OPS, rng, priority);
      return withTree(g, replaceAt(g.tree, s.path, rng.bool() ? node(op, s.node, other) : node(op, other, s.node)));
    },
  },
  {
    name: 'unwrap-binary',
    weight: 1,
    apply: (g, rng) => {
      const s = pick(g.tree, rng, (s) => isFfnBinary(s.node.op));
      if (!s) return undefined;
      const ins = s.node.in!;
      const keep = sites(ins[0]).some((k) => k.linear) ? 0 : sites(ins[1]).some((k) => k.linear) ? 1 : rng.int(2);
      return withTree(g, replaceAt(g.tree, s.path, ins[keep]));
    },
  },
  {
    name: 'change-stack',
    weight: 1,
    apply: (g, rng) => ({ ...g, stack: rng.choice(Array.from({ length: FFN_MAX_STACK }, (_, i) => i + 1).filter((v) => v !== g.stack)) }),
  },
  {
    name: 'change-ratio',
    weight: 1,
    apply: (g, rng) => ({ ...g, ratio: rng.choice(FFN_RATIOS.filter((r) => r !== g.ratio)) }),
  },
];

/**
 * A different FFN genome. `keepRatio`: never change the expansion ratio (a coarse-to-fine search's
 * block stage, where the ratio belongs to the macro shape searched later).
 */
export function mutateFfn(g: FfnGenome, rng: Rng, opts: { priority?: OpPriority; keepRatio?: boolean } = {}): FfnGenome {
  const before = ffnId(g);
  const mutations = opts.keepRatio ? MUTATIONS.filter((m) => m.name !== 'change-ratio') : MUTATIONS;
  const weights = mutations.map((m) => m.weight);
  for (let attempt = 0; attempt < 64; attempt++) {
    const child = mutations[rng.weighted(weights)].apply(g, rng, opts.priority);
    if (child && isValidTree(child.tree) && ffnId(child) !== before) return child;
  }
  for (let attempt = 0; attempt < 16; attempt++) {
    const fresh = sampleFfn(rng);
    if (opts.keepRatio) fresh.ratio = g.ratio;
    if (ffnId(fresh) !== before) return fresh;
  }
  // A different stack always changes the id, and any stack in range keeps the genome valid.
  return { ...g, stack: (g.stack % FFN_MAX_STACK) + 1 };
}

// ---------------------------------------------------------------- the space

/** The mutable ops a genome uses (L1, L2 and x are in every genome), sorted. */
export function ffnOps(g: FfnGenome): string[] {
  const used = new Set(sites(g.tree).map((s) => s.node.op).filter((op) => isFfnUnary(op) || isFfnBinary(op)));
  return [...used].sort();
}

export function renderFfnGenome(g: FfnGenome): string {
  return `${g.stack} x [r=${g.ratio}] ${renderFfn(g.tree)}`;
}

export const ffnSpace: SearchSpace<FfnGenome> = {
  name: 'ffn-tree',
  description:
    'Feed-forward block as an expression tree over L1 (d->rd), L2 (rd->d), activations and binary ops (EfficientBERT), stacked 1..4 times with ratio r',
  sample: sampleFfn,
  mutate: mutateFfn,
  check: (x) => checkFfn(x),
  id: ffnId,
  render: renderFfnGenome,
  cost: (g) => ffnCost(g, FFN_COST_HIDDEN),
  ops: ffnOps,
  opSet: () => [...FFN_UNARY_OPS, ...FFN_BINARY_OPS],
};

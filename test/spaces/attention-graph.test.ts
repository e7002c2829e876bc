import { describe, expect, it } from 'vitest';
import { Rng } from '../../spaces/base/rng.js';
import {
  analyse,
  attentionCost,
  attentionId,
  checkAttention,
  mutateAttention,
  parseAttentionFormula,
  renderAttention,
  sampleAttention,
  STANDARD_ATTENTION,
} from '../../spaces/attention-graph.js';
import { ATTN_OPS } from '../../spaces/ops.js';

const AUTOBERT_L2 = 'matmul(softmax(scale(matmul(Q, transpose(neg(logsigmoid(neg(K))))))), add(Q, K))';

function errorsOf(x: unknown): string[] {
  return checkAttention(x).errors;
}

describe('attention graph space', () => {
  it('expresses standard attention and renders it as the textbook formula', () => {
    expect(analyse(STANDARD_ATTENTION).errors).toEqual([]);
    expect(renderAttention(STANDARD_ATTENTION)).toBe('matmul(softmax(scale(matmul(Q, transpose(K)))), V)');
  });

  it("expresses AutoBERT-Zero's second layer (no V projection) and parses/renders it round trip", () => {
    const r = checkAttention(AUTOBERT_L2);
    expect(r.errors).toEqual([]);
    expect(renderAttention(r.genome!)).toBe(AUTOBERT_L2);
    expect(analyse(r.genome!).info!.inputs).toEqual(new Set(['Q', 'K']));
    // two projections (Q, K) + output, at d = 128
    expect(attentionCost(r.genome!, 128, 2, 64).params).toBe(3 * (128 * 128 + 128));
    expect(attentionCost(STANDARD_ATTENTION, 128, 2, 64).params).toBe(4 * (128 * 128 + 128));
  });

  it('gives commuted binary ops the same id and different functions different ids', () => {
    const a = parseAttentionFormula('matmul(softmax(scale(matmul(Q, transpose(K)))), add(Q, V))').graph!;
    const b = parseAttentionFormula('matmul(softmax(scale(matmul(Q, transpose(K)))), add(V, Q))').graph!;
    const c = parseAttentionFormula('matmul(softmax(scale(matmul(Q, transpose(K)))), mul(V, Q))').graph!;
    expect(attentionId(a)).toBe(attentionId(b));
    expect(attentionId(a)).not.toBe(attentionId(c));
    const dbl = parseAttentionFormula('matmul(softmax(scale(matmul(Q, transpose(neg(neg(K)))))), V)').graph!;
    expect(attentionId(dbl)).toBe(attentionId(STANDARD_ATTENTION));
    const masked = { ...STANDARD_ATTENTION, mask: 'band:2' };
    expect(attentionId(masked)).not.toBe(attentionId(STANDARD_ATTENTION));
  });

  it('has an id that does not change between versions or processes', () => {
    // computed once from the fixed fingerprint inputs; a change here breaks every saved run
    expect(attentionId(STANDARD_ATTENTION)).toBe('767b27f9eb2b1419');
  });

  it('gives each kind of bad input its own message', () => {
    expect(errorsOf({ nodes: [{ op: 'frobnicate', in: ['Q'] }] })[0]).toMatch(/unknown op 'frobnicate' \(known: neg, transpose/);
    expect(errorsOf({ nodes: [{ op: 'matmul', in: ['Q'] }] })[0]).toMatch(/'matmul' takes 2 inputs, got 1 \(wrong arity\)/);
    expect(errorsOf({ nodes: [{ op: 'neg', in: [1] }, { op: 'neg', in: [0] }] })[0]).toMatch(/nodes\[0\]: input 1 is not an earlier node \(cycle or forward reference\)/);
    expect(errorsOf({ nodes: [{ op: 'neg', in: [0] }] })[0]).toMatch(/self-loop/);
    expect(errorsOf({ nodes: [{ op: 'matmul', in: ['Q', 'K'] }] })[0]).toMatch(/matmul needs inner dims to agree: \[T,D\] x \[T,D\]/);
    expect(errorsOf({ nodes: [{ op: 'add', in: ['Q', 'K'] }] })[0]).toMatch(/output never mixes positions/);
    expect(errorsOf('matmul(Q, transpose(K))')[0]).toMatch(/output .* has shape \[T,T\], must be \[T,D\]/);
    expect(errorsOf({ nodes: [{ op: 'neg', in: ['Q'] }, ...STANDARD_ATTENTION.nodes.map((n) => ({ op: n.op, in: n.in.map((r) => (typeof r === 'number' ? r + 1 : r)) }))] })[0]).toMatch(
      /node 0 not used by the output/,
    );
    expect(errorsOf({ ...STANDARD_ATTENTION, mask: 'diagonal' })[0]).toMatch(/unknown mask "diagonal"/);
    expect(errorsOf({ nodes: [{ op: 'transpose', in: ['X'] }] })[0]).toMatch(/unknown input "X"/);
    expect(errorsOf('matmul(softmax(Q, V)')[0]).toMatch(/formula: expected ',' or '\)'/);
    expect(errorsOf(42)[0]).toMatch(/expected an object with 'nodes'/);
    expect(errorsOf({ nodes: [{ op: 'neg' }] })[0]).toMatch(/nodes\[0\]\.in: expected an array/);
    const many = errorsOf({ nodes: [{ op: 'bogus', in: ['Q'] }, { op: 'neg', in: ['Q', 'K'] }] });
    expect(many.length).toBe(2);
  });

  it('rejects a mask when no softmax over [T,T] scores exists', () => {
    const g = parseAttentionFormula('matmul(cosine(Q, K), V) [mask band:4]').graph!;
    expect(checkAttention(g).errors[0]).toMatch(/a mask needs a softmax over \[T,T\] scores/);
  });

  it('samples and mutates only valid graphs, deterministically', () => {
    const rng = new Rng(7);
    const ids = new Set<string>();
    let g = sampleAttention(rng);
    for (let i = 0; i < 300; i++) {
      const s = sampleAttention(rng);
      expect(analyse(s).errors).toEqual([]);
      ids.add(attentionId(s));
      const m = mutateAttention(g, rng);
      expect(analyse(m).errors).toEqual([]);
      expect(attentionId(m)).not.toBe(attentionId(g));
      g = m;
    }
    expect(ids.size).toBeGreaterThan(200);
    const again = new Rng(7);
    expect(renderAttention(sampleAttention(again))).toBe(renderAttention(sampleAttention(new Rng(7))));
  });

  it('steers mutation towards high-priority ops', () => {
    const rng = new Rng(3);
    let hits = 0;
    for (let i = 0; i < 200; i++) {
      const m = mutateAttention(STANDARD_ATTENTION, rng, { ...Object.fromEntries([...ATTN_OPS.keys()].map((o) => [o, 1])), tanh: 1000 });
      if (m.nodes.some((n) => n.op === 'tanh')) hits++;
    }
    expect(hits).toBeGreaterThan(60);
  });
});

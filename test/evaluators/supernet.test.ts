import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../evaluators/backend.js';
import { LATENCY_RUNTIMES } from '../../evaluators/latency.js';
import { attentionMapNode } from '../../evaluators/compile.js';
import { distillWarmup, ensureTeacher, loadTeacher, mappedLayer, maskedMse, readTeacherLogits, softCrossEntropy, teacherDir } from '../../evaluators/supernet/distill.js';
import { devSubset, scoreWithSupernet, Supernet, SupernetEvaluator, tokenizerHash, trainSupernet, type SupernetConfig } from '../../evaluators/supernet/supernet.js';
import { loadTask } from '../../evaluators/tasks/named.js';
import { encodeTask, type EncodedTask } from '../../evaluators/train.js';
import { Rng } from '../../spaces/base/rng.js';
import { parseAttentionFormula } from '../../spaces/attention-graph.js';
import { backboneSpace, bertBaseline } from '../../spaces/backbone.js';
import { hashId } from '../../spaces/base/hash.js';
import type { BackboneGenome } from '../../spaces/types.js';

const FIX = join(import.meta.dirname, '../fixtures/train');
const MACRO = { layers: [1, 2] as [number, number], hidden: [16, 32], heads: [1, 2], convProbability: 0.3 };
const SPEC = { train: join(FIX, 'reviews.csv'), dev: join(FIX, 'reviews-dev.tsv'), textColumn: 'sentence', labelColumn: 'label' };
let task: EncodedTask;
let CFG: SupernetConfig;

beforeAll(async () => {
  await initBackend('wasm');
  const data = loadTask(SPEC);
  task = encodeTask(data, { vocabSize: 60, maxLen: 16 });
  CFG = { macro: MACRO, vocabSize: task.tokenizer.vocabSize, maxLen: 16, numClasses: task.numClasses };
});

const IDS = () => tf.tensor2d([[2, 5, 7, 9, 3, 0], [2, 11, 12, 3, 0, 0]], [2, 6], 'int32');
const MASK = () => tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]], [2, 6]);

function logits(m: { forward: (i: tf.Tensor2D, k: tf.Tensor2D) => { logits: tf.Tensor2D } }): number[][] {
  return tf.tidy(() => m.forward(IDS(), MASK()).logits.arraySync());
}

function withConv(g: BackboneGenome, kernel: number): BackboneGenome {
  g.layers[0].mixer = { type: 'conv', kernel };
  return g;
}

function snapshot(sn: Supernet): Map<string, Float32Array> {
  return new Map([...sn.vars].map(([n, v]) => [n, v.dataSync() as Float32Array]));
}

function changed(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  return [...a.keys()].filter((n) => a.get(n)!.some((x, i) => x !== b.get(n)![i]));
}

describe('supernet', () => {
  it('holds every weight at its widest: width, heads, depth, FFN ratio 4 x stack 4, kernel 65', () => {
    const sn = Supernet.create(CFG, new Rng(0));
    expect(sn.vars.get('l1.att.V.w')!.shape).toEqual([32, 32]);
    expect(sn.vars.get('l0.conv.k')!.shape).toEqual([2, 65]);
    expect(sn.vars.get('l1.ffn3.L1.w')!.shape).toEqual([32, 128]);
    expect(sn.vars.has('l2.att.Q.w')).toBe(false);
    expect(sn.covers(bertBaseline(3, 64, 4))).toEqual(['hidden 64 > the supernet\'s widest 32', '3 layers > the supernet\'s 2', '4 heads > the supernet\'s 2']);
    expect(() => sn.view(bertBaseline(1, 64, 2))).toThrow(/does not fit the supernet: hidden 64/);
    sn.dispose();
  });

  it('a candidate inherits leading slices, the GLU halves of the conv input and the centre of the kernel', () => {
    const sn = Supernet.create(CFG, new Rng(1));
    const g = withConv(bertBaseline(2, 16, 2), 5);
    g.layers[1].ffn = { ...g.layers[1].ffn, ratio: 2, stack: 2 };
    const m = sn.extract(g);
    const full = (n: string) => sn.vars.get(n)!.arraySync() as number[][];
    const own = (n: string) => m.params.get(n)!.arraySync() as number[][];
    expect(own('l1.att.Q.w')).toEqual(full('l1.att.Q.w').slice(0, 16).map((r) => r.slice(0, 16)));
    expect(own('l1.ffn1.L1.w')).toEqual(full('l1.ffn1.L1.w').slice(0, 16).map((r) => r.slice(0, 32)));
    expect(own('l0.conv.in.w')).toEqual(full('l0.conv.in.w').slice(0, 16).map((r) => [...r.slice(0, 16), ...r.slice(32, 48)]));
    expect(own('l0.conv.k')).toEqual(full('l0.conv.k').map((r) => r.slice(30, 35)));
    expect(m.paramCount()).toBe([...m.params.values()].reduce((a, v) => a + v.size, 0));
    // the live view computes the same function as the copy
    const v = sn.view(g);
    expect(v.params.size).toBe(0);
    const a = logits(v);
    const b = logits(m);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) expect(a[i][j]).toBeCloseTo(b[i][j], 5);
    m.dispose();
    sn.dispose();
  });

  it('attention graphs share one attention branch; the conv branch is separate (bi-branch)', () => {
    const sn = Supernet.create(CFG, new Rng(2));
    const std = bertBaseline(1, 32, 2);
    const other = bertBaseline(1, 32, 2);
    other.layers[0].mixer = { type: 'attention', graph: parseAttentionFormula('matmul(softmax(scale(matmul(Q, transpose(neg(logsigmoid(neg(K))))))), add(Q, K))').graph! };
    const conv = withConv(bertBaseline(1, 32, 2), 7);
    const before = [std, other, conv].map((g) => logits(sn.view(g)));
    const q = sn.vars.get('l0.att.Q.w')!;
    q.assign(tf.mul(q, 3));
    const after = [std, other, conv].map((g) => logits(sn.view(g)));
    expect(after[0]).not.toEqual(before[0]);
    expect(after[1]).not.toEqual(before[1]);
    expect(after[2]).toEqual(before[2]);
    sn.dispose();
  });

  it('a training step changes only the weights of the sampled path', async () => {
    const sn = Supernet.create(CFG, new Rng(3));
    const path = withConv(bertBaseline(1, 16, 1), 3);
    const before = snapshot(sn);
    await trainSupernet(sn, task, { steps: 1, batchSize: 8, sandwich: false }, { samplePath: () => path });
    const moved = changed(before, snapshot(sn));
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.some((n) => n.startsWith('l1.') || n.includes('.att.') || n.startsWith('l0.ffn1'))).toBe(false);
    expect(moved).toContain('l0.conv.k');
    expect(moved).toContain('emb.tok');
    // the sandwich rule also trains the largest standard path: every layer's attention and first FFN, not the other stacked FFNs
    const mid = snapshot(sn);
    await trainSupernet(sn, task, { steps: 1, batchSize: 8, sandwich: true }, { samplePath: () => path });
    const both = changed(mid, snapshot(sn));
    expect(both).toEqual(expect.arrayContaining(['l0.conv.k', 'l0.att.Q.w', 'l1.att.V.w', 'l1.ffn0.L2.w']));
    expect(both.some((n) => n.startsWith('l1.ffn1') || n.startsWith('l1.conv'))).toBe(false);
    sn.dispose();
  });

  it('learns: the loss of a fixed path falls', async () => {
    const sn = Supernet.create(CFG, new Rng(4));
    const path = bertBaseline(1, 32, 2);
    const losses: number[] = [];
    await trainSupernet(sn, task, { steps: 60, batchSize: 16, lr: 3e-3, sandwich: false }, { samplePath: () => path, logEvery: 10, onStep: (s) => losses.push(s.loss) });
    expect(losses.at(-1)!).toBeLessThan(losses[0] - 0.1);
    sn.dispose();
  });

  it('scoring with a fine-tune works on a copy: the supernet is unchanged and no tensor leaks', async () => {
    const sn = Supernet.create(CFG, new Rng(5));
    const before = snapshot(sn);
    const dev = devSubset(task.dev, 0);
    const n0 = tf.memory().numTensors;
    const s = await scoreWithSupernet(sn, bertBaseline(2, 16, 2), task, dev, { fineTuneSteps: 3, batchSize: 8 }, 0);
    await scoreWithSupernet(sn, bertBaseline(1, 32, 1), task, dev, { fineTuneSteps: 0 });
    expect(tf.memory().numTensors).toBe(n0);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(s).toBeLessThanOrEqual(1);
    expect(changed(before, snapshot(sn))).toEqual([]);
    sn.dispose();
  });

  it('dev subsets are fixed by the seed', () => {
    const a = devSubset(task.train, 10, 1);
    expect(a.seqs).toHaveLength(10);
    expect(devSubset(task.train, 10, 1).labels).toEqual(a.labels);
    expect(devSubset(task.train, 0).seqs).toHaveLength(task.train.seqs.length);
  });
});

describe('supernet checkpoints', () => {
  it('save then load gives the same weights and the same scores', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'opnas-sn-')), 'ckpt');
    const sn = Supernet.create(CFG, new Rng(6));
    await sn.save(dir, { steps: 7 });
    const { supernet, meta } = await Supernet.load(dir, CFG);
    expect(meta.steps).toBe(7);
    expect(changed(snapshot(sn), snapshot(supernet))).toEqual([]);
    const g = withConv(bertBaseline(2, 16, 2), 9);
    expect(logits(supernet.view(g))).toEqual(logits(sn.view(g)));
    sn.dispose();
    supernet.dispose();
  });

  it("holds a learnt mask per layer, shared by every 'dam' candidate; a checkpoint from before it loads with the mask at 0", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'opnas-sn-')), 'ckpt');
    const sn = Supernet.create(CFG, new Rng(8));
    expect(sn.vars.get('l1.att.dam')!.shape).toEqual([16, 16]);
    const g = bertBaseline(2, 16, 2);
    const dam = structuredClone(g);
    for (const l of dam.layers) if (l.mixer.type === 'attention') l.mixer.graph.mask = 'dam';
    expect(logits(sn.view(dam))).toEqual(logits(sn.view(g))); // 0: a uniform mask
    sn.vars.get('l0.att.dam')!.assign(tf.fill([16, 16], -3).add(tf.eye(16).mul(6)) as tf.Tensor2D);
    const trained = logits(sn.view(dam));
    expect(trained).not.toEqual(logits(sn.view(g)));
    await sn.save(dir);
    // the same checkpoint as an older opnas wrote it: no '.att.dam' tensors
    const manifest = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')) as { tensors: { name: string; shape: number[]; offset: number }[] };
    const bin = new Float32Array(readFileSync(join(dir, 'weights.bin')).buffer.slice(0));
    const keep = manifest.tensors.filter((t) => !t.name.endsWith('.att.dam'));
    const parts: Float32Array[] = [];
    let offset = 0;
    for (const t of keep) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      parts.push(bin.slice(t.offset, t.offset + n));
      t.offset = offset;
      offset += n;
    }
    const old = new Float32Array(offset);
    parts.reduce((at, p) => (old.set(p, at), at + p.length), 0);
    writeFileSync(join(dir, 'weights.json'), JSON.stringify({ ...manifest, tensors: keep }));
    writeFileSync(join(dir, 'weights.bin'), Buffer.from(old.buffer));
    const { supernet } = await Supernet.load(dir, CFG);
    expect(logits(supernet.view(dam))).toEqual(logits(sn.view(g)));
    expect(changed(snapshot(sn), snapshot(supernet))).toEqual(['l0.att.dam']);
    sn.dispose();
    supernet.dispose();
  });

  it('refuses a checkpoint from another space, a corrupted one and a folder that is not one', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'opnas-sn-')), 'ckpt');
    const sn = Supernet.create(CFG, new Rng(7));
    await sn.save(dir);
    sn.dispose();
    await expect(Supernet.load(dir, { ...CFG, macro: { ...MACRO, hidden: [16, 64], layers: [1, 4] } })).rejects.toThrow(
      /built for another space or task \(layers \[1,2\], expected \[1,4\]; hidden \[16,32\], expected \[16,64\]\)/,
    );
    await expect(Supernet.load(dir, { ...CFG, numClasses: 3 })).rejects.toThrow(/classes 2, expected 3/);
    writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(8));
    await expect(Supernet.load(dir, CFG)).rejects.toThrow(/weights.bin holds 2 values, its supernet.json needs \d+ \(an interrupted save or a mixed-up folder\)/);
    await expect(Supernet.load(FIX, CFG)).rejects.toThrow(/no supernet.json \(not a supernet checkpoint/);
  });
});

/** A fresh supernet (seed 10) saved with the task's tokenizer, as a search leaves one. */
async function savedCheckpoint() {
  const dir = join(mkdtempSync(join(tmpdir(), 'opnas-sn-')), 'ckpt');
  const tok = task.tokenizer.toJSON();
  const sn = Supernet.create(CFG, new Rng(10));
  await sn.save(dir, { tokenizer: tokenizerHash(tok) });
  sn.dispose();
  return { dir, tok };
}

describe('supernet evaluator', () => {
  it('scores candidates from a checkpoint, the same for the same seed, and refuses another tokenizer', async () => {
    const { dir, tok } = await savedCheckpoint();
    const cfg = { task: SPEC, taskSeed: 0, tokenizer: tok, macro: MACRO, maxLen: 16, checkpoint: dir, score: { fineTuneSteps: 2, batchSize: 8 }, backend: 'wasm' as const };
    const e = await SupernetEvaluator.create(cfg);
    const c = { genome: withConv(bertBaseline(2, 16, 2), 5), id: 'x', origin: 'sample' as const };
    const a = await e.score(c, { seed: 4 });
    const b = await e.score(c, { seed: 4 });
    expect(a.scores.dev).toBe(b.scores.dev);
    expect(a.scores.latency).toBeGreaterThan(0);
    expect(e.scoreNames).toEqual(['dev', 'latency', 'params', 'flops']);
    await e.close();
    const other = { ...tok, vocab: [...tok.vocab.slice(0, -1), 'zzz'] };
    await expect(SupernetEvaluator.create({ ...cfg, tokenizer: other })).rejects.toThrow(/was trained with another tokenizer/);
  });

  it('with latencyRuntime onnx, the latency score is ONNX Runtime\'s time of the candidate\'s graph', async () => {
    const { dir, tok } = await savedCheckpoint();
    const spy = vi.spyOn(LATENCY_RUNTIMES.onnx, 'candidate');
    try {
      const e = await SupernetEvaluator.create({ task: SPEC, taskSeed: 0, tokenizer: tok, macro: MACRO, maxLen: 16, checkpoint: dir, score: { batchSize: 8 }, backend: 'wasm', latencyRuntime: 'onnx' });
      const c = { genome: withConv(bertBaseline(2, 16, 2), 5), id: 'x', origin: 'sample' as const };
      const r = await e.score(c, { seed: 4 });
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0][0]).toEqual(c.genome);
      expect(spy.mock.calls[0][1]).toEqual({ vocabSize: tok.vocab.length, maxLen: 16, numClasses: task.numClasses });
      expect(r.scores.latency).toBe(await spy.mock.results[0].value);
      expect(r.scores.latency).toBeGreaterThan(0);
      await e.close();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('distillation', () => {
  it('soft cross-entropy is T² times the cross-entropy of the softened distributions', () => {
    const s = tf.tensor2d([[1, 2, 0.5]]);
    const t = tf.tensor2d([[0.2, 1.5, -1]]);
    const T = 2;
    const p = [0.2, 1.5, -1].map((v) => Math.exp(v / T));
    const q = [1, 2, 0.5].map((v) => Math.exp(v / T));
    const sp = p.reduce((a, b) => a + b);
    const sq = q.reduce((a, b) => a + b);
    const want = -T * T * p.reduce((acc, pi, i) => acc + (pi / sp) * Math.log(q[i] / sq), 0);
    expect(softCrossEntropy(s, t, T).dataSync()[0]).toBeCloseTo(want, 5);
    // a masked MSE ignores padding
    const a = tf.tensor3d([[[1, 1], [5, 5]]]);
    const b = tf.tensor3d([[[0, 1], [0, 0]]]);
    expect(maskedMse(a, b, tf.tensor2d([[1, 0]])).dataSync()[0]).toBeCloseTo(0.5, 6);
  });

  it('maps student layers uniformly onto the teacher', () => {
    expect([0, 1].map((i) => mappedLayer(i, 2, 4))).toEqual([1, 3]);
    expect([0].map((i) => mappedLayer(i, 1, 2))).toEqual([1]);
    expect([0, 1, 2].map((i) => mappedLayer(i, 3, 2))).toEqual([0, 1, 1]);
  });

  it('teacher logits: clear errors for a wrong row count, class count or a bad row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opnas-kd-'));
    const f = join(dir, 'logits.jsonl');
    writeFileSync(f, '[1, 2]\n[0.5, -1]\n');
    expect(() => readTeacherLogits(f, 3, 2)).toThrow(/2 rows, but the task has 3 training examples/);
    expect(() => readTeacherLogits(f, 2, 3)).toThrow(/line 1: 2 logits, but the task has 3 classes/);
    writeFileSync(f, '{"logits": [1, 2]}\n[0.5, "x"]\n');
    expect(() => readTeacherLogits(f, 2, 2)).toThrow(/line 2: logit 1 is "x", not a finite number/);
    writeFileSync(f, '{"logits": [1, 2]}\n[0.5, -1]\n\n');
    expect([...readTeacherLogits(f, 2, 2)]).toEqual([1, 2, 0.5, -1]);
    expect(() => readTeacherLogits(join(dir, 'none.jsonl'), 2, 2)).toThrow(/no such file/);
  });

  it("a teacher's cache folder hashes the training settings teachers were first cached with, so folders of earlier versions are still found; a dropout joins it only when set", () => {
    const tok = task.tokenizer.toJSON();
    const g = bertBaseline(2, 48, 2);
    const train = { steps: 2000, maxLen: 64, evalEvery: 0, patience: 0, seed: 0 };
    // every setting of `opnas train` before --dropout existed, in their order then
    const before = { steps: 2000, batchSize: 32, maxLen: 64, lr: 1e-3, warmup: 0.06, weightDecay: 0.01, clipNorm: 1, evalEvery: 0, patience: 0, bucket: true, seed: 0 };
    const want = join('/runs', 'teachers', `${task.name}-${hashId(task.name, tokenizerHash(tok), backboneSpace().id(g), JSON.stringify(before))}`);
    expect(teacherDir('/runs', task.name, tok, g, train)).toBe(want);
    expect(teacherDir('/runs', task.name, tok, g, { ...train, dropout: 0 })).toBe(want);
    expect(teacherDir('/runs', task.name, tok, g, { ...train, dropout: 0.1 })).not.toBe(want);
  });

  it('warm-up from a cached teacher trains the path and the projections; from logits, without projections', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'opnas-kd-'));
    const tok = task.tokenizer.toJSON();
    const t = await ensureTeacher(runs, bertBaseline(2, 48, 2), task, tok, { steps: 3, batchSize: 8, maxLen: 16 });
    expect(t.cached).toBe(false);
    expect((await ensureTeacher(runs, bertBaseline(2, 48, 2), task, tok, { steps: 3, batchSize: 8, maxLen: 16 })).cached).toBe(true);
    const sn = Supernet.create(CFG, new Rng(8));
    const before = snapshot(sn);
    const path = bertBaseline(2, 16, 2);
    const w = await distillWarmup(sn, task, { dir: t.dir }, { train: { steps: 2, batchSize: 8 } }, { samplePath: () => path });
    expect(w.steps).toBe(2);
    expect(sn.vars.get('kd.proj1.w')!.shape).toEqual([32, 48]);
    const moved = changed(before, snapshot(sn));
    expect(moved).toContain('l1.att.Q.w');
    expect(Number.isFinite(w.loss)).toBe(true);

    const f = join(runs, 'logits.jsonl');
    writeFileSync(f, task.train.labels.map((y) => JSON.stringify(y ? [-1, 1] : [1, -1])).join('\n'));
    const sn2 = Supernet.create(CFG, new Rng(9));
    await distillWarmup(sn2, task, { logitsFile: f }, { train: { steps: 2, batchSize: 8 } });
    expect([...sn2.vars.keys()].some((n) => n.startsWith('kd.'))).toBe(false);
    sn.dispose();
    sn2.dispose();
  });

  it('attention maps: the softmax node of a graph, head-averaged rows over real keys summing to 1; none for conv or non-softmax maps', () => {
    const std = bertBaseline(2, 16, 2);
    expect(attentionMapNode(std.layers[0].mixer.type === 'attention' ? std.layers[0].mixer.graph : (undefined as never))).toBe(3);
    const cosine = parseAttentionFormula('matmul(cosine(Q, K), V)').graph!;
    expect(attentionMapNode(cosine)).toBe(-1);
    const g = bertBaseline(2, 16, 2);
    g.layers[0].mixer = { type: 'attention', graph: cosine };
    const mixed = withConv(bertBaseline(2, 16, 2), 5);
    const sn = Supernet.create(CFG, new Rng(3));
    tf.tidy(() => {
      const out = sn.view(std).forward(IDS(), MASK(), { maps: true });
      expect(out.maps!.map((m) => m?.shape)).toEqual([[2, 6, 6], [2, 6, 6]]);
      const rows = out.maps![1]!.arraySync();
      for (let r = 0; r < 5; r++) expect(rows[0][r].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(rows[1][0][4]).toBeCloseTo(0, 6); // a padded key gets no weight
      expect(sn.view(g).forward(IDS(), MASK(), { maps: true }).maps!.map((m) => m === undefined)).toEqual([true, false]);
      expect(sn.view(mixed).forward(IDS(), MASK(), { maps: true }).maps!.map((m) => m === undefined)).toEqual([true, false]);
      expect(sn.view(std).forward(IDS(), MASK()).maps).toBeUndefined();
    });
    sn.dispose();
  });

  it('the attention-map loss alone pulls a path\'s maps towards the teacher\'s', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'opnas-kd-'));
    const t = await ensureTeacher(runs, bertBaseline(2, 32, 2), task, task.tokenizer.toJSON(), { steps: 20, batchSize: 8, maxLen: 16 });
    const { model: teacher } = await loadTeacher(t.dir, task, task.tokenizer.toJSON());
    const sn = Supernet.create(CFG, new Rng(4));
    const path = bertBaseline(2, 16, 2);
    const mapGap = () =>
      tf.tidy(() => {
        const a = sn.view(path).forward(IDS(), MASK(), { maps: true }).maps!;
        const b = teacher.forward(IDS(), MASK(), { maps: true }).maps!;
        return a.reduce((s, m, i) => s + tf.mean(tf.square(tf.sub(m!, b[i]!))).dataSync()[0], 0);
      });
    const before = mapGap();
    const w = await distillWarmup(sn, task, { dir: t.dir }, { logits: 0, hidden: 0, attention: 1, train: { steps: 30, batchSize: 8, lr: 3e-3 } }, { samplePath: () => path });
    expect(Number.isFinite(w.loss)).toBe(true);
    expect(mapGap()).toBeLessThan(before * 0.8);
    teacher.dispose();
    sn.dispose();
  });
});

/**
 * `npm run bench`: training throughput of opnas's tfjs models against a PyTorch CPU reference,
 * a per-kernel profile of one training step, throughput of non-baseline genomes, and the padding
 * saved by length bucketing on SST-2. Writes bench/RESULTS.md and prints the same tables.
 *
 * Options: --quick (few steps, a smoke test), --no-torch, --out FILE, --backend NAME (default wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { existingSections } from './sections.js';
import { parallelBench, strategyBench } from './search-bench.js';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BACKEND_CHOICES, initBackend, type BackendChoice, type BackendInfo } from '../evaluators/backend.js';
import { Model } from '../evaluators/compile.js';
import { AdamW, DEFAULT_ADAMW } from '../evaluators/optimizer.js';
import { makeBatches, paddingFraction, type Batch, type BatchOptions } from '../evaluators/tasks/batching.js';
import { loadTask, packageRoot } from '../evaluators/tasks/named.js';
import { encodeTask, trainStep } from '../evaluators/train.js';
import { Rng } from '../spaces/base/rng.js';
import { backboneCost, backboneSpace, bertBaseline, renderMixer } from '../spaces/backbone.js';
import { renderFfnGenome } from '../spaces/ffn-tree.js';
import { DEFAULT_MACRO } from '../spaces/macro.js';
import type { BackboneGenome } from '../spaces/types.js';

// ---------------------------------------------------------------------------------------------
// options

interface Options {
  quick: boolean;
  torch: boolean;
  out: string;
  backend: BackendChoice;
}

const USAGE = `usage: npm run bench -- [--quick] [--no-torch] [--out FILE] [--backend ${BACKEND_CHOICES.join('|')}]
  --quick      a few steps of everything (a smoke test; numbers are not meaningful)
  --no-torch   skip the PyTorch reference
  --out FILE   where to write the report (default bench/RESULTS.md)
  --backend B  tfjs backend (default wasm)`;

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, torch: true, out: path.join(packageRoot(), 'bench', 'RESULTS.md'), backend: 'wasm' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    const name = a.split('=')[0];
    if (name === '--quick') o.quick = true;
    else if (name === '--no-torch') o.torch = false;
    else if (name === '--out') o.out = path.resolve(value());
    else if (name === '--backend') {
      const b = value() as BackendChoice;
      if (!BACKEND_CHOICES.includes(b)) fail(`--backend: '${b}' is not one of ${BACKEND_CHOICES.join(', ')}`);
      o.backend = b;
    } else if (name === '--help' || name === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option '${a}'`);
  }
  return o;
}

function fail(msg: string): never {
  console.error(`bench: ${msg}\n${USAGE}`);
  process.exit(2);
}

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// shared settings

const SEQ = 64;
const BATCH = 32;
const VOCAB = 8192;
const CLASSES = 2;
const LR = 1e-3;
const TORCH_THREADS = 2;
const TOKENS_PER_STEP = BATCH * SEQ;

interface SizeSpec {
  label: string;
  layers: number;
  hidden: number;
  heads: number;
  /** tfjs: rounds, timed steps per round, warm-up steps before the first round (1 before later ones). */
  tfRounds: number;
  tfSteps: number;
  tfWarmup: number;
  /** PyTorch: rounds (placed between tfjs rounds), timed steps and warm-up steps per round. */
  torchRounds: number;
  torchSteps: number;
  torchWarmup: number;
  /** Timed steps of one extra 1-thread PyTorch round after the first 2-thread one (0: none). */
  torch1Steps: number;
}

function sizes(quick: boolean): SizeSpec[] {
  if (quick) {
    return [
      { label: '2L-128', layers: 2, hidden: 128, heads: 2, tfRounds: 2, tfSteps: 2, tfWarmup: 1, torchRounds: 1, torchSteps: 1, torchWarmup: 0, torch1Steps: 1 },
      { label: '4L-256', layers: 4, hidden: 256, heads: 4, tfRounds: 2, tfSteps: 1, tfWarmup: 1, torchRounds: 1, torchSteps: 1, torchWarmup: 0, torch1Steps: 0 },
    ];
  }
  return [
    // PyTorch here: ~2.4 s/step (2-layer), ~17 s/step (4-layer) with the machine shared; whole run ~6-7 min.
    { label: '2L-128', layers: 2, hidden: 128, heads: 2, tfRounds: 3, tfSteps: 20, tfWarmup: 3, torchRounds: 2, torchSteps: 6, torchWarmup: 2, torch1Steps: 6 },
    { label: '4L-256', layers: 4, hidden: 256, heads: 4, tfRounds: 2, tfSteps: 8, tfWarmup: 2, torchRounds: 1, torchSteps: 3, torchWarmup: 1, torch1Steps: 2 },
  ];
}

// ---------------------------------------------------------------------------------------------
// small helpers

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pct = (x: number, d = 1) => (Number.isFinite(x) ? `${(100 * x).toFixed(d)}%` : 'n/a');

function table(head: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const al = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  const lines = [`| ${head.join(' | ')} |`, `|${al.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

/** Random full-length batches (no padding): ids in [4, vocab), labels in {0, 1}. */
function randomBatches(n: number, seed: number): Batch[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const ids = new Int32Array(BATCH * SEQ);
    for (let i = 0; i < ids.length; i++) ids[i] = 4 + rng.int(VOCAB - 4);
    const labels = Int32Array.from({ length: BATCH }, () => rng.int(CLASSES));
    return { ids, mask: new Float32Array(BATCH * SEQ).fill(1), labels, indices: Int32Array.from({ length: BATCH }, (_, i) => i), batchSize: BATCH, seqLen: SEQ };
  });
}

/** A model, its optimizer and a few batches, trained step by step. */
class Trainer {
  readonly model: Model;
  readonly opt: AdamW;
  readonly batches = randomBatches(4, 1);
  private next = 0;
  lastLoss = NaN;

  constructor(readonly genome: BackboneGenome) {
    this.model = new Model(genome, { vocabSize: VOCAB, maxLen: SEQ, numClasses: CLASSES }, new Rng(0));
    this.opt = new AdamW(this.model.params, DEFAULT_ADAMW);
  }

  /** One optimizer step with the loss read back (a sync point). */
  step(): number {
    const loss = trainStep(this.model, this.opt, this.batches[this.next++ % this.batches.length], LR);
    this.lastLoss = loss.dataSync()[0];
    loss.dispose();
    return this.lastLoss;
  }

  /** `warmup` untimed steps, then `steps` timed ones; tokens/s of the timed steps. */
  measure(steps: number, warmup: number): { tokensPerSecond: number; msPerStep: number } {
    for (let i = 0; i < warmup; i++) this.step();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) this.step();
    const ms = performance.now() - t0;
    if (!Number.isFinite(this.lastLoss)) throw new Error(`loss is ${this.lastLoss}`);
    return { tokensPerSecond: (TOKENS_PER_STEP * steps * 1000) / ms, msPerStep: ms / steps };
  }

  dispose(): void {
    this.opt.dispose();
    this.model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// PyTorch reference

interface TorchResult {
  torch: string;
  threads: number;
  tokensPerSecond: number;
  msPerStep: number;
}

const PYTHON = '/usr/bin/python3';

/** Runs bench/torch_bert.py; a string says why it could not. */
function runTorch(layers: number, hidden: number, heads: number, steps: number, warmup: number, threads = TORCH_THREADS): TorchResult | string {
  const script = path.join(packageRoot(), 'bench', 'torch_bert.py');
  const args = [script, layers, hidden, heads, 4 * hidden, SEQ, BATCH, VOCAB, steps, threads, warmup].map(String);
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 15 * 60 * 1000 });
  if (r.error) return `${PYTHON} could not run: ${r.error.message}`;
  if (r.status !== 0) {
    const err = (r.stderr || r.stdout || '').trim().split('\n');
    const last = err[err.length - 1] || `exit status ${r.status ?? r.signal}`;
    return /No module named 'torch'/.test(r.stderr) ? `PyTorch is not installed for ${PYTHON} (${last})` : `torch_bert.py failed: ${last}`;
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as TorchResult;
  } catch {
    return `torch_bert.py printed no JSON: ${line.slice(0, 200)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. throughput vs PyTorch

interface ThroughputRow {
  spec: SizeSpec;
  params: number;
  flopsPerToken: number;
  tf: number[];
  tfMsPerStep: number[];
  torch: number[];
  torchMsPerStep: number[];
  /** The extra 1-thread PyTorch round, if run. */
  torch1?: TorchResult;
  order: string[];
  loss: number;
}

function throughput(spec: SizeSpec, state: { torch: boolean; torchWhyNot?: string; torchInfo?: TorchResult }): ThroughputRow {
  const genome = bertBaseline(spec.layers, spec.hidden, spec.heads);
  const cost = backboneCost(genome, { seqLen: SEQ, vocabSize: VOCAB, numClasses: CLASSES });
  const trainer = new Trainer(genome);
  const row: ThroughputRow = {
    spec,
    params: trainer.model.paramCount(),
    flopsPerToken: cost.flops,
    tf: [],
    tfMsPerStep: [],
    torch: [],
    torchMsPerStep: [],
    order: [],
    loss: NaN,
  };
  try {
    // tfjs, torch, tfjs, torch, ..., tfjs: torch rounds sit between tfjs rounds.
    let torchDone = 0;
    for (let r = 0; r < spec.tfRounds; r++) {
      const m = trainer.measure(spec.tfSteps, r === 0 ? spec.tfWarmup : 1);
      row.tf.push(m.tokensPerSecond);
      row.tfMsPerStep.push(m.msPerStep);
      row.order.push('opnas');
      log(`${spec.label} opnas round ${r + 1}/${spec.tfRounds}: ${fmtInt(m.tokensPerSecond)} tok/s (${fmt(m.msPerStep, 0)} ms/step, loss ${fmt(trainer.lastLoss, 3)})`);
      const torchHere = r < spec.tfRounds - 1 || spec.tfRounds === 1;
      if (state.torch && torchHere && torchDone < spec.torchRounds) {
        const res = runTorch(spec.layers, spec.hidden, spec.heads, spec.torchSteps, spec.torchWarmup);
        if (typeof res === 'string') {
          state.torch = false;
          state.torchWhyNot = res;
          log(`PyTorch unavailable: ${res}`);
        } else {
          state.torchInfo = res;
          row.torch.push(res.tokensPerSecond);
          row.torchMsPerStep.push(res.msPerStep);
          row.order.push('torch');
          torchDone++;
          log(`${spec.label} torch round ${torchDone}/${spec.torchRounds}: ${fmtInt(res.tokensPerSecond)} tok/s (${fmt(res.msPerStep, 0)} ms/step)`);
          if (torchDone === 1 && spec.torch1Steps > 0) {
            const one = runTorch(spec.layers, spec.hidden, spec.heads, spec.torch1Steps, spec.torchWarmup, 1);
            if (typeof one !== 'string') {
              row.torch1 = one;
              row.order.push('torch(1 thread)');
              log(`${spec.label} torch 1-thread round: ${fmtInt(one.tokensPerSecond)} tok/s (${fmt(one.msPerStep, 0)} ms/step)`);
            }
          }
        }
      }
    }
    row.loss = trainer.lastLoss;
  } finally {
    trainer.dispose();
  }
  return row;
}

// ---------------------------------------------------------------------------------------------
// 2. per-kernel profile

interface KernelRow {
  key: string;
  name: string;
  calls: number;
  ms: number;
  flops: number;
}

interface PhaseRow {
  phase: string;
  wallMs: number;
  /** Wall time of the profiled run (the one kernelMs comes from). */
  profiledWallMs: number;
  kernelMs: number;
  calls: number;
}

interface ProfileResult {
  steps: number;
  phases: PhaseRow[];
  rows: KernelRow[];
  byName: KernelRow[];
  kernelMsPerStep: number;
  profiledWallMs: number;
  plainWallMs: number;
  kernelsPerStep: number;
}

/** FLOPs of one BatchMatMul from its input and output shapes (transpose flags are not recorded). */
function matMulFlops(a: number[], out: number[]): number {
  const M = out[out.length - 2];
  const a1 = a[a.length - 2];
  const a2 = a[a.length - 1];
  const K = a1 === M ? a2 : a1;
  return 2 * tf.util.sizeFromShape(out) * K;
}

async function profile(steps: number, warmup: number): Promise<ProfileResult> {
  const trainer = new Trainer(bertBaseline(2, 128, 2));
  try {
    for (let i = 0; i < warmup; i++) trainer.step();
    let plain = 0;
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      trainer.step();
      plain += performance.now() - t0;
    }
    const agg = new Map<string, KernelRow>();
    const byName = new Map<string, KernelRow>();
    let wall = 0;
    let kernels = 0;
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      // return nothing: tf.profile (like tidy) walks a returned container
      const info = await tf.profile(() => {
        trainer.step();
      });
      wall += performance.now() - t0;
      kernels += info.kernels.length;
      for (const k of info.kernels) {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        const isMM = k.name === 'BatchMatMul';
        const shapes = k.inputShapes.map((s) => `[${s.join(',')}]`);
        const key = isMM ? `BatchMatMul ${shapes.join('·')}→[${(k.outputShapes[0] ?? []).join(',')}]` : k.name;
        const flops = isMM && k.inputShapes[0] && k.outputShapes[0] ? matMulFlops(k.inputShapes[0], k.outputShapes[0]) : 0;
        for (const [map, kk] of [[agg, key], [byName, k.name]] as const) {
          const r = map.get(kk) ?? { key: kk, name: k.name, calls: 0, ms: 0, flops: 0 };
          r.calls++;
          r.ms += ms;
          r.flops += flops;
          map.set(kk, r);
        }
      }
    }
    const phases = await phaseBreakdown(trainer, steps);
    const perStep = (rs: KernelRow[]) =>
      rs.map((r) => ({ ...r, calls: r.calls / steps, ms: r.ms / steps, flops: r.flops / steps })).sort((a, b) => b.ms - a.ms);
    const rows = perStep([...agg.values()]);
    return {
      steps,
      phases,
      rows,
      byName: perStep([...byName.values()]),
      kernelMsPerStep: rows.reduce((a, r) => a + r.ms, 0),
      profiledWallMs: wall / steps,
      plainWallMs: plain / steps,
      kernelsPerStep: kernels / steps,
    };
  } finally {
    trainer.dispose();
  }
}

/**
 * The step of trainStep taken apart (same calls: model.forward + softmaxCrossEntropy,
 * tf.variableGrads, AdamW.apply), each phase timed on its own (median wall time) and profiled once.
 */
async function phaseBreakdown(trainer: Trainer, reps: number): Promise<PhaseRow[]> {
  const { model, opt } = trainer;
  const b = trainer.batches[0];
  const ids = tf.tensor2d(b.ids, [b.batchSize, b.seqLen], 'int32');
  const mask = tf.tensor2d(b.mask, [b.batchSize, b.seqLen]);
  const onehot = tf.tidy(() => tf.oneHot(tf.tensor1d(b.labels, 'int32'), CLASSES));
  const lossOf = () => tf.losses.softmaxCrossEntropy(onehot, model.forward(ids, mask).logits) as tf.Scalar;
  const names = [...model.params.keys()];
  const smallest = [...model.params.values()].reduce((a, v) => (v.size < a.size ? v : a));
  let grads: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  const phases: [string, () => void][] = [
    [
      'forward + loss',
      () => {
        const l = tf.tidy(lossOf);
        l.dataSync();
        l.dispose();
      },
    ],
    [
      'forward + backward (tf.variableGrads)',
      () => {
        if (grads) tf.dispose([grads.value, ...Object.values(grads.grads)]);
        grads = tf.tidy(() => tf.variableGrads(lossOf, model.weights()));
        grads.value.dataSync();
      },
    ],
    [
      'AdamW.apply (clipping, moments, weight decay)',
      () => {
        const vars = model.weights();
        const byName: Record<string, tf.Tensor> = {};
        names.forEach((n, i) => (byName[n] = grads!.grads[vars[i].name]));
        opt.apply(byName, LR);
        smallest.dataSync();
      },
    ],
  ];
  const rows: PhaseRow[] = [];
  try {
    for (const [phase, f] of phases) {
      f(); // warm
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        f();
        times.push(performance.now() - t0);
      }
      const p0 = performance.now();
      const info = await tf.profile(() => {
        f();
      });
      const profiledWallMs = performance.now() - p0;
      const kernelMs = info.kernels.reduce((a, k) => a + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0), 0);
      rows.push({ phase, wallMs: median(times), profiledWallMs, kernelMs, calls: info.kernels.length });
    }
  } finally {
    if (grads) tf.dispose([grads.value, ...Object.values(grads.grads)]);
    tf.dispose([ids, mask, onehot]);
  }
  // backward alone = (forward + backward) - forward
  const [fw, fb] = rows;
  rows.splice(2, 0, { phase: '… of which backward (difference)', wallMs: fb.wallMs - fw.wallMs, profiledWallMs: fb.profiledWallMs - fw.profiledWallMs, kernelMs: fb.kernelMs - fw.kernelMs, calls: fb.calls - fw.calls });
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 3. other genomes

interface GenomeRow {
  name: string;
  formula: string;
  layers: number;
  params: number;
  flopsPerToken: number;
  tps: number[];
  error?: string;
}

function describeGenome(g: BackboneGenome): string {
  return g.layers.map((l, i) => `L${i}: ${renderMixer(l.mixer)} ; ffn ${renderFfnGenome(l.ffn)}`).join('<br>');
}

function genomeSet(): { name: string; genome: BackboneGenome }[] {
  const base = bertBaseline(2, 128, 2);
  const conv: BackboneGenome = { ...structuredClone(base), layers: base.layers.map((l) => ({ ...structuredClone(l), mixer: { type: 'conv', kernel: 7 } })) };
  const space = backboneSpace({ ...DEFAULT_MACRO, hidden: [128] });
  const rng = new Rng('bench-genomes');
  const sampled = [0, 1, 2].map((i) => ({ name: `sampled #${i + 1}`, genome: space.sample(rng) }));
  return [{ name: 'BERT baseline 2L', genome: base }, { name: 'conv mixer k=7, 2L', genome: conv }, ...sampled];
}

function genomeThroughput(rounds: number, steps: number, warmup: number): GenomeRow[] {
  const set = genomeSet();
  const trainers = new Map<number, Trainer>();
  const rows: GenomeRow[] = set.map(({ name, genome }) => {
    const cost = backboneCost(genome, { seqLen: SEQ, vocabSize: VOCAB, numClasses: CLASSES });
    return { name, formula: `${genome.hidden}/${genome.heads}h<br>${describeGenome(genome)}`, layers: genome.layers.length, params: NaN, flopsPerToken: cost.flops, tps: [] };
  });
  try {
    // round-robin: every genome sees the same stretch of machine conditions
    for (let r = 0; r < rounds; r++) {
      set.forEach(({ genome }, i) => {
        const row = rows[i];
        if (row.error) return;
        try {
          let t = trainers.get(i);
          if (!t) {
            t = new Trainer(genome);
            trainers.set(i, t);
            row.params = t.model.paramCount();
          }
          const m = t.measure(steps, r === 0 ? warmup : 1);
          row.tps.push(m.tokensPerSecond);
          log(`genome ${row.name} round ${r + 1}/${rounds}: ${fmtInt(m.tokensPerSecond)} tok/s`);
        } catch (e) {
          row.error = String((e as Error)?.message ?? e).split('\n')[0];
          log(`genome ${row.name}: ${row.error}`);
        }
      });
    }
  } finally {
    for (const t of trainers.values()) t.dispose();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 4. padding on SST-2

interface PaddingRow {
  name: string;
  batches: number;
  meanLen: number;
  padding: number;
}

function padding(): { rows: PaddingRow[]; examples: number; meanReal: number; atMax: number; encodeSeconds: number } {
  const t0 = performance.now();
  const task = encodeTask(loadTask('sst2'), { vocabSize: VOCAB, maxLen: SEQ });
  const encodeSeconds = (performance.now() - t0) / 1000;
  const { seqs, labels } = task.train;
  const variants: [string, BatchOptions][] = [
    ['bucketed (chunks of 64 batches sorted by length), per-batch longest — default', { batchSize: BATCH, maxLen: SEQ, bucket: true }],
    ['bucketed, per-batch longest rounded up to a multiple of 8', { batchSize: BATCH, maxLen: SEQ, bucket: true, padMultiple: 8 }],
    ['random batches, per-batch longest', { batchSize: BATCH, maxLen: SEQ, bucket: false, padToMaxLen: false }],
    ['random batches, padded to maxLen 64', { batchSize: BATCH, maxLen: SEQ, bucket: false, padToMaxLen: true }],
  ];
  const rows = variants.map(([name, o]) => {
    const bs = makeBatches(seqs, labels, { ...o, rng: new Rng(0) });
    return { name, batches: bs.length, meanLen: bs.reduce((a, b) => a + b.seqLen * b.batchSize, 0) / bs.reduce((a, b) => a + b.batchSize, 0), padding: paddingFraction(bs) };
  });
  const real = seqs.reduce((a, s) => a + s.length, 0);
  return { rows, examples: seqs.length, meanReal: real / seqs.length, atMax: seqs.filter((s) => s.length >= SEQ).length / seqs.length, encodeSeconds };
}

// ---------------------------------------------------------------------------------------------
// main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  const load0 = os.loadavg();
  const backend: BackendInfo = await initBackend(opts.backend, { log });
  const state: { torch: boolean; torchWhyNot?: string; torchInfo?: TorchResult } = { torch: opts.torch, torchWhyNot: opts.torch ? undefined : 'skipped (--no-torch)' };
  const q = opts.quick;

  log(`backend ${backend.name} (${backend.detail}); ${q ? 'quick run' : 'full run'}`);
  const tensors0 = tf.memory().numTensors;

  // 1
  const thr = sizes(q).map((s) => throughput(s, state));
  // 2
  log('profiling one training step of the 2-layer model');
  const prof = await profile(q ? 1 : 3, q ? 1 : 3);
  // 3
  const genomes = genomeThroughput(q ? 1 : 2, q ? 2 : 8, q ? 1 : 2);
  // 4
  log('SST-2 padding (trains the tokenizer)');
  const pad = padding();

  // 5, 6
  log('strategies on NAS-Bench-201');
  const strat = await strategyBench(100, q ? 5 : 50);
  log('parallel search: 1 vs 2 worker processes');
  const par = await parallelBench(q ? 4 : 12, q ? 5 : 60);

  const leaked = tf.memory().numTensors - tensors0;
  const wall = (performance.now() - t0) / 1000;
  const load1 = os.loadavg();

  // ------------------------------------------------------------------ report
  const cpus = os.cpus();
  const torchInfo = state.torchInfo;
  const out: string[] = [];
  out.push('# opnas benchmark results', '');
  if (q) out.push('**Quick run (`--quick`): too few steps for meaningful numbers; a smoke test only.**', '');
  out.push(
    `- Date: ${started.toISOString()}`,
    `- Command: \`npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}\` (wall time ${fmt(wall, 0)} s)`,
    `- Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores (os.cpus), ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Load average (1 min) at start / end: ${fmt(load0[0], 2)} / ${fmt(load1[0], 2)} (other processes share this machine; see "How measured")`,
    `- Node ${process.version}; tfjs ${tf.version_core} backend \`${backend.name}\`: ${backend.detail}`,
    `- PyTorch: ${torchInfo ? `${torchInfo.torch} (${PYTHON}), ${torchInfo.threads} threads` : `not measured: ${state.torchWhyNot ?? 'unknown reason'}`}`,
    '',
  );

  out.push('## 1. Training throughput vs PyTorch', '');
  out.push(
    `BERT-style classifier, sequence ${SEQ}, batch ${BATCH}, vocabulary ${VOCAB}, 2 classes, random full-length token ids (no padding), ` +
      'loss read back every step. tokens/s = B·T·steps / seconds, medians over rounds.',
    '',
  );
  out.push(
    table(
      ['model', 'params', 'opnas tok/s', 'opnas ms/step', 'PyTorch tok/s', 'PyTorch ms/step', 'opnas / PyTorch', 'opnas rounds (tok/s)', 'PyTorch rounds (tok/s)', 'order'],
      thr.map((r) => {
        const tfm = median(r.tf);
        const tom = median(r.torch);
        const s = r.spec;
        return [
          `${s.layers} layers, hidden ${s.hidden}, ${s.heads} heads, FFN ${4 * s.hidden}`,
          fmtInt(r.params),
          fmtInt(tfm),
          fmt(median(r.tfMsPerStep), 0),
          r.torch.length ? fmtInt(tom) : 'n/a',
          r.torch.length ? fmt(median(r.torchMsPerStep), 0) : 'n/a',
          r.torch.length ? `${fmt(tfm / tom, 2)}×` : 'n/a',
          `${r.tf.map(fmtInt).join(', ')} (${s.tfRounds}×${s.tfSteps} steps)`,
          r.torch.length ? `${r.torch.map(fmtInt).join(', ')} (${r.torch.length}×${s.torchSteps} steps)` : 'n/a',
          r.order.join(' → '),
        ];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
  );
  for (const r of thr) {
    if (r.torch1) {
      out.push(
        `Extra reference, ${r.spec.label}: PyTorch with 1 thread (${r.spec.torch1Steps} steps, run right after the first 2-thread round): ` +
          `${fmtInt(r.torch1.tokensPerSecond)} tok/s (${fmt(r.torch1.msPerStep, 0)} ms/step); opnas / PyTorch-1-thread = ${fmt(median(r.tf) / r.torch1.tokensPerSecond, 2)}×.`,
        '',
      );
    }
  }
  out.push(
    table(
      ['model', 'fwd FLOPs/token', 'opnas ≈ GFLOP/s (3× fwd)', 'PyTorch ≈ GFLOP/s'],
      thr.map((r) => [
        r.spec.label,
        fmtInt(r.flopsPerToken),
        fmt((3 * r.flopsPerToken * median(r.tf)) / 1e9, 2),
        r.torch.length ? fmt((3 * r.flopsPerToken * median(r.torch)) / 1e9, 2) : 'n/a',
      ]),
    ),
    '',
  );

  out.push('## 2. Where the time goes: kernels of one training step (2 layers, hidden 128)', '');
  out.push(
    `\`tf.profile\` over single training steps (forward, backward, AdamW with clipping, loss read back), averaged over ${prof.steps} ` +
      `profiled step${prof.steps > 1 ? 's' : ''}. ${fmt(prof.kernelsPerStep, 0)} kernel calls per step; summed kernel time ` +
      `${fmt(prof.kernelMsPerStep, 1)} ms; wall time of a profiled step ${fmt(prof.profiledWallMs, 1)} ms, of an unprofiled step ` +
      `${fmt(prof.plainWallMs, 1)} ms (time outside kernels in the profiled steps, ` +
      `${fmt(prof.profiledWallMs - prof.kernelMsPerStep, 1)} ms, is JavaScript: engine bookkeeping, the gradient tape, ` +
      'tensor allocation). BatchMatMul rows are split by input shapes (a·b→out; transpose flags are not recorded, ' +
      'so a row whose shapes do not chain had a flag, which the wasm fast path turns into an explicit transpose inside the kernel). ' +
      'GFLOP/s for matmul rows = 2·M·N·K / time.',
    '',
  );
  out.push(
    'By phase (the calls of `trainStep` run one phase at a time; median wall time of ' + prof.steps + ' runs, and one profiled run):',
    '',
    table(
      ['phase', 'wall ms (median)', 'profiled run: wall ms', 'kernel ms', 'kernel calls', 'outside kernels (JS) ms'],
      prof.phases.map((p) => [p.phase, fmt(p.wallMs, 1), fmt(p.profiledWallMs, 1), fmt(p.kernelMs, 1), fmt(p.calls, 0), fmt(p.profiledWallMs - p.kernelMs, 1)]),
    ),
    '',
    'Kernels of the whole step, top 20:',
    '',
  );
  const topN = 20;
  const top = prof.rows.slice(0, topN);
  const rest = prof.rows.slice(topN);
  const kernelRow = (r: KernelRow) => [
    r.key,
    fmt(r.calls, r.calls % 1 ? 1 : 0),
    fmt(r.ms, 2),
    pct(r.ms / prof.kernelMsPerStep),
    fmt(r.ms / r.calls, 3),
    r.flops ? fmt(r.flops / (r.ms / 1000) / 1e9, 1) : '',
  ];
  const restRow = rest.length
    ? [[`(${rest.length} other kernels)`, fmt(rest.reduce((a, r) => a + r.calls, 0), 0), fmt(rest.reduce((a, r) => a + r.ms, 0), 2), pct(rest.reduce((a, r) => a + r.ms, 0) / prof.kernelMsPerStep), '', '']]
    : [];
  out.push(
    table(
      ['kernel', 'calls/step', 'ms/step', 'share', 'ms/call', 'GFLOP/s'],
      [...top.map(kernelRow), ...restRow, ['**total**', fmt(prof.kernelsPerStep, 0), fmt(prof.kernelMsPerStep, 2), '100%', '', '']],
    ),
    '',
    'By kernel name (all shapes together):',
    '',
    table(['kernel', 'calls/step', 'ms/step', 'share', 'ms/call', 'GFLOP/s'], prof.byName.slice(0, 15).map(kernelRow)),
    '',
  );

  out.push('## 3. The fast path is not baseline-only: other genomes (hidden 128)', '');
  out.push(
    `Same setting as section 1 (opnas side only). Sampled genomes: \`backboneSpace({...DEFAULT_MACRO, hidden: [128]}).sample(new Rng('bench-genomes'))\`, ` +
      'three consecutive draws (depth 1–4, heads 1/2/4, each layer an attention graph or, with probability 0.3, a conv mixer). ' +
      'Round-robin over the models, median of the rounds. GFLOP/s ≈ 3 × forward FLOPs/token × tokens/s (analytic `backboneCost`).',
    '',
  );
  const baseTps = median(genomes[0]?.tps ?? []);
  out.push(
    table(
      ['genome', 'layers', 'params', 'fwd FLOPs/token', 'tok/s', 'rounds (tok/s)', '≈ GFLOP/s', 'tok/s vs baseline', 'hidden/heads, layers (formulas)'],
      genomes.map((g) => {
        const tps = median(g.tps);
        return [
          g.name,
          g.layers,
          fmtInt(g.params),
          fmtInt(g.flopsPerToken),
          g.error ? `failed: ${g.error}` : fmtInt(tps),
          g.tps.map(fmtInt).join(', '),
          g.error ? '' : fmt((3 * g.flopsPerToken * tps) / 1e9, 2),
          g.error ? '' : `${fmt(tps / baseTps, 2)}×`,
          g.formula,
        ];
      }),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
  );

  out.push('## 4. Padding on SST-2 (training split, batch 32, maxLen 64)', '');
  out.push(
    `\`loadTask('sst2')\` + \`encodeTask(task, {vocabSize: ${VOCAB}, maxLen: ${SEQ}})\` (tokenizer trained in ${fmt(pad.encodeSeconds, 1)} s), ` +
      `then one epoch of \`makeBatches\` (rng seed 0). ${fmtInt(pad.examples)} examples, mean ${fmt(pad.meanReal, 1)} tokens ` +
      `([CLS]/[SEP] included), ${pct(pad.atMax)} at the ${SEQ}-token cap. Padding fraction = \`paddingFraction\` = padding tokens / all B·T tokens; ` +
      'compute per real token = 1 / (1 − padding).',
    '',
  );
  out.push(
    table(
      ['batching', 'batches', 'mean padded length', 'padding fraction', 'compute per real token'],
      pad.rows.map((r) => [r.name, r.batches, fmt(r.meanLen, 1), pct(r.padding), `${fmt(1 / (1 - r.padding), 2)}×`]),
    ),
    '',
  );

  out.push('## 5. Search strategies on NAS-Bench-201', '');
  out.push(
    `\`opnas bench-strategies --queries 100 --seeds ${q ? 5 : 50}\` (the same loop and strategies as \`opnas search\`; accuracies looked up in ` +
      `data/nas-bench-201). Best CIFAR-10 test accuracy after 100 queries, mean ± std over seeds; ${fmt(strat.seconds, 1)} s in all.`,
    '',
  );
  out.push(
    table(
      ['strategy', 'mean best (%)', 'std', 'vs exact random expectation'],
      [
        ...strat.results.map((r) => [r.strategy, fmt(r.mean, 2), fmt(r.std, 2), `${r.mean - strat.expected >= 0 ? '+' : ''}${fmt(r.mean - strat.expected, 2)}`]),
        ['exact expectation, uniform random search', fmt(strat.expected, 2), '', ''],
      ],
    ),
    '',
  );
  out.push('## 6. Parallel candidate evaluation', '');
  out.push(
    `A stand-alone search on SST-2 (op-evolution, seed 1, layers 1-2, hidden 64/128, ${q ? 5 : 60} training steps a candidate, batch 4), ` +
      'run twice in this process through `startSearch`: with 1 worker process and with 2. Wall time includes starting the workers.',
    '',
  );
  out.push(
    table(
      ['workers', 'candidates', 'seconds', 'candidates / minute', 'speed-up'],
      par.map((r) => [r.workers, r.candidates, fmt(r.seconds, 1), fmt(r.perMinute, 2), `${fmt(r.perMinute / par[0].perMinute, 2)}×`]),
    ),
    '',
  );

  out.push('## How measured', '');
  out.push(
    [
      `Each model is built by opnas's compiler (\`new Model(genome, ...)\`, the same code \`opnas train\` uses) and trained with`,
      "`trainStep(model, opt, batch, lr)` from evaluators/train.ts (forward, `tf.variableGrads`, AdamW with weight decay and",
      `global-norm clipping at lr ${LR}) on four pre-made random batches of ${BATCH}×${SEQ} token ids, cycled; after every step the`,
      'loss is read back with `dataSync()`, so each timed step includes all of its work. Warm-up steps (kernel setup, wasm heap',
      `growth) are excluded: ${thr.map((r) => `${r.spec.label}: ${r.spec.tfWarmup} before the first round and 1 before each later one`).join('; ')}.`,
      `PyTorch runs \`${PYTHON} bench/torch_bert.py\` (the same architecture: post-LN, GELU-tanh FFN, tanh pooler on [CLS]; plain Adam,`,
      `no clipping, so it does slightly less optimizer work) with ${TORCH_THREADS} threads, its own untimed warm-up steps, and \`loss.item()\` every step.`,
      'To give both sides the same machine conditions the measurements are interleaved in one process run: opnas round, PyTorch',
      'round, opnas round, ... (the "order" column), and each side reports the median of its rounds (a mean for two rounds);',
      `the opnas tfjs model keeps training across rounds. The tfjs ${backend.name} backend runs on ${/1 thread/.test(backend.detail) ? 'ONE thread under Node' : backend.detail}`,
      `while PyTorch uses ${TORCH_THREADS}. The per-kernel table uses \`tf.profile\`, whose kernelTimeMs on wasm is the synchronous`,
      'wall time of each kernel call. Other processes were running on this shared machine during the run (load average above),',
      'so absolute numbers are noisy; the interleaving is meant to keep the ratios fair.',
      leaked !== 0 ? `Tensor count changed by ${leaked} over the run (expected 0).` : 'No tensors leaked over the run.',
    ].join('\n'),
    '',
  );

  // sections 7 and on come from the long measurements (bench:fidelity, bench:winner): kept as they are
  const kept = existingSections(opts.out);
  const text = out.join('\n') + kept.map((k) => `\n${k}\n`).join('');
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, text);
  console.log(text);
  log(`wrote ${opts.out} (${fmt(wall, 0)} s)`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});

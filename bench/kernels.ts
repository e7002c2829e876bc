/** Section 2 of `npm run bench`: the kernels of one training step of the 2-layer baseline, and its phases. */
import * as tf from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';
import { bertBaseline } from '../spaces/backbone.js';
import { CLASSES, LR, Trainer, fmt, median, pct, table } from './common.js';

export interface KernelRow {
  key: string;
  name: string;
  calls: number;
  ms: number;
  flops: number;
}

export interface PhaseRow {
  phase: string;
  wallMs: number;
  /** Wall time of the profiled run (the one kernelMs comes from). */
  profiledWallMs: number;
  kernelMs: number;
  calls: number;
}

export interface ProfileResult {
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

export async function profile(steps: number, warmup: number): Promise<ProfileResult> {
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

export function renderKernels(prof: ProfileResult): string[] {
  const out: string[] = [];
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
  return out;
}

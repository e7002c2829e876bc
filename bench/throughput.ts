/** Section 1 of `npm run bench`: training throughput of the BERT baseline against PyTorch. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../evaluators/tasks/named.js';
import { backboneCost, bertBaseline } from '../spaces/backbone.js';
import { BATCH, CLASSES, PYTHON, SEQ, TORCH_THREADS, Trainer, VOCAB, fmt, fmtInt, log, median, table } from './common.js';

export interface SizeSpec {
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
// PyTorch reference

export interface TorchResult {
  torch: string;
  threads: number;
  tokensPerSecond: number;
  msPerStep: number;
}

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

/** Whether PyTorch is still to be run, why not, and what it reported (shared by the sizes and the header). */
export interface TorchState {
  torch: boolean;
  torchWhyNot?: string;
  torchInfo?: TorchResult;
}

// ---------------------------------------------------------------------------------------------
// 1. throughput vs PyTorch

export interface ThroughputRow {
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

/** Every size of the run (`--quick`: fewer steps), PyTorch rounds interleaved while `state.torch`. */
export function measureThroughput(quick: boolean, state: TorchState): ThroughputRow[] {
  return sizes(quick).map((s) => throughput(s, state));
}

function throughput(spec: SizeSpec, state: TorchState): ThroughputRow {
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

export function renderThroughput(thr: ThroughputRow[]): string[] {
  const out: string[] = [];
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
  return out;
}

/**
 * `npm run bench`: training throughput of opnas's tfjs models against a PyTorch CPU reference,
 * a per-kernel profile of one training step, throughput of non-baseline genomes, and the padding
 * saved by length bucketing on SST-2. Writes bench/RESULTS.md and prints the same tables.
 *
 * Options: --quick (few steps, a smoke test), --no-torch, --out FILE, --backend NAME (default wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BACKEND_CHOICES, initBackend, type BackendChoice } from '../evaluators/backend.js';
import { packageRoot } from '../evaluators/tasks/named.js';
import { fmt, log } from './common.js';
import { genomeThroughput, renderGenomes } from './genomes.js';
import { profile, renderKernels } from './kernels.js';
import { padding, renderPadding } from './padding.js';
import { renderHeader, renderHowMeasured, writeReport } from './report.js';
import { parallelBench, renderParallel, renderStrategies, strategyBench } from './search-bench.js';
import { measureThroughput, renderThroughput, type TorchState } from './throughput.js';

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

// ---------------------------------------------------------------------------------------------
// main: the sections in order (each measures in its module and renders there)

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  const load0 = os.loadavg();
  const backend = await initBackend(opts.backend, { log });
  const state: TorchState = { torch: opts.torch, torchWhyNot: opts.torch ? undefined : 'skipped (--no-torch)' };
  const q = opts.quick;

  log(`backend ${backend.name} (${backend.detail}); ${q ? 'quick run' : 'full run'}`);
  const tensors0 = tf.memory().numTensors;

  // 1
  const thr = measureThroughput(q, state);
  // 2
  log('profiling one training step of the 2-layer model');
  const prof = await profile(q ? 1 : 3, q ? 1 : 3);
  // 3
  const genomes = genomeThroughput(q ? 1 : 2, q ? 2 : 8, q ? 1 : 2);
  // 4
  log('SST-2 padding (trains the tokenizer)');
  const pad = padding();

  // 5, 6
  const seeds = q ? 5 : 50;
  log('strategies on NAS-Bench-201');
  const strat = await strategyBench(100, seeds);
  log('parallel search: 1 vs 2 worker processes');
  const trainSteps = q ? 5 : 60;
  const par = await parallelBench(q ? 4 : 12, trainSteps);

  const leaked = tf.memory().numTensors - tensors0;
  const wall = (performance.now() - t0) / 1000;
  const load1 = os.loadavg();

  writeReport(opts.out, [
    ...renderHeader({ quick: q, started, wall, load0, load1, backend, torch: state }),
    ...renderThroughput(thr),
    ...renderKernels(prof),
    ...renderGenomes(genomes),
    ...renderPadding(pad),
    ...renderStrategies(strat, seeds),
    ...renderParallel(par, trainSteps),
    ...renderHowMeasured(thr, backend, leaked),
  ]);
  log(`wrote ${opts.out} (${fmt(wall, 0)} s)`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, seedFrom } from '../../spaces/base/rng.js';
import type { Candidate, Trial } from '../../search/types.js';
import type { BackboneGenome } from '../../spaces/types.js';
import type { EncodedTask } from '../train.js';
import {
  DEFAULT_SUPERNET_TRAIN,
  encodeEvaluatorTask,
  Supernet,
  SUPERNET_MANIFEST,
  supernetConfigFor,
  trainSupernet,
  type SupernetConfig,
  type SupernetEvaluatorConfig,
  type SupernetTrainConfig,
} from './supernet.js';

/**
 * Training the supernet on the search's current population (AutoBERT-Zero trains its BIWS
 * supernet on the architectures the search is looking at). Before each batch is scored, the
 * supernet trains `stepsPerCandidate` steps per new candidate, each step on a path drawn from the
 * new candidates (share `newShare`) or from the last `population` candidates evaluated, so the
 * weights the new candidates inherit have seen them. A supernet trained once on paths drawn
 * uniformly from the whole space ranks them no better than chance (bench/RESULTS.md, section 7).
 * Defaults, from `npm run bench:fidelity` on SST-2 (N = 20, Kendall tau against 1,000-step
 * stand-alone training, without warm-up): 40 steps per candidate all on the new batch 0.568;
 * 40 steps half on the batch, half on the 20 before it 0.487 (each new candidate then gets fewer
 * steps of its own before it is scored).
 *
 * Each batch's supernet is saved as a checkpoint of its own (`supernet-batches/bNNNNNN` in the run
 * folder), trained from the latest earlier one with a seed of the run seed and batch number: a
 * resumed run loads it if it was saved and otherwise trains it again to the same weights.
 */

export interface PopulationConfig {
  /** Supernet steps per new candidate of a batch. */
  stepsPerCandidate: number;
  /** How many of the most recently evaluated candidates keep training alongside the new ones. */
  population: number;
  /** Share of the steps whose path is a new candidate (the rest are drawn from the population). */
  newShare: number;
}

export const DEFAULT_POPULATION: PopulationConfig = { stepsPerCandidate: 40, population: 20, newShare: 1 };

const BATCHES = 'supernet-batches';

export function batchCheckpoint(folder: string, batch: number): string {
  return join(folder, BATCHES, `b${String(batch).padStart(6, '0')}`);
}

/** The newest batch checkpoint saved before `batch` (complete ones only), else the base supernet. */
export function latestBefore(folder: string, base: string, batch: number): string {
  const root = join(folder, BATCHES);
  let best = -1;
  if (existsSync(root))
    for (const name of readdirSync(root)) {
      const m = /^b(\d{6})$/.exec(name);
      const b = m ? Number(m[1]) : -1;
      if (b >= 0 && b < batch && b > best && existsSync(join(root, name, SUPERNET_MANIFEST))) best = b;
    }
  return best < 0 ? base : batchCheckpoint(folder, best);
}

/**
 * One batch's training: `stepsPerCandidate` steps per new candidate, each on a path drawn from the
 * new candidates (share `newShare`) or the last `population` of `older` (evaluated before, oldest
 * first). Seeded by the run seed and the batch number. The search and `opnas fidelity` both use it.
 */
export async function trainOnBatch(
  sn: Supernet,
  task: EncodedTask,
  o: { batch: number; fresh: BackboneGenome[]; older: BackboneGenome[]; pop: PopulationConfig; train: Partial<SupernetTrainConfig>; seed: number; signal?: AbortSignal },
): Promise<{ steps: number; recent: number; seconds: number }> {
  const recent = o.older.slice(-o.pop.population);
  const steps = o.pop.stepsPerCandidate * o.fresh.length;
  const t0 = performance.now();
  if (steps > 0)
    await trainSupernet(
      sn,
      task,
      { ...DEFAULT_SUPERNET_TRAIN, ...o.train, steps, seed: seedFrom(o.seed, 'population', String(o.batch)) },
      { samplePath: (r: Rng) => (recent.length && r.next() >= o.pop.newShare ? r.choice(recent) : r.choice(o.fresh)), signal: o.signal, logEvery: Math.max(1, steps) },
    );
  return { steps, recent: recent.length, seconds: (performance.now() - t0) / 1000 };
}

export class PopulationTrainer {
  private sn?: Supernet;
  private loaded?: string;
  private meta: Record<string, unknown> = {};

  private constructor(
    private readonly folder: string,
    private readonly evalCfg: SupernetEvaluatorConfig,
    private readonly task: EncodedTask,
    private readonly snCfg: SupernetConfig,
    private readonly train: Partial<SupernetTrainConfig>,
    private readonly pop: PopulationConfig,
    private readonly seed: number,
    private readonly log?: (m: string) => void,
  ) {}

  /** For the run in `folder` whose base supernet is `evalCfg.checkpoint`. */
  static async create(o: { folder: string; evaluator: SupernetEvaluatorConfig; train: Partial<SupernetTrainConfig>; population: Partial<PopulationConfig>; seed: number; log?: (m: string) => void }): Promise<PopulationTrainer> {
    const task = await encodeEvaluatorTask(o.evaluator, o.log);
    return new PopulationTrainer(o.folder, o.evaluator, task, supernetConfigFor(o.evaluator, task), o.train, { ...DEFAULT_POPULATION, ...o.population }, o.seed, o.log);
  }

  /**
   * The checkpoint to score batch `batch` with: loaded when it was saved already, otherwise trained
   * from the latest earlier checkpoint on the batch's candidates and the recent population, saved,
   * and the checkpoints of earlier batches removed.
   */
  async prepare(batch: number, candidates: Candidate<BackboneGenome>[], trials: readonly Trial[], signal?: AbortSignal): Promise<string> {
    const dir = batchCheckpoint(this.folder, batch);
    if (existsSync(join(dir, SUPERNET_MANIFEST))) return dir;
    const from = latestBefore(this.folder, this.evalCfg.checkpoint, batch);
    if (this.loaded !== from) {
      this.sn?.dispose();
      this.sn = undefined;
      const { supernet, meta } = await Supernet.load(from, this.snCfg);
      this.sn = supernet;
      this.meta = meta;
      this.loaded = from;
    }
    const fresh = candidates.map((c) => c.genome);
    const older = trials.filter((t) => t.status === 'ok').map((t) => t.genome as BackboneGenome);
    this.loaded = undefined; // the weights change from here on; a failure leaves them unusable
    const r = await trainOnBatch(this.sn!, this.task, { batch, fresh, older, pop: this.pop, train: this.train, seed: this.seed, signal });
    if (r.steps) this.log?.(`supernet: batch ${batch} trained ${r.steps} steps on ${fresh.length} new + ${r.recent} recent candidates in ${r.seconds.toFixed(1)} s`);
    await this.sn!.save(dir, { ...this.meta, batch, populationSteps: r.steps });
    this.loaded = dir;
    const root = join(this.folder, BATCHES);
    for (const name of readdirSync(root)) if (join(root, name) !== dir) rmSync(join(root, name), { recursive: true, force: true });
    return dir;
  }

  dispose(): void {
    this.sn?.dispose();
    this.sn = undefined;
    this.loaded = undefined;
  }
}

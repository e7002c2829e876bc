import { OpnasError } from '../spaces/base/errors.js';
import type { SearchSpace } from '../spaces/types.js';
import type { Member } from './evolution.js';
import { OpEvolution, type OpEvolutionOptions, type OpEvolutionState } from './op-evolution.js';
import type { Candidate, Trial } from './types.js';

/**
 * Coarse-to-fine search (EfficientBERT, arXiv 2109.07222, section 3.3): first the blocks, then the
 * shape. Stage 1 runs operation-priority evolution over the blocks only (attention graphs,
 * convolution or attention per layer, FFN trees and stacks) at one fixed macro shape that the space
 * names (`SearchSpace.coarse`: the deepest depth, the narrowest width, FFN ratio 4, [CLS] readout);
 * the seeds and samples are put into that shape. Stage 2 starts its population from the best
 * stage-1 candidates and mutates only the shape around their blocks: depth, width, heads, each
 * layer's FFN ratio, the readout and the embedding width.
 *
 * Stage 1 takes the first `stage1` candidates asked (the search makes it half the budget), rounded
 * up to a whole batch: the stage changes when a batch is told.
 */

export interface CoarseToFineOptions extends OpEvolutionOptions {
  /** Candidates asked in the block stage before the shape stage starts. */
  stage1: number;
}

export interface CoarseToFineState<G> extends OpEvolutionState<G> {
  stage: 1 | 2;
  /** Candidates asked so far. */
  asked: number;
  /** The best stage-1 members, best first (at most the population size): stage 2 starts from them. */
  best: Member<G>[];
}

export class CoarseToFine<G> extends OpEvolution<G> {
  private stage: 1 | 2 = 1;
  private asked = 0;
  private best: Member<G>[] = [];
  private readonly stage1: number;
  private readonly coarse: NonNullable<SearchSpace<G>['coarse']>;

  constructor(space: SearchSpace<G>, seed: number, opts: Partial<OpEvolutionOptions> & { stage1?: number } = {}) {
    super(space, seed, opts, 'coarse-to-fine');
    if (!space.coarse) throw new OpnasError(`the coarse-to-fine strategy needs a space with a macro shape (backbone); '${space.name}' has none`);
    if (!(Number.isInteger(opts.stage1) && (opts.stage1 as number) >= 1)) throw new RangeError(`the block stage needs at least 1 candidate, got ${opts.stage1}`);
    this.coarse = space.coarse;
    this.stage1 = opts.stage1 as number;
    // the known-good genomes, put into the fixed shape; variants that differed only in shape collapse
    const seen = new Set<string>();
    this.seedGenomes = this.seedGenomes.map((g) => this.coarse.project(g)).filter((g) => {
      const id = space.id(g);
      return !seen.has(id) && (seen.add(id), true);
    });
  }

  /** 1 while the blocks are searched at the fixed shape, 2 while the shape is. */
  currentStage(): 1 | 2 {
    return this.stage;
  }

  protected override sampleGenome(): G {
    return this.stage === 1 ? this.coarse.sample(this.rng) : this.space.sample(this.rng);
  }

  protected override mutateGenome(parent: G): G {
    return this.space.mutate(parent, this.rng, this.stage === 1 ? { priority: this.priority(), scope: 'blocks' } : { scope: 'macro' });
  }

  override ask(n: number): Candidate<G>[] {
    const out = super.ask(n);
    this.asked += out.length;
    return out;
  }

  /** Stage 2's population: the best stage-1 members, the weakest first so they age out first. */
  private startStage2(): void {
    this.stage = 2;
    if (this.best.length) this.population = [...this.best].reverse();
  }

  override tell(trials: Trial[]): void {
    super.tell(trials);
    if (this.stage !== 1) return;
    for (const t of trials) {
      if (t.fitness === undefined || !Number.isFinite(t.fitness)) continue;
      this.best.push({ genome: t.genome as G, id: t.id, fitness: t.fitness });
    }
    // stable: among equal fitness the earlier trial stays ahead
    this.best = this.best.sort((a, b) => b.fitness - a.fitness).slice(0, this.opts.population);
    // the loop tells a batch whole (and may ask more than once for a batch, to replace duplicates),
    // so the stage changes here, between batches
    if (this.asked >= this.stage1) this.startStage2();
  }

  override state(): CoarseToFineState<G> {
    return { ...super.state(), stage: this.stage, asked: this.asked, best: structuredClone(this.best) };
  }

  override restore(s: CoarseToFineState<G>): void {
    super.restore(s);
    if ((s.stage !== 1 && s.stage !== 2) || !Number.isInteger(s.asked) || s.asked < 0 || !Array.isArray(s.best))
      throw new TypeError('expected the coarse-to-fine stage { stage: 1 or 2, asked, best: [...] }');
    if (!s.best.every((m) => typeof m === 'object' && m !== null && typeof m.id === 'string' && typeof m.fitness === 'number')) throw new TypeError('best stage-1 members need an id and a fitness');
    this.stage = s.stage;
    this.asked = s.asked;
    this.best = structuredClone(s.best);
  }
}

import { Rng, type RngState } from '../spaces/base/rng.js';
import type { OpPriority, SearchSpace } from '../spaces/types.js';
import type { Candidate, Strategy, Trial } from './types.js';

/**
 * Aging evolution (Real et al. 2019, "Regularized Evolution for Image Classifier Architecture
 * Search"): a population of P, filled by random samples; then each child mutates the best of S
 * members drawn at random (tournament), and the oldest member leaves when a child joins.
 * Operation-priority evolution (search/op-evolution.ts) is this loop plus priorities that steer
 * which op a mutation draws.
 */

export interface EvolutionOptions {
  /** Population size P. */
  population: number;
  /** Tournament size S. */
  tournament: number;
  /**
   * Fill the initial population with the space's known-good genomes (SearchSpace.seeds: the
   * textbook layer and variants that worked) before random samples, so evolution improves on them
   * instead of rediscovering them.
   */
  seeded?: boolean;
}

/** Real et al. use P = 100, S = 25 for 20k-model searches; these suit budgets of tens to hundreds. */
export const DEFAULT_EVOLUTION: EvolutionOptions = { population: 20, tournament: 5 };

export interface Member<G> {
  genome: G;
  id: string;
  fitness: number;
}

export interface EvolutionState<G> {
  rng: RngState;
  population: Member<G>[];
  /** Random samples asked but not yet told (they fill the initial population). */
  samplesInFlight: number;
  /** Seed genomes handed out so far (absent in runs made before seeding existed: 0). */
  seedsUsed?: number;
}

export class Evolution<G> implements Strategy<EvolutionState<G>> {
  protected rng: Rng;
  protected population: Member<G>[] = [];
  private samplesInFlight = 0;
  private seedsUsed = 0;
  protected seedGenomes: G[];

  constructor(
    readonly name: string,
    protected readonly space: SearchSpace<G>,
    seed: number,
    protected readonly opts: EvolutionOptions = DEFAULT_EVOLUTION,
  ) {
    if (!(Number.isInteger(opts.population) && opts.population >= 2)) throw new RangeError(`population must be an integer >= 2, got ${opts.population}`);
    if (!(Number.isInteger(opts.tournament) && opts.tournament >= 1 && opts.tournament <= opts.population))
      throw new RangeError(`tournament must be in 1..population (${opts.population}), got ${opts.tournament}`);
    this.rng = new Rng(seed);
    this.seedGenomes = opts.seeded ? (space.seeds?.() ?? []) : [];
  }

  /** Hook for operation priority; plain regularized evolution mutates uniformly. */
  protected priority(): OpPriority | undefined {
    return undefined;
  }

  /** A random genome (hook: a coarse-to-fine search samples at its fixed shape). */
  protected sampleGenome(): G {
    return this.space.sample(this.rng);
  }

  /** A child of `parent` (hook: a coarse-to-fine search limits what a mutation may change). */
  protected mutateGenome(parent: G): G {
    return this.space.mutate(parent, this.rng, { priority: this.priority() });
  }

  ask(n: number): Candidate<G>[] {
    const out: Candidate<G>[] = [];
    for (let i = 0; i < n; i++) {
      // nothing to mutate yet (a batch larger than the population, or every sample so far failed): sample
      if (this.population.length + this.samplesInFlight < this.opts.population || this.population.length === 0) {
        this.samplesInFlight++;
        if (this.seedsUsed < this.seedGenomes.length) {
          const genome = structuredClone(this.seedGenomes[this.seedsUsed++]);
          out.push({ genome, id: this.space.id(genome), origin: 'seed' });
          continue;
        }
        const genome = this.sampleGenome();
        out.push({ genome, id: this.space.id(genome), origin: 'sample' });
        continue;
      }
      const parent = this.tournamentWinner();
      const genome = this.mutateGenome(parent.genome);
      out.push({ genome, id: this.space.id(genome), parent: parent.id, origin: 'mutate' });
    }
    return out;
  }

  private tournamentWinner(): Member<G> {
    let best: Member<G> | undefined;
    for (let i = 0; i < this.opts.tournament; i++) {
      const m = this.population[this.rng.int(this.population.length)];
      if (!best || m.fitness > best.fitness) best = m;
    }
    return best!;
  }

  tell(trials: Trial[]): void {
    // the loop tells a whole batch before it asks again; samples it dropped as duplicates are
    // never told, so nothing is in flight any more
    this.samplesInFlight = 0;
    for (const t of trials) {
      if (t.fitness === undefined || !Number.isFinite(t.fitness)) continue;
      this.population.push({ genome: t.genome as G, id: t.id, fitness: t.fitness });
      if (this.population.length > this.opts.population) this.population.shift(); // the oldest leaves
    }
  }

  state(): EvolutionState<G> {
    return { rng: this.rng.state(), population: structuredClone(this.population), samplesInFlight: this.samplesInFlight, seedsUsed: this.seedsUsed };
  }

  restore(s: EvolutionState<G>): void {
    const ok = typeof s === 'object' && s !== null && typeof s.rng === 'object' && s.rng !== null && Array.isArray(s.population) && Number.isInteger(s.samplesInFlight);
    if (!ok) throw new TypeError('expected { rng, population: [...], samplesInFlight }');
    if (!s.population.every((m) => typeof m === 'object' && m !== null && typeof m.id === 'string' && typeof m.fitness === 'number')) throw new TypeError('population members need an id and a fitness');
    this.rng = Rng.fromState(s.rng);
    this.population = structuredClone(s.population);
    this.samplesInFlight = s.samplesInFlight;
    this.seedsUsed = s.seedsUsed ?? 0;
  }
}

import { Rng, type RngState } from '../spaces/base/rng.js';
import type { SearchSpace } from '../spaces/types.js';
import type { Candidate, Strategy, Trial } from './types.js';

/** Uniform random search: the baseline every other strategy has to beat. */
export class RandomSearch<G> implements Strategy<{ rng: RngState }> {
  readonly name = 'random';
  private rng: Rng;

  constructor(
    private readonly space: SearchSpace<G>,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  ask(n: number): Candidate<G>[] {
    return Array.from({ length: n }, () => {
      const genome = this.space.sample(this.rng);
      return { genome, id: this.space.id(genome), origin: 'sample' as const };
    });
  }

  tell(_trials: Trial[]): void {}

  state() {
    return { rng: this.rng.state() };
  }

  restore(s: { rng: RngState }): void {
    if (typeof s !== 'object' || s === null || typeof s.rng !== 'object' || s.rng === null) throw new TypeError('expected { rng }');
    this.rng = Rng.fromState(s.rng);
  }
}

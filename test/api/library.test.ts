import { expect, it } from 'vitest';
import { evaluators, search, spaces, strategies } from '../../index.js';

it('runs the loop through the public API with a space and evaluator of the user\'s own', async () => {
  // a toy space: bit strings of length 8; fitness = number of ones
  type Bits = number[];
  const space: spaces.SearchSpace<Bits> = {
    name: 'bits',
    description: 'toy',
    sample: (rng) => Array.from({ length: 8 }, () => rng.int(2)),
    mutate: (g, rng) => {
      const k = rng.int(8);
      return g.map((b, i) => (i === k ? 1 - b : b));
    },
    check: (x) => (Array.isArray(x) && x.length === 8 ? { genome: x as Bits, errors: [] } : { errors: ['not 8 bits'] }),
    id: (g) => g.join(''),
    render: (g) => g.join(''),
    cost: () => ({ params: 0, flops: 0 }),
    ops: (g) => g.map((b, i) => `${i}:${b}`),
    opSet: () => [],
  };
  const evaluator: evaluators.Evaluator<Bits> = { name: 'ones', scoreNames: ['dev'], score: async (c) => ({ scores: { dev: c.genome.reduce((a, b) => a + b, 0) }, seconds: 0 }) };
  const state = await search.search({ space, strategy: strategies.makeStrategy('regularized-evolution', space, 1, { population: 8, tournament: 3 }), evaluator, seed: 1, budget: 100, batch: 2, objectives: ['dev'] });
  expect(Math.max(...state.trials.map((t) => t.scores.dev))).toBe(8);
  expect(Object.keys(strategies.STRATEGIES)).toEqual(['op-evolution', 'coarse-to-fine', 'regularized-evolution', 'random']);
  expect(evaluators.Nb201Evaluator.load().scoreNames).toContain('cifar10');
});

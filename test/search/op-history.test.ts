import { describe, expect, it } from 'vitest';
import { Nb201Evaluator } from '../../evaluators/nb201.js';
import { search } from '../../search/loop.js';
import { OpEvolution, opPriorityHistory } from '../../search/op-evolution.js';
import type { Trial } from '../../search/types.js';
import { nb201Space } from '../../spaces/nb201.js';

const table = Nb201Evaluator.load();

describe('op priorities replayed from the trials', () => {
  it('equal what op-evolution held after every batch, and stop before a batch not yet told', async () => {
    const s = new OpEvolution(nb201Space, 3, { population: 8, tournament: 3, c: 0.2 });
    const seen: { batch: number; priorities: Record<string, number> }[] = [];
    const tell = s.tell.bind(s);
    s.tell = (trials: Trial[]) => {
      tell(trials);
      seen.push({ batch: trials[0].batch, priorities: s.priorities() });
    };
    const state = await search({ space: nb201Space, strategy: s, evaluator: table, seed: 3, budget: 40, batch: 4, objectives: ['cifar10'] });
    const history = opPriorityHistory(state.trials, 0.2);
    expect(seen.length).toBeGreaterThanOrEqual(10);
    expect(history.map((h) => ({ batch: h.batch, priorities: h.priorities }))).toEqual(seen);
    // the priorities moved as the search learned: the last batch's differ from the first's
    expect(history[history.length - 1].priorities).not.toEqual(history[0].priorities);
    expect(history[history.length - 1].evaluated).toBe(state.trials.filter((t) => Number.isFinite(t.fitness)).length);
    // a pending batch (asked, not told) is left out
    expect(opPriorityHistory(state.trials, 0.2, 5)).toEqual(history.slice(0, 5));
  });
});

import { expect, it } from 'vitest';
import { DEFAULT_SEARCH, searchLimits } from '../../runs/session.js';
import { backboneSpace, BASELINES } from '../../spaces/backbone.js';

const shape = (numClasses: number) => ({ seqLen: 64, vocabSize: 8192, numClasses });

it("maxParams 'baseline' is the default baseline's (bert-tiny's) count for the task's classes; other limits pass through", () => {
  const c = { macro: DEFAULT_SEARCH.macro, limits: { maxParams: 'baseline' as const, maxFlops: 5e5 } };
  const two = searchLimits(c, shape(2));
  const six = searchLimits(c, shape(6));
  // bert-tiny at vocabulary 8192: 1,470,338 parameters with a two-class head, 1,470,854 with six (TREC)
  expect(two).toEqual({ maxParams: 1_470_338, maxFlops: 5e5 });
  expect(six.maxParams).toBe(1_470_854);
  expect(six.maxParams).toBe(backboneSpace(DEFAULT_SEARCH.macro).cost(BASELINES['bert-tiny'], shape(6)).params);
  // narrower ranges, a smaller baseline
  expect(searchLimits({ ...c, macro: { ...DEFAULT_SEARCH.macro, hidden: [64] } }, shape(2)).maxParams!).toBeLessThan(two.maxParams!);
  expect(searchLimits({ macro: DEFAULT_SEARCH.macro, limits: { maxParams: 2e6 } }, shape(2))).toEqual({ maxParams: 2e6 });
  expect(searchLimits({ macro: DEFAULT_SEARCH.macro, limits: {} }, shape(2)).maxParams).toBeUndefined();
});

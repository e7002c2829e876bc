import { describe, expect, it } from 'vitest';
import { dominates, paretoFront } from '../../runs/pareto.js';
import { trial } from './helpers.js';

const t = (index: number, dev: number, latency: number, over = {}) => trial(index, { scores: { dev, latency }, ...over });

describe('paretoFront', () => {
  it('keeps the non-dominated trials, maximising dev and minimising latency', () => {
    const trials = [
      t(0, 0.8, 2.0),
      t(1, 0.85, 3.0),
      t(2, 0.7, 1.0),
      t(3, 0.75, 2.5), // dominated by 0
      t(4, 0.8, 2.0), // ties 0 exactly: both stay
      t(5, 0.9, 3.0), // dominates 1
      t(6, 0.95, 0.5, { status: 'failed' }), // not ok: ignored
      trial(7, { scores: { dev: 0.99 } }), // no latency: left out
    ];
    const front = paretoFront(trials, ['dev', 'latency']);
    expect(front.map((x) => x.index)).toEqual([5, 0, 4, 2]);
  });

  it('treats equal values as no domination', () => {
    const a = t(0, 0.8, 2);
    const b = t(1, 0.8, 2);
    expect(dominates(a, b, ['dev', 'latency'])).toBe(false);
    expect(dominates(t(2, 0.8, 1.9), b, ['dev', 'latency'])).toBe(true);
    expect(dominates(t(2, 0.81, 2), b, ['dev', 'latency'])).toBe(true);
    expect(dominates(b, t(2, 0.81, 2), ['dev', 'latency'])).toBe(false);
  });

  it('reads params and flops from the cost when they are not scores, minimising them', () => {
    const trials = [trial(0, { scores: { dev: 0.8 } }), trial(1, { scores: { dev: 0.7 } }), trial(2, { scores: { dev: 0.9 } })];
    // trial(i) costs 1000 * (i + 1) params: 0 is smallest, 2 is best on dev, 1 is dominated by 0
    expect(paretoFront(trials, ['dev', 'params']).map((x) => x.index)).toEqual([2, 0]);
  });

  it('works for three objectives and for one', () => {
    const trials = [
      trial(0, { scores: { dev: 0.8, latency: 2, params: 10 } }),
      trial(1, { scores: { dev: 0.8, latency: 2, params: 5 } }),
      trial(2, { scores: { dev: 0.7, latency: 1, params: 20 } }),
    ];
    expect(paretoFront(trials, ['dev', 'latency', 'params']).map((x) => x.index)).toEqual([1, 2]);
    expect(paretoFront(trials, ['dev']).map((x) => x.index)).toEqual([0, 1]);
  });
});

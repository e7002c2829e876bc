import { describe, it, expect } from 'vitest';
import { accuracy, binaryF1, computeMetric, confusionMatrix, f1, macroF1, mcc } from '../../../evaluators/tasks/metrics.js';

// Binary case worked by hand: tp 3 (0,4,6), fp 2 (1,7), fn 1 (3), tn 2 (2,5).
const bp = [1, 1, 0, 0, 1, 0, 1, 1];
const bl = [1, 0, 0, 1, 1, 0, 1, 0];
// Three classes: confusion rows (true) [[1,1,0],[0,2,0],[1,0,1]].
const mp = [0, 1, 1, 1, 2, 0];
const ml = [0, 0, 1, 1, 2, 2];

describe('metrics, binary', () => {
  it('accuracy', () => {
    expect(accuracy(bp, bl)).toBe(5 / 8);
  });
  it('F1 of class 1 = 2tp / (2tp + fp + fn) = 6/9', () => {
    expect(binaryF1(bp, bl)).toBeCloseTo(6 / 9, 12);
    expect(f1(bp, bl, 2)).toBeCloseTo(6 / 9, 12);
    // class 0 as positive: tp 2, fp 1, fn 2 → 4/7
    expect(binaryF1(bp, bl, 0)).toBeCloseTo(4 / 7, 12);
  });
  it('macro F1 = mean of 2/3 and 4/7', () => {
    expect(macroF1(bp, bl)).toBeCloseTo((2 / 3 + 4 / 7) / 2, 12);
  });
  it('MCC = (tp·tn − fp·fn) / √((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = 4/√240', () => {
    expect(mcc(bp, bl)).toBeCloseTo(4 / Math.sqrt(240), 12);
    expect(mcc(bl, bl)).toBe(1);
    expect(mcc(bl.map((x) => 1 - x), bl)).toBe(-1);
  });
  it('degenerate cases are 0, as scikit-learn reports them', () => {
    expect(mcc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0); // constant prediction
    expect(binaryF1([0, 0], [0, 0])).toBe(0); // no positives anywhere
    expect(mcc([0, 0], [0, 0])).toBe(0);
  });
  it('multiclass MCC equals the binary formula on random binary data', () => {
    let s = 11;
    const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 < 0.5 ? 0 : 1);
    for (let t = 0; t < 20; t++) {
      const p = Array.from({ length: 50 }, r);
      const l = Array.from({ length: 50 }, r);
      let tp = 0, tn = 0, fp = 0, fn = 0;
      p.forEach((x, i) => (x && l[i] ? tp++ : x ? fp++ : l[i] ? fn++ : tn++));
      const ref = (tp * tn - fp * fn) / Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
      expect(mcc(p, l)).toBeCloseTo(ref, 12);
    }
  });
});

describe('metrics, multiclass', () => {
  it('confusion matrix', () => {
    expect(confusionMatrix(mp, ml)).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    expect(confusionMatrix([0], [0], 3)).toEqual([
      [1, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });
  it('accuracy and macro F1 (per class 1/2, 4/5, 2/3)', () => {
    expect(accuracy(mp, ml)).toBeCloseTo(4 / 6, 12);
    expect(macroF1(mp, ml)).toBeCloseTo((0.5 + 0.8 + 2 / 3) / 3, 12);
    expect(f1(mp, ml, 3)).toBeCloseTo((0.5 + 0.8 + 2 / 3) / 3, 12);
  });
  it('macro F1 skips classes absent from both labels and predictions', () => {
    expect(macroF1([0, 2], [0, 2])).toBe(1);
  });
  it('Gorodkin R_K: (c·s − Σp·t) / √((s² − Σp²)(s² − Σt²)) = 12/√528', () => {
    expect(mcc(mp, ml)).toBeCloseTo(12 / Math.sqrt(528), 12);
    expect(mcc(ml, ml)).toBe(1);
  });
  it('computeMetric dispatches by name', () => {
    expect(computeMetric('accuracy', mp, ml, 3)).toBe(accuracy(mp, ml));
    expect(computeMetric('f1', bp, bl, 2)).toBe(binaryF1(bp, bl));
    expect(computeMetric('mcc', mp, ml, 3)).toBe(mcc(mp, ml));
  });
  it('refuses mismatched lengths, empty input and non-class values', () => {
    expect(() => accuracy([0], [0, 1])).toThrow('accuracy: 1 predictions but 2 labels');
    expect(() => mcc([], [])).toThrow('no examples');
    expect(() => macroF1([0.5], [0])).toThrow(RangeError);
  });
});

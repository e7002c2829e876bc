/**
 * Classification metrics on predicted and true class indices. Conventions follow scikit-learn:
 * an undefined ratio (0/0) counts as 0, macro F1 averages over the classes that occur in the
 * labels or the predictions, and multiclass MCC is Gorodkin's R_K (equal to the usual
 * binary MCC for two classes).
 */
export type TaskMetric = 'accuracy' | 'f1' | 'mcc';

type Labels = ArrayLike<number>;

function check(pred: Labels, labels: Labels, what: string): void {
  if (pred.length !== labels.length) {
    throw new RangeError(`${what}: ${pred.length} predictions but ${labels.length} labels`);
  }
  if (labels.length === 0) throw new RangeError(`${what}: no examples`);
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(pred[i]) || pred[i] < 0 || !Number.isInteger(labels[i]) || labels[i] < 0) {
      throw new RangeError(`${what}: example ${i}: classes must be integers >= 0 (prediction ${pred[i]}, label ${labels[i]})`);
    }
  }
}

/** Confusion matrix m[true][predicted], K = numClasses or 1 + the largest class seen. */
export function confusionMatrix(pred: Labels, labels: Labels, numClasses?: number): number[][] {
  check(pred, labels, 'confusionMatrix');
  let k = numClasses ?? 0;
  for (let i = 0; i < labels.length; i++) k = Math.max(k, pred[i] + 1, labels[i] + 1);
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][pred[i]]++;
  return m;
}

export function accuracy(pred: Labels, labels: Labels): number {
  check(pred, labels, 'accuracy');
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / labels.length;
}

function f1Of(tp: number, fp: number, fn: number): number {
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

/** F1 of one class (default 1) against all others. */
export function binaryF1(pred: Labels, labels: Labels, positive = 1): number {
  check(pred, labels, 'binaryF1');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = pred[i] === positive;
    const t = labels[i] === positive;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return f1Of(tp, fp, fn);
}

/** Unweighted mean of the per-class F1 over the classes that occur in labels or predictions. */
export function macroF1(pred: Labels, labels: Labels): number {
  const m = confusionMatrix(pred, labels);
  let sum = 0;
  let n = 0;
  for (let c = 0; c < m.length; c++) {
    const tp = m[c][c];
    let t = 0;
    let p = 0;
    for (let j = 0; j < m.length; j++) {
      t += m[c][j];
      p += m[j][c];
    }
    if (t === 0 && p === 0) continue;
    sum += f1Of(tp, p - tp, t - tp);
    n++;
  }
  return sum / n;
}

/** Binary F1 (positive class 1) for two classes, macro F1 otherwise. */
export function f1(pred: Labels, labels: Labels, numClasses: number): number {
  return numClasses === 2 ? binaryF1(pred, labels, 1) : macroF1(pred, labels);
}

/**
 * Matthews correlation coefficient, in [-1, 1]; 0 when it is undefined (a constant prediction or
 * a single true class). Multiclass: (c·s − Σ p_k t_k) / √((s² − Σ p_k²)(s² − Σ t_k²)).
 */
export function mcc(pred: Labels, labels: Labels): number {
  const m = confusionMatrix(pred, labels);
  const k = m.length;
  const s = labels.length;
  let c = 0;
  let pt = 0;
  let pp = 0;
  let tt = 0;
  for (let i = 0; i < k; i++) {
    c += m[i][i];
    let t = 0;
    let p = 0;
    for (let j = 0; j < k; j++) {
      t += m[i][j];
      p += m[j][i];
    }
    pt += p * t;
    pp += p * p;
    tt += t * t;
  }
  const den = Math.sqrt((s * s - pp) * (s * s - tt));
  return den === 0 ? 0 : (c * s - pt) / den;
}

/** A task's metric by name. */
export function computeMetric(metric: TaskMetric, pred: Labels, labels: Labels, numClasses: number): number {
  switch (metric) {
    case 'accuracy':
      return accuracy(pred, labels);
    case 'f1':
      return f1(pred, labels, numClasses);
    case 'mcc':
      return mcc(pred, labels);
    default:
      throw new RangeError(`unknown metric "${String(metric)}"`);
  }
}

// Streaming AUC and logloss over score histograms. A histogram of scores per label is
// mergeable (workers' figures add up) and constant in memory, unlike a sorted list of every
// score. Bins are uniform in logit space, where predicted probabilities spread out, so the
// AUC error from binning stays near 1e-3 (see the test against the exact rank AUC).

export const AUC_BINS = 512;
const LOGIT_MIN = -12;
const LOGIT_MAX = 12;

export function scoreBin(p: number): number {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  const logit = Math.log(q / (1 - q));
  const b = Math.floor(((logit - LOGIT_MIN) / (LOGIT_MAX - LOGIT_MIN)) * AUC_BINS);
  return b < 0 ? 0 : b >= AUC_BINS ? AUC_BINS - 1 : b;
}

export class ScoreHistogram {
  readonly pos = new Float64Array(AUC_BINS);
  readonly neg = new Float64Array(AUC_BINS);
  n = 0;
  logLossSum = 0;
  /** Correct at threshold 0.5, and the confusion counts, for accuracy/precision/recall. */
  tp = 0;
  fp = 0;
  tn = 0;
  fn = 0;

  add(p: number, label: number): void {
    const b = scoreBin(p);
    const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
    if (label > 0.5) {
      this.pos[b]++;
      this.logLossSum -= Math.log(q);
      if (p >= 0.5) this.tp++; else this.fn++;
    } else {
      this.neg[b]++;
      this.logLossSum -= Math.log(1 - q);
      if (p >= 0.5) this.fp++; else this.tn++;
    }
    this.n++;
  }

  addBatch(scores: Float32Array, labels: Float32Array): void {
    for (let i = 0; i < scores.length; i++) this.add(scores[i], labels[i]);
  }

  merge(o: { pos: ArrayLike<number>; neg: ArrayLike<number>; n: number; logLossSum: number; tp?: number; fp?: number; tn?: number; fn?: number }): void {
    for (let i = 0; i < AUC_BINS; i++) { this.pos[i] += o.pos[i]; this.neg[i] += o.neg[i]; }
    this.n += o.n;
    this.logLossSum += o.logLossSum;
    this.tp += o.tp ?? 0; this.fp += o.fp ?? 0; this.tn += o.tn ?? 0; this.fn += o.fn ?? 0;
  }

  /** Probability that a random positive outscores a random negative (ties count half). */
  auc(): number {
    let negBelow = 0;
    let area = 0;
    let nPos = 0;
    for (let i = 0; i < AUC_BINS; i++) {
      area += this.pos[i] * (negBelow + this.neg[i] / 2);
      negBelow += this.neg[i];
      nPos += this.pos[i];
    }
    return nPos === 0 || negBelow === 0 ? NaN : area / (nPos * negBelow);
  }

  /**
   * Average precision (area under the precision-recall curve), step-wise over the bins: the
   * thresholds are the bins' lower edges from the highest score down, every example of a bin
   * on the same side of a threshold (ties within a bin are one threshold). With TP_k, FP_k the
   * positives and negatives in bins >= k and P the positives in all,
   *   AP = sum over bins k with positives of (pos[k] / P) * TP_k / (TP_k + FP_k),
   * i.e. each step of recall times the precision where it is reached. NaN without positives.
   * Against the exact per-example AP it lies between the within-bin orders that put a bin's
   * negatives first and its positives first, so its error shrinks with the bin width.
   */
  prAuc(): number {
    let tp = 0, fp = 0, area = 0;
    for (let k = AUC_BINS - 1; k >= 0; k--) {
      tp += this.pos[k]; fp += this.neg[k];
      if (this.pos[k] > 0) area += (this.pos[k] * tp) / (tp + fp);
    }
    return tp === 0 ? NaN : area / tp;
  }

  /** Confusion counts when every example in bins >= bin is predicted positive. */
  confusionFrom(bin: number): { tp: number; fp: number; fn: number; tn: number } {
    let tp = 0, fp = 0, P = 0, N = 0;
    for (let k = 0; k < AUC_BINS; k++) {
      P += this.pos[k]; N += this.neg[k];
      if (k >= bin) { tp += this.pos[k]; fp += this.neg[k]; }
    }
    return { tp, fp, fn: P - tp, tn: N - fp };
  }

  logLoss(): number {
    return this.n ? this.logLossSum / this.n : NaN;
  }

  toJSON() {
    return { pos: this.pos, neg: this.neg, n: this.n, logLossSum: this.logLossSum, tp: this.tp, fp: this.fp, tn: this.tn, fn: this.fn };
  }
}

/** Lowest probability that falls in bin b (0 for the first bin, which takes everything below). */
export function binLowerEdge(b: number): number {
  if (b <= 0) return 0;
  return 1 / (1 + Math.exp(-(LOGIT_MIN + ((LOGIT_MAX - LOGIT_MIN) * b) / AUC_BINS)));
}

export interface Threshold {
  /** Predicted positive: the examples in bins >= bin, i.e. scores from about `threshold` up. */
  bin: number;
  threshold: number;
  f1: number;
  precision: number;
  recall: number;
}

/** Precision, recall and F1 when bins >= bin are predicted positive (NaN where undefined). */
export function figuresFrom(h: ScoreHistogram, bin: number): Omit<Threshold, 'bin' | 'threshold'> {
  const { tp, fp, fn } = h.confusionFrom(bin);
  return {
    precision: tp + fp ? tp / (tp + fp) : NaN,
    recall: tp + fn ? tp / (tp + fn) : NaN,
    // 2TP / (2TP + FP + FN): 0, not NaN, when something is predicted positive and none is right.
    f1: tp + fp + fn ? (2 * tp) / (2 * tp + fp + fn) : NaN,
  };
}

/**
 * The bin threshold (a lower bin edge) with the highest F1 on h; among equal F1s the highest
 * threshold. Undefined without positives, where F1 is undefined at every threshold.
 */
export function bestF1Threshold(h: ScoreHistogram): Threshold | undefined {
  let P = 0;
  for (let k = 0; k < AUC_BINS; k++) P += h.pos[k];
  if (P === 0) return undefined;
  let tp = 0, fp = 0, best = -1, bestBin = 0;
  for (let k = AUC_BINS - 1; k >= 0; k--) {
    tp += h.pos[k]; fp += h.neg[k];
    const f1 = (2 * tp) / (tp + fp + P);
    if (h.pos[k] + h.neg[k] > 0 && f1 > best) { best = f1; bestBin = k; }
  }
  return { bin: bestBin, threshold: binLowerEdge(bestBin), ...figuresFrom(h, bestBin) };
}

/**
 * Exact average precision over examples (the reference the histogram's is tested against):
 * sorted by score, high first, each positive contributes the precision at its rank, ties of
 * equal score taken as one threshold (each tied positive gets the precision after the tie).
 */
export function exactAveragePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let tp = 0, seen = 0, sum = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i, tiedPos = 0;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) { if (labels[idx[j]] > 0.5) tiedPos++; j++; }
    tp += tiedPos; seen += j - i;
    sum += (tiedPos * tp) / seen;
    i = j;
  }
  return tp === 0 ? NaN : sum / tp;
}

/** Exact AUC by ranks (ties count half): the reference the histogram is tested against. */
export function exactAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  let nPos = 0;
  let i = 0;
  while (i < idx.length) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]] > 0.5) { rankSumPos += avgRank; nPos++; }
    i = j + 1;
  }
  const nNeg = scores.length - nPos;
  return nPos === 0 || nNeg === 0 ? NaN : (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Quantile of a sample (sorts a copy); q in [0, 1]. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  const pos = Math.min(s.length - 1, Math.max(0, q * (s.length - 1)));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

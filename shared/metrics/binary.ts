// The prequential metric of every kind that predicts a probability of a 0/1 target: AUC (the
// headline), PR-AUC, logloss and the 0.5-threshold figures, over a mergeable score histogram;
// and, per window in order, F1/precision/recall at the threshold that was best (for F1) on the
// window before, which stay meaningful where positives are rare and nothing scores above 0.5.
import type { Batch } from '../models/batch.ts';
import type { MetricAccumulator, MetricDef, MetricState } from '../models/types.ts';
import { ScoreHistogram, bestF1Threshold, figuresFrom } from './auc.ts';

export function binaryFigures(h: ScoreHistogram): Record<string, number> {
  const accuracy = h.n ? (h.tp + h.tn) / h.n : NaN;
  const precision = h.tp + h.fp ? h.tp / (h.tp + h.fp) : NaN;
  const recall = h.tp + h.fn ? h.tp / (h.tp + h.fn) : NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN;
  return { auc: h.auc(), prAuc: h.prAuc(), logLoss: h.logLoss(), accuracy, precision, recall, f1 };
}

export class BinaryMetric implements MetricAccumulator {
  readonly h = new ScoreHistogram();

  get count(): number {
    return this.h.n;
  }

  add(predictions: Float32Array, b: Batch, from: number, to: number): void {
    const T = b.targetWidth;
    // A NaN target is not known yet (a score made before its label): not counted.
    for (let i = from; i < to; i++) if (!Number.isNaN(b.targets[i * T])) this.h.add(predictions[i], b.targets[i * T]);
  }

  state(): MetricState {
    return this.h.toJSON();
  }

  merge(s: MetricState): void {
    this.h.merge(s as unknown as Parameters<ScoreHistogram['merge']>[0]);
  }

  figures(): Record<string, number> {
    return binaryFigures(this.h);
  }

  counts(): Record<string, number> {
    let positives = 0;
    for (let k = 0; k < this.h.pos.length; k++) positives += this.h.pos[k];
    return { positives };
  }

  /** At the previous window's best-F1 threshold; NaN for the first window or one without positives. */
  figuresAfter(previous: MetricAccumulator | undefined): Record<string, number> {
    if (previous !== undefined && !(previous instanceof BinaryMetric)) throw new Error('BinaryMetric.figuresAfter: the previous window is not a binary metric');
    const t = previous && bestF1Threshold(previous.h);
    const at = t ? figuresFrom(this.h, t.bin) : { f1: NaN, precision: NaN, recall: NaN };
    return { f1AtPrevBest: at.f1, precisionAtPrevBest: at.precision, recallAtPrevBest: at.recall, prevBestThreshold: t ? t.threshold : NaN };
  }
}

export const binaryMetric: MetricDef = { headline: 'auc', higherIsBetter: true, create: () => new BinaryMetric() };

// The prequential metric of every kind that predicts a probability of a 0/1 target: AUC (the
// headline), logloss and the 0.5-threshold figures, over a mergeable score histogram.
import type { Batch } from '../models/batch.ts';
import type { MetricAccumulator, MetricDef, MetricState } from '../models/types.ts';
import { ScoreHistogram } from './auc.ts';

export function binaryFigures(h: ScoreHistogram): Record<string, number> {
  const accuracy = h.n ? (h.tp + h.tn) / h.n : NaN;
  const precision = h.tp + h.fp ? h.tp / (h.tp + h.fp) : NaN;
  const recall = h.tp + h.fn ? h.tp / (h.tp + h.fn) : NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN;
  return { auc: h.auc(), logLoss: h.logLoss(), accuracy, precision, recall, f1 };
}

export class BinaryMetric implements MetricAccumulator {
  readonly h = new ScoreHistogram();

  get count(): number {
    return this.h.n;
  }

  add(predictions: Float32Array, b: Batch, from: number, to: number): void {
    const T = b.targetWidth;
    for (let i = from; i < to; i++) this.h.add(predictions[i], b.targets[i * T]);
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
}

export const binaryMetric: MetricDef = { headline: 'auc', higherIsBetter: true, create: () => new BinaryMetric() };

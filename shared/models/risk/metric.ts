// The risk kind's prequential metric: the binary figures (ROC-AUC the headline, average
// precision as PR-AUC, logloss) of the label each transaction turned out to have, against the
// score it got when it happened, plus precision among the window's 100 highest scores (what a
// review team with room for 100 cases a window would find). Rows whose label is not known yet
// (targets[0] NaN) are not counted.
import { BinaryMetric } from '../../metrics/binary.ts';
import type { Batch } from '../batch.ts';
import type { MetricAccumulator, MetricDef, MetricState } from '../types.ts';

export const TOP_K = 100;

export class RiskMetric implements MetricAccumulator {
  readonly binary = new BinaryMetric();
  /** The TOP_K highest scores so far and their labels, unordered. */
  private topScores: number[] = [];
  private topLabels: number[] = [];

  get count(): number {
    return this.binary.count;
  }

  add(predictions: Float32Array, b: Batch, from: number, to: number): void {
    const T = b.targetWidth;
    for (let i = from; i < to; i++) {
      const y = b.targets[i * T];
      if (Number.isNaN(y)) continue;
      this.binary.h.add(predictions[i], y);
      this.offer(predictions[i], y);
    }
  }

  private offer(score: number, label: number): void {
    if (this.topScores.length < TOP_K) { this.topScores.push(score); this.topLabels.push(label); return; }
    let min = 0;
    for (let k = 1; k < TOP_K; k++) if (this.topScores[k] < this.topScores[min]) min = k;
    if (score > this.topScores[min]) { this.topScores[min] = score; this.topLabels[min] = label; }
  }

  state(): MetricState {
    return { binary: this.binary.state(), topScores: this.topScores.slice(), topLabels: this.topLabels.slice() };
  }

  merge(s: MetricState): void {
    this.binary.merge(s.binary as MetricState);
    const sc = s.topScores as number[], lb = s.topLabels as number[];
    for (let k = 0; k < sc.length; k++) this.offer(sc[k], lb[k]);
  }

  figures(): Record<string, number> {
    const f = this.binary.figures();
    const n = this.topScores.length;
    const precisionAt100 = n === TOP_K ? this.topLabels.reduce((a, y) => a + (y > 0.5 ? 1 : 0), 0) / TOP_K : NaN;
    return { auc: f.auc, prAuc: f.prAuc, precisionAt100, logLoss: f.logLoss };
  }

  counts(): Record<string, number> {
    return this.binary.counts();
  }

  figuresAfter(previous: MetricAccumulator | undefined): Record<string, number> {
    return this.binary.figuresAfter(previous instanceof RiskMetric ? previous.binary : undefined);
  }
}

export const riskMetric: MetricDef = { headline: 'auc', higherIsBetter: true, create: () => new RiskMetric() };

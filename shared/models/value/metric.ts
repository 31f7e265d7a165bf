// The value kind's prequential metric: RMSE (the headline; lower is better), MAE and the mean
// error (bias), all in target units, from sums that merge across workers.
import type { Batch } from '../batch.ts';
import type { MetricAccumulator, MetricDef, MetricState } from '../types.ts';

export class RegressionMetric implements MetricAccumulator {
  n = 0;
  sumSq = 0;
  sumAbs = 0;
  sumErr = 0;

  get count(): number {
    return this.n;
  }

  add(p: Float32Array, b: Batch, from: number, to: number): void {
    const T = b.targetWidth;
    for (let i = from; i < to; i++) {
      const e = p[i] - b.targets[i * T];
      this.sumSq += e * e;
      this.sumAbs += Math.abs(e);
      this.sumErr += e;
      this.n++;
    }
  }

  state(): MetricState {
    return { n: this.n, sumSq: this.sumSq, sumAbs: this.sumAbs, sumErr: this.sumErr };
  }

  merge(s: MetricState): void {
    this.n += Number(s.n) || 0;
    this.sumSq += Number(s.sumSq) || 0;
    this.sumAbs += Number(s.sumAbs) || 0;
    this.sumErr += Number(s.sumErr) || 0;
  }

  figures(): Record<string, number> {
    const n = this.n;
    return { rmse: n ? Math.sqrt(this.sumSq / n) : NaN, mae: n ? this.sumAbs / n : NaN, bias: n ? this.sumErr / n : NaN };
  }
}

export const regressionMetric: MetricDef = { headline: 'rmse', higherIsBetter: false, create: () => new RegressionMetric() };

// Freshness as a user sees it: from the moment ingest accepted an event to the moment a
// model version containing its gradient is applied here. Each delta names, per push it
// contains, the mean accept time of that push's events and their count.
import { quantile, type WeightDelta } from '../../shared/index.ts';

export class FreshnessTracker {
  private readonly samples: Float64Array;
  private readonly weights: Float64Array;
  private readonly at: Float64Array;
  private n = 0;
  private pos = 0;

  constructor(capacity = 20_000) {
    this.samples = new Float64Array(capacity);
    this.weights = new Float64Array(capacity);
    this.at = new Float64Array(capacity);
  }

  /** Records the deltas' pushes; returns the freshness figures recorded (ms). */
  record(d: WeightDelta, nowMs = Date.now()): number[] {
    const out: number[] = [];
    for (let i = 0; i < d.pushAcceptedAtMs.length; i++) {
      const ms = nowMs - d.pushAcceptedAtMs[i];
      this.samples[this.pos] = ms;
      this.weights[this.pos] = d.pushExamples[i] ?? 1;
      this.at[this.pos] = nowMs;
      this.pos = (this.pos + 1) % this.samples.length;
      this.n = Math.min(this.n + 1, this.samples.length);
      out.push(ms);
    }
    return out;
  }

  get count(): number {
    return this.n;
  }

  /** Quantile over the recent pushes (each push counts once). */
  quantileMs(q: number): number {
    return quantile(this.samples.subarray(0, this.n), q);
  }

  /** Quantile over the pushes applied in the last `windowMs` (steady state, without start-up). */
  recentQuantileMs(q: number, windowMs: number, nowMs = Date.now()): { value: number; samples: number } {
    const recent: number[] = [];
    for (let i = 0; i < this.n; i++) if (nowMs - this.at[i] <= windowMs) recent.push(this.samples[i]);
    return { value: quantile(recent, q), samples: recent.length };
  }

  reset(): void {
    this.n = 0;
    this.pos = 0;
  }
}

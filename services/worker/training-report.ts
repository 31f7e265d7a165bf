// Collects the worker's prequential figures (the model's and its baselines', per bucket of
// event time) and publishes them as WorkerReports.
import { BucketMetrics, encode, subjects, type Baseline, type Batch, type MetricDef, type Transport, type WorkerReport } from '../../shared/index.ts';

export class TrainingReport {
  private buckets = new Map<number, BucketMetrics>();
  eventsTrained = 0;
  eventsRetried = 0;
  examples = 0;
  steps = 0;
  lossSum = 0;
  /** Examples put into buckets (cumulative): WorkerReport.scored. */
  scored = 0;

  constructor(private readonly worker: string, private readonly backend: string, private readonly bucketMs: number, private readonly metric: MetricDef) {}

  /**
   * Examples [0, n) of `b` with the model's predictions, scored before training on them; each
   * baseline predicts them too, then learns from them (test, then train, like the model).
   */
  addPredictions(predictions: Float32Array, b: Batch, n: number, loss: number, baselines: readonly Baseline[] = [], counted?: Uint8Array,
    pairBaseline?: (k: number, p: Float32Array) => Float32Array): void {
    // A baseline's delayed examples count with its own first score, as the model's do.
    const base = baselines.map((x, k) => (pairBaseline ? pairBaseline(k, x.predict(b)) : x.predict(b)));
    for (const x of baselines) x.learn(b);
    // Runs of counted examples in the same bucket go to its accumulators in one call; with
    // `counted`, examples marked 0 (forecasts whose targets come later) are left out.
    for (let i = 0; i < n;) {
      if (counted && !counted[i]) { i++; continue; }
      const key = Math.floor(b.eventTs[i] / this.bucketMs);
      let j = i + 1;
      while (j < n && (!counted || counted[j]) && Math.floor(b.eventTs[j] / this.bucketMs) === key) j++;
      let m = this.buckets.get(key);
      if (!m) this.buckets.set(key, (m = new BucketMetrics(this.metric)));
      m.model.add(predictions, b, i, j);
      baselines.forEach((x, k) => m!.baseline(x.name).add(base[k], b, i, j));
      m.n += j - i;
      this.scored += j - i;
      i = j;
    }
    this.examples += n;
    this.steps++;
    this.lossSum += loss * n;
  }

  settled(events: number, ok: boolean): void {
    if (ok) this.eventsTrained += events;
    else this.eventsRetried += events;
  }

  /** The report since the last take: cumulative counters, bucket increments. */
  take(): WorkerReport {
    const buckets = [...this.buckets].map(([key, m]) => m.toReport(key));
    this.buckets = new Map();
    return {
      worker: this.worker, backend: this.backend, atMs: Date.now(), eventsTrained: this.eventsTrained,
      eventsRetried: this.eventsRetried, examples: this.examples, steps: this.steps, lossSum: this.lossSum, scored: this.scored, buckets,
    };
  }

  publish(transport: Transport, model: string): void {
    transport.publish(subjects.metrics(model), encode(this.take()));
  }

  /**
   * The counters alone, the buckets left for the next full report: a few hundred bytes, cheap
   * enough to send before every ack (bucket states are tens of kB and go on the interval).
   */
  publishCounters(transport: Transport, model: string): void {
    const r: WorkerReport = {
      worker: this.worker, backend: this.backend, atMs: Date.now(), eventsTrained: this.eventsTrained,
      eventsRetried: this.eventsRetried, examples: this.examples, steps: this.steps, lossSum: this.lossSum, scored: this.scored, buckets: [],
    };
    transport.publish(subjects.metrics(model), encode(r));
  }
}

// Collects the worker's prequential figures and publishes them as WorkerReports.
import { ScoreHistogram, encode, subjects, type Transport, type WorkerReport } from '../../shared/index.ts';

export class TrainingReport {
  private buckets = new Map<number, ScoreHistogram>();
  eventsTrained = 0;
  eventsRetried = 0;
  examples = 0;
  steps = 0;
  lossSum = 0;

  constructor(private readonly worker: string, private readonly backend: string, private readonly bucketMs: number) {}

  addScores(scores: Float32Array, labels: Float32Array, eventTs: Float64Array, loss: number): void {
    for (let i = 0; i < scores.length; i++) {
      const key = Math.floor(eventTs[i] / this.bucketMs);
      let h = this.buckets.get(key);
      if (!h) this.buckets.set(key, (h = new ScoreHistogram()));
      h.add(scores[i], labels[i]);
    }
    this.examples += scores.length;
    this.steps++;
    this.lossSum += loss * scores.length;
  }

  settled(events: number, ok: boolean): void {
    if (ok) this.eventsTrained += events;
    else this.eventsRetried += events;
  }

  /** The report since the last take: cumulative counters, bucket increments. */
  take(): WorkerReport {
    const buckets = [...this.buckets].map(([key, h]) => ({ key, ...h.toJSON() }));
    this.buckets = new Map();
    return {
      worker: this.worker, backend: this.backend, atMs: Date.now(), eventsTrained: this.eventsTrained,
      eventsRetried: this.eventsRetried, examples: this.examples, steps: this.steps, lossSum: this.lossSum, buckets,
    };
  }

  publish(transport: Transport, model: string): void {
    transport.publish(subjects.metrics(model), encode(this.take()));
  }
}

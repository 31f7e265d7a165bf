// Prequential training figures as they travel from workers to whoever watches (the demo,
// `flywheel eval`): per bucket of event time, the state of the kind's metric over the
// examples scored before they were trained on, and the same for each baseline scored on those
// examples. Metric states merge, so any number of workers add up exactly.
import type { MetricAccumulator, MetricDef, MetricState } from '../models/types.ts';

export interface BucketReport {
  key: number;
  /** Examples of the bucket in this report. */
  n: number;
  /** The model's metric state. */
  model: MetricState;
  /** Per baseline name, its metric state over the same examples. */
  baselines: Record<string, MetricState>;
}

/** One worker's report: cumulative counters plus the bucket increments since its last report. */
export interface WorkerReport {
  worker: string;
  backend: string;
  atMs: number;
  eventsTrained: number;
  eventsRetried: number;
  examples: number;
  steps: number;
  lossSum: number;
  /**
   * Examples put into buckets so far (cumulative; absent in reports of older workers). The
   * counters go out before every ack, the bucket increments only every metricsIntervalMs: a
   * report with buckets holds every increment up to its `scored`, so a reader has the buckets
   * a report's counters stand for once it has seen a report with buckets at that count.
   */
  scored?: number;
  buckets: BucketReport[];
}

export interface WindowFigures {
  fromMs: number;
  toMs: number;
  examples: number;
  /** The headline figure (metric.headline) of the model in this window. */
  headline: number;
  /** Every figure of the model's metric. */
  figures: Record<string, number>;
  /** Per baseline, its figures on the same examples. */
  baselines: Record<string, Record<string, number>>;
}

/** The model's and the baselines' accumulators of one bucket. */
export class BucketMetrics {
  readonly model: MetricAccumulator;
  readonly baselines = new Map<string, MetricAccumulator>();
  n = 0;

  constructor(private readonly metric: MetricDef) {
    this.model = metric.create();
  }

  baseline(name: string): MetricAccumulator {
    let m = this.baselines.get(name);
    if (!m) this.baselines.set(name, (m = this.metric.create()));
    return m;
  }

  merge(b: Omit<BucketReport, 'key'> | BucketMetrics): void {
    if (b instanceof BucketMetrics) {
      this.model.merge(b.model.state());
      for (const [k, m] of b.baselines) this.baseline(k).merge(m.state());
    } else {
      this.model.merge(b.model);
      for (const [k, s] of Object.entries(b.baselines)) this.baseline(k).merge(s);
    }
    this.n += b.n;
  }

  toReport(key: number): BucketReport {
    return { key, n: this.n, model: this.model.state(), baselines: Object.fromEntries([...this.baselines].map(([k, m]) => [k, m.state()])) };
  }

  /**
   * The figures of the model and each baseline. A window in stream order passes the window
   * before it (`{ previous: undefined }` for the first) and gets the metric's figuresAfter too.
   */
  figures(order?: { previous: BucketMetrics | undefined }): Omit<WindowFigures, 'fromMs' | 'toMs'> {
    const of = (m: MetricAccumulator, prev: MetricAccumulator | undefined) => ({
      ...m.counts?.(), ...m.figures(), ...(order && m.figuresAfter ? m.figuresAfter(prev) : {}),
    });
    const figures = of(this.model, order?.previous?.model);
    return {
      examples: this.n, headline: figures[this.metric.headline], figures,
      baselines: Object.fromEntries([...this.baselines].map(([k, m]) => [k, of(m, order?.previous?.baselines.get(k))])),
    };
  }
}

/** Merges worker reports into per-bucket metrics and cuts them into windows. */
export class ReportAggregator {
  readonly buckets = new Map<number, BucketMetrics>();
  /** Each worker's newest report (its counters may run ahead of the buckets merged). */
  readonly workers = new Map<string, WorkerReport>();
  /** Each worker's newest report whose buckets are all merged here: what total() sums. */
  private readonly settledReports = new Map<string, WorkerReport>();
  /** Each worker's `scored` in its newest report with buckets: its buckets are here up to it. */
  private readonly bucketsUpTo = new Map<string, number>();
  /** Every bucket merged as reports arrive: overall() costs one figures(), not a merge of all buckets. */
  private readonly all: BucketMetrics;
  /** When each worker's newest report arrived here (this reader's clock). */
  private readonly heardAtMs = new Map<string, number>();

  /**
   * `goneAfterMs`: a worker not heard from for this long is gone (killed: a live one reports
   * every metricsIntervalMs), and its newest counters count as they are. Its buckets since its
   * last full report died with it; waiting for them would hold total() below what was trained
   * for ever. Default 10 s, the default lease TTL: a worker silent that long has lost its
   * event shards too.
   */
  constructor(readonly bucketMs: number, readonly metric: MetricDef, private readonly goneAfterMs = 10_000, private readonly now: () => number = Date.now) {
    this.all = new BucketMetrics(metric);
  }

  add(r: WorkerReport): void {
    this.heardAtMs.set(r.worker, this.now());
    const prev = this.workers.get(r.worker);
    // A restarted worker of the same name counts from 0 again.
    const restarted = prev !== undefined && (r.eventsTrained < prev.eventsTrained || (r.scored ?? 0) < (prev.scored ?? 0));
    if (restarted) this.bucketsUpTo.delete(r.worker);
    // Counting by report, not by examples merged: a reader that joined late (missed the first
    // reports) still settles, its figures lacking what it missed as they always did.
    if (r.buckets.length && r.scored !== undefined) this.bucketsUpTo.set(r.worker, Math.max(this.bucketsUpTo.get(r.worker) ?? 0, r.scored));
    const counters = { ...r, buckets: [] };
    this.workers.set(r.worker, counters);
    if (r.scored === undefined || r.scored <= (this.bucketsUpTo.get(r.worker) ?? 0)) this.settledReports.set(r.worker, counters);
    for (const b of r.buckets) {
      let m = this.buckets.get(b.key);
      if (!m) this.buckets.set(b.key, (m = new BucketMetrics(this.metric)));
      m.merge(b);
      this.all.merge(b);
    }
  }

  /**
   * A counter summed over the workers, as of each one's newest report whose buckets have all
   * arrived: once total('eventsTrained') reaches a count, the figures cover those events (less
   * what a gone worker scored after its last full report).
   */
  total<K extends 'eventsTrained' | 'eventsRetried' | 'examples' | 'steps' | 'lossSum'>(k: K): number {
    let s = 0;
    const now = this.now();
    for (const [name, newest] of this.workers) {
      const gone = now - (this.heardAtMs.get(name) ?? now) > this.goneAfterMs;
      s += (gone ? newest : this.settledReports.get(name))?.[k] ?? 0;
    }
    return s;
  }

  overall(): Omit<WindowFigures, 'fromMs' | 'toMs'> {
    return this.all.figures();
  }

  /**
   * Cuts the stream, in event-time order, into `n` windows of about equal example counts; each
   * window's figures include those its metric takes from the window before (figuresAfter).
   */
  windows(n: number): WindowFigures[] {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    const total = keys.reduce((s, k) => s + this.buckets.get(k)!.n, 0);
    const out: WindowFigures[] = [];
    let cur = new BucketMetrics(this.metric);
    let previous: BucketMetrics | undefined;
    let from = keys[0];
    let seen = 0;
    for (const k of keys) {
      const b = this.buckets.get(k)!;
      cur.merge(b);
      seen += b.n;
      if (seen >= ((out.length + 1) * total) / n || k === keys[keys.length - 1]) {
        out.push({ fromMs: from * this.bucketMs, toMs: (k + 1) * this.bucketMs, ...cur.figures({ previous }) });
        previous = cur;
        cur = new BucketMetrics(this.metric);
        from = k + 1;
      }
    }
    return out;
  }
}

// The dashboard's prequential figures by window of event time, kept as reports arrive: each
// report bucket is merged once into its window's accumulator (and into the whole stream's),
// and only the windows a report touched are figured again. Merging every bucket of the
// stream anew for each refresh (what ReportAggregator.windows does, right for a summary at the
// end) costs seconds a refresh on a year of item-day demand states.
import { BucketMetrics, type BucketReport, type MetricDef, type WindowFigures, type WorkerReport } from '../../shared/index.ts';

/** At most this many windows: past it, each window takes twice as many buckets. */
export const MAX_WINDOWS = 40;

interface Win {
  m: BucketMetrics;
  figures?: Omit<WindowFigures, 'fromMs' | 'toMs'>;
}

export class TimeWindows {
  /** Buckets (of bucketMs) per window: 1, 2, 4... as the stream grows. */
  span = 1;
  private readonly wins = new Map<number, Win>();
  private readonly all: BucketMetrics;
  private allFigures?: Omit<WindowFigures, 'fromMs' | 'toMs'>;
  /** Per worker process, its newest report's cumulative counters. */
  readonly workers = new Map<string, Omit<WorkerReport, 'buckets'>>();

  constructor(readonly bucketMs: number, readonly metric: MetricDef) {
    this.all = new BucketMetrics(metric);
  }

  get size(): number {
    return this.wins.size;
  }

  add(r: WorkerReport): void {
    const { buckets, ...counters } = r;
    this.workers.set(r.worker, counters);
    for (const b of buckets) this.addBucket(b);
  }

  private addBucket(b: BucketReport): void {
    const w = Math.floor(b.key / this.span);
    let win = this.wins.get(w);
    if (!win) {
      this.wins.set(w, (win = { m: new BucketMetrics(this.metric) }));
      if (this.wins.size > MAX_WINDOWS) this.widen();
      win = this.wins.get(Math.floor(b.key / this.span))!;
    }
    win.m.merge(b);
    win.figures = undefined;
    // A window's figuresAfter read the window before it: the next one is stale too.
    const next = this.wins.get(Math.floor(b.key / this.span) + 1);
    if (next) next.figures = undefined;
    this.all.merge(b);
    this.allFigures = undefined;
  }

  /** Twice the buckets per window: pairs of windows merge (once per doubling). */
  private widen(): void {
    this.span *= 2;
    const old = [...this.wins].sort((a, b) => a[0] - b[0]);
    this.wins.clear();
    for (const [w, win] of old) {
      const to = Math.floor(w / 2);
      const into = this.wins.get(to);
      if (!into) this.wins.set(to, { m: win.m });
      else { into.m.merge(win.m); into.figures = undefined; }
    }
  }

  total(k: 'eventsTrained' | 'eventsRetried' | 'examples' | 'steps' | 'lossSum'): number {
    let s = 0;
    for (const w of this.workers.values()) s += w[k];
    return s;
  }

  /** Every window in event-time order, figured where a report touched it since. */
  windows(): WindowFigures[] {
    const keys = [...this.wins.keys()].sort((a, b) => a - b);
    return keys.map((w, i) => {
      const win = this.wins.get(w)!;
      const previous = i > 0 && keys[i - 1] === w - 1 ? this.wins.get(w - 1)!.m : undefined;
      win.figures ??= win.m.figures({ previous });
      return { fromMs: w * this.span * this.bucketMs, toMs: (w + 1) * this.span * this.bucketMs, ...win.figures };
    });
  }

  overall(): Omit<WindowFigures, 'fromMs' | 'toMs'> {
    return (this.allFigures ??= this.all.figures());
  }
}

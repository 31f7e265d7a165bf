// Prequential training figures as they travel from workers to whoever watches (the demo,
// `flywheel eval`): per bucket of event time, a score histogram of the examples scored
// before they were trained on. Histograms add up, so any number of workers merge exactly.
import { ScoreHistogram } from './auc.ts';

export interface BucketReport {
  key: number;
  pos: Float64Array;
  neg: Float64Array;
  n: number;
  logLossSum: number;
  tp: number; fp: number; tn: number; fn: number;
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
  buckets: BucketReport[];
}

export interface WindowFigures {
  fromMs: number;
  toMs: number;
  examples: number;
  auc: number;
  logLoss: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

export function figuresOf(h: ScoreHistogram): Omit<WindowFigures, 'fromMs' | 'toMs'> {
  const accuracy = h.n ? (h.tp + h.tn) / h.n : NaN;
  const precision = h.tp + h.fp ? h.tp / (h.tp + h.fp) : NaN;
  const recall = h.tp + h.fn ? h.tp / (h.tp + h.fn) : NaN;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN;
  return { examples: h.n, auc: h.auc(), logLoss: h.logLoss(), accuracy, precision, recall, f1 };
}

/** Merges worker reports into per-bucket histograms and cuts them into windows. */
export class ReportAggregator {
  readonly buckets = new Map<number, ScoreHistogram>();
  readonly workers = new Map<string, WorkerReport>();

  constructor(readonly bucketMs: number) {}

  add(r: WorkerReport): void {
    this.workers.set(r.worker, { ...r, buckets: [] });
    for (const b of r.buckets) {
      let h = this.buckets.get(b.key);
      if (!h) this.buckets.set(b.key, (h = new ScoreHistogram()));
      h.merge(b);
    }
  }

  total<K extends 'eventsTrained' | 'eventsRetried' | 'examples' | 'steps' | 'lossSum'>(k: K): number {
    let s = 0;
    for (const w of this.workers.values()) s += w[k];
    return s;
  }

  overall(): ScoreHistogram {
    const h = new ScoreHistogram();
    for (const b of this.buckets.values()) h.merge(b);
    return h;
  }

  /** Cuts the stream, in event-time order, into `n` windows of about equal example counts. */
  windows(n: number): WindowFigures[] {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    const total = keys.reduce((s, k) => s + this.buckets.get(k)!.n, 0);
    const out: WindowFigures[] = [];
    let cur = new ScoreHistogram();
    let from = keys[0];
    let seen = 0;
    for (const k of keys) {
      const h = this.buckets.get(k)!;
      cur.merge(h);
      seen += h.n;
      if (seen >= ((out.length + 1) * total) / n || k === keys[keys.length - 1]) {
        out.push({ fromMs: from * this.bucketMs, toMs: (k + 1) * this.bucketMs, ...figuresOf(cur) });
        cur = new ScoreHistogram();
        from = k + 1;
      }
    }
    return out;
  }
}

// The traffic a load test replays: one of the real datasets, as a stream of events that
// loops when the file runs out (a 60 s run at 5k events/s needs 300k events; the Taobao slice
// has 110k) and ends when the run's bounds say so.
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../shared/datasets/online-retail.ts';
import { TAOBAO_SLICE_PATH, taobaoEventBatches } from '../shared/datasets/taobao.ts';
import { MOVIELENS_DIR, movieLensEventBatches } from '../shared/datasets/movie-ratings.ts';
import type { FlywheelEvent } from '../shared/index.ts';

export const DATASETS = ['retail', 'taobao', 'movielens'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** Config overrides that make each dataset a sensible model (labels and feature fields). */
export const DATASET_MODEL: Record<DatasetName, Record<string, unknown>> = {
  // As the demo: purchases are implicit positives, 4 sampled negatives each.
  retail: { settings: { labels: { kind: 'implicit', negatives: 4 }, fields: ['user', 'item', 'hour', 'weekday', 'country'] } },
  // Views are negatives, cart/fav/buy positives (the default label rule).
  taobao: { settings: { labels: { kind: 'types', positive: ['cart', 'fav', 'buy'] }, fields: ['user', 'item', 'category', 'hour', 'weekday'] } },
  // A rating of 4 or more is a positive.
  movielens: { settings: { labels: { kind: 'threshold', min: 4 }, fields: ['user', 'item', 'category', 'hour', 'weekday'] } },
};

export function datasetBatches(name: DatasetName): AsyncIterable<FlywheelEvent[]> {
  if (name === 'retail') return onlineRetailEventBatches(DEMO_DATA_PATH);
  if (name === 'taobao') return taobaoEventBatches(TAOBAO_SLICE_PATH);
  return movieLensEventBatches(MOVIELENS_DIR);
}

export interface BoundedStreamOptions {
  /** Stop after this many events. Default: no bound. */
  maxEvents?: number;
  /** Stop yielding once this returns true (deadline, SIGINT); checked per batch of the file. */
  stop?: () => boolean;
  /** Passes over the file at most; default 100 (a bound, not a goal). */
  maxPasses?: number;
}

/**
 * The dataset's events, looped. Each further pass is shifted by the span of the data plus one
 * day, so event time keeps rising (pacing by timestamps stays monotone) and the model sees
 * the same users and items again, as a shop does on the next days. A pass that would reach
 * past today is not made: the stream ends there.
 */
export async function* loopedEvents(name: DatasetName, o: BoundedStreamOptions = {}): AsyncGenerator<FlywheelEvent> {
  const max = o.maxEvents ?? Infinity;
  let n = 0;
  let shift = 0;
  for (let pass = 0; pass < (o.maxPasses ?? 100); pass++) {
    let first = Infinity;
    let last = -Infinity;
    let any = false;
    for await (const batch of datasetBatches(name)) {
      if (o.stop?.()) return;
      for (const ev of batch) {
        if (n >= max) return;
        any = true;
        first = Math.min(first, ev.ts);
        last = Math.max(last, ev.ts);
        n++;
        yield shift ? { ...ev, ts: ev.ts + shift } : ev;
      }
    }
    if (!any) return;
    shift += last - first + 86_400_000;
    // Ingest refuses events from the future: a dataset spanning decades (MovieLens) ends here.
    if (last + shift + (last - first) > Date.now()) return;
  }
}

/** The first `count` events of a dataset (looped if need be), for the ingest-only mode. */
export async function loadEvents(name: DatasetName, count: number): Promise<FlywheelEvent[]> {
  const out: FlywheelEvent[] = [];
  for await (const ev of loopedEvents(name, { maxEvents: count })) out.push(ev);
  return out;
}

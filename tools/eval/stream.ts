// The evaluation stream: the dataset's events turned into training examples once, exactly as
// a worker builds them (same ExampleBuilder, label rule and sampler seed as worker 0), plus
// what the figures need per example: its window, whether its user is new, its item's
// popularity so far, and for a sample of positives the candidate items to rank against.
import { featurizeInto, hashRow, mulberry32, type FlywheelConfig, type FlywheelEvent } from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import type { CtrModelConfig } from '../../shared/models/ctr/config.ts';
import { windowOfExample, type EvalOptions } from './protocol.ts';

/** Item popularity buckets: earlier events on the item (0, 1-9, 10-99, 100-999, 1000+). */
export const POPULARITY_BUCKETS = ['0', '1-9', '10-99', '100-999', '1000+'] as const;

export function popularityBucket(count: number): number {
  return count === 0 ? 0 : Math.min(4, Math.floor(Math.log10(count)) + 1);
}

export interface RankSets {
  /** Number of sampled positives. */
  count: number;
  /** Candidates per positive, the positive itself first. */
  size: number;
  /** Example index of each sampled positive. */
  example: Int32Array;
  /** count x size x F row ids: set s, candidate c at ((s * size) + c) * F. */
  ids: Int32Array;
}

export interface EvalStream {
  events: number;
  size: number;
  fields: number;
  ids: Int32Array;
  labels: Float32Array;
  eventTs: Float64Array;
  window: Uint8Array;
  /** 1 when the example's user had no earlier event in the stream. */
  newUser: Uint8Array;
  /** POPULARITY_BUCKETS index of the example's item (negatives: the sampled item). */
  popularity: Uint8Array;
  rank: RankSets;
}

/** Builds the examples of `events` (in stream order) with the config's label rule and fields. */
export function buildEvalStream(events: FlywheelEvent[], cfg: FlywheelConfig, o: EvalOptions): EvalStream {
  const m = resolveModel(cfg);
  // The segment and ranking figures read the CTR kind's fields (hashed item ids); other kinds
  // are evaluated by the worker's prequential metric and baselines (see docs/MODELS.md).
  if (m.kind.kind !== 'ctr') throw new Error(`flywheel eval compares ways of training the ctr kind; model ${m.name} is of kind ${m.kind.kind}`);
  const st = m.settings as CtrModelConfig;
  const fields = st.fields;
  const F = fields.length;
  const builder = m.kind.exampleSource(st, cfg.seed + 7); // the seed of worker 0
  const itemField = fields.indexOf('item');
  const implicit = st.labels.kind === 'implicit';
  const cap = events.length * builder.examplesPerEvent;
  const ids = new Int32Array(cap * F);
  const labels = new Float32Array(cap);
  const eventTs = new Float64Array(cap);
  const newUser = new Uint8Array(cap);
  const popularity = new Uint8Array(cap);
  const ofEvent = new Int32Array(cap); // event index of each example, for ranking candidates
  const seenUsers = new Set<string>();
  const itemCount = new Map<number, number>(); // by item row id: negatives carry only their row
  const distinct: { itemId: string; categoryId?: string }[] = [];
  const distinctSeen = new Set<string>();
  const distinctBefore = new Int32Array(events.length);
  let n = 0;
  const CHUNK = 1000;
  for (let e0 = 0; e0 < events.length; e0 += CHUNK) {
    const chunk = events.slice(e0, e0 + CHUNK);
    const b = builder.push(chunk);
    ids.set(b.ids, n * F);
    labels.set(b.targets, n);
    eventTs.set(b.eventTs, n);
    // The builder emits each event's example, then (implicit feedback) the negatives it could
    // draw, possibly fewer than asked: an event's examples run until the next label 1.
    let k = n;
    for (let j = 0; j < chunk.length; j++) {
      const ev = chunk[j];
      let per = 1;
      if (implicit) while (k - n + per < b.size && b.targets[k - n + per] === 0) per++;
      const isNew = seenUsers.has(ev.userId) ? 0 : 1;
      distinctBefore[e0 + j] = distinct.length;
      for (let x = 0; x < per; x++, k++) {
        newUser[k] = isNew;
        ofEvent[k] = e0 + j;
        const row = itemField >= 0 ? ids[k * F + itemField] : hashRow(ev.itemId, st.buckets);
        popularity[k] = popularityBucket(itemCount.get(row) ?? 0);
      }
      seenUsers.add(ev.userId);
      const row = hashRow(ev.itemId, st.buckets);
      itemCount.set(row, (itemCount.get(row) ?? 0) + 1);
      if (!distinctSeen.has(ev.itemId)) { distinctSeen.add(ev.itemId); distinct.push({ itemId: ev.itemId, categoryId: ev.categoryId }); }
    }
    n += b.size;
  }
  const window = new Uint8Array(n);
  for (let i = 0; i < n; i++) window[i] = windowOfExample(i, n, o.windows);
  const s: EvalStream = {
    events: events.length, size: n, fields: F, ids: ids.subarray(0, n * F), labels: labels.subarray(0, n),
    eventTs: eventTs.subarray(0, n), window, newUser: newUser.subarray(0, n), popularity: popularity.subarray(0, n),
    rank: { count: 0, size: o.rankCandidates + 1, example: new Int32Array(0), ids: new Int32Array(0) },
  };
  s.rank = sampleRankSets(s, events, ofEvent, distinct, distinctBefore, st, o);
  return s;
}

/** Up to rankPositivesPerWindow positives per window, evenly spaced, each with sampled candidates. */
function sampleRankSets(
  s: EvalStream, events: FlywheelEvent[], ofEvent: Int32Array, distinct: { itemId: string; categoryId?: string }[],
  distinctBefore: Int32Array, st: CtrModelConfig, o: EvalOptions,
): RankSets {
  const F = s.fields;
  const C = o.rankCandidates;
  const byWindow: number[][] = Array.from({ length: o.windows }, () => []);
  for (let i = 0; i < s.size; i++) {
    if (s.labels[i] > 0.5 && distinctBefore[ofEvent[i]] > C) byWindow[s.window[i]].push(i);
  }
  const chosen: number[] = [];
  for (const list of byWindow) {
    const step = list.length / Math.min(list.length, o.rankPositivesPerWindow);
    for (let j = 0; j < Math.min(list.length, o.rankPositivesPerWindow); j++) chosen.push(list[Math.floor(j * step)]);
  }
  const rand = mulberry32(o.rankSeed);
  const size = C + 1;
  const ids = new Int32Array(chosen.length * size * F);
  const rows = st.fields.map(() => st.buckets);
  chosen.forEach((ex, sIdx) => {
    const ev = events[ofEvent[ex]];
    const base = sIdx * size * F;
    ids.set(s.ids.subarray(ex * F, (ex + 1) * F), base);
    const pool = distinctBefore[ofEvent[ex]];
    const picked = new Set<number>();
    for (let c = 1; c < size; c++) {
      let d: number;
      do d = Math.floor(rand() * pool); while (picked.has(d) || distinct[d].itemId === ev.itemId);
      picked.add(d);
      featurizeInto({ ...ev, itemId: distinct[d].itemId, categoryId: distinct[d].categoryId }, st.fields, rows, ids, base + c * F);
    }
  });
  return { count: chosen.length, size, example: Int32Array.from(chosen), ids };
}

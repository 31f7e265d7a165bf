// What `flywheel eval` reports for the CTR kind beyond its metric: segments (new vs returning
// users, item popularity so far) and ranking probes (a sample of positives, each ranked
// against items drawn uniformly from those seen before it: HR@K, NDCG@K). Both need to know
// which event made each example, which only this kind's example layout tells: each event's
// example first, then (implicit feedback) the negatives drawn for it, all labelled 0.
import type { FlywheelEvent } from '../../events.ts';
import { featurizeInto, hashRow } from '../../features.ts';
import { mulberry32 } from '../../hash.ts';
import { emptyBatch, type Batch } from '../batch.ts';
import type { EvalExtras, EvalExtrasInput, EvalProbes } from '../types.ts';
import type { CtrModelConfig } from './config.ts';
import { rankFigures } from './ranking.ts';

/** Item popularity buckets: earlier events on the item (0, 1-9, 10-99, 100-999, 1000+). */
export const POPULARITY_BUCKETS = ['0', '1-9', '10-99', '100-999', '1000+'] as const;

export function popularityBucket(count: number): number {
  return count === 0 ? 0 : Math.min(4, Math.floor(Math.log10(count)) + 1);
}

/** Event index of each example of the stream the CTR example source made of `events`. */
export function eventOfExamples(cfg: CtrModelConfig, stream: Batch, events: number): Int32Array {
  const out = new Int32Array(stream.size);
  const implicit = cfg.labels.kind === 'implicit';
  let e = -1;
  for (let i = 0; i < stream.size; i++) {
    // Implicit feedback: every event's own example is a positive; its negatives follow it.
    if (!implicit || stream.targets[i * stream.targetWidth] > 0.5 || i === 0) e++;
    out[i] = e;
  }
  if (e + 1 !== events) throw new Error(`the CTR stream has examples of ${e + 1} events, expected ${events}`);
  return out;
}

export function ctrEvalExtras(cfg: CtrModelConfig, input: EvalExtrasInput): EvalExtras {
  // With a window rule an impression's example comes twice (scored, then labelled) and actions
  // make none: examples are not one per event, which segments and probes rest on.
  if (cfg.labels.kind === 'window') return { segments: [], notes: ['window labels: no segments or ranking probes (an example is not one per event).'] };
  const { events, stream } = input;
  const F = cfg.fields.length;
  const itemField = cfg.fields.indexOf('item');
  const eventOf = eventOfExamples(cfg, stream, events.length);
  const newUser = new Uint8Array(stream.size);
  const popularity = new Uint8Array(stream.size);
  const seenUsers = new Set<string>();
  const itemCount = new Map<number, number>(); // by item row id: negatives carry only their row
  const distinct: { itemId: string; categoryId?: string }[] = [];
  const distinctSeen = new Set<string>();
  const distinctBefore = new Int32Array(events.length);
  let k = 0;
  for (let e = 0; e < events.length; e++) {
    const ev = events[e];
    const isNew = seenUsers.has(ev.userId) ? 0 : 1;
    distinctBefore[e] = distinct.length;
    for (; k < stream.size && eventOf[k] === e; k++) {
      newUser[k] = isNew;
      const row = itemField >= 0 ? stream.ids[k * F + itemField] : hashRow(ev.itemId, cfg.buckets);
      popularity[k] = popularityBucket(itemCount.get(row) ?? 0);
    }
    seenUsers.add(ev.userId);
    const row = hashRow(ev.itemId, cfg.buckets);
    itemCount.set(row, (itemCount.get(row) ?? 0) + 1);
    if (!distinctSeen.has(ev.itemId)) { distinctSeen.add(ev.itemId); distinct.push({ itemId: ev.itemId, categoryId: ev.categoryId }); }
  }
  const p = input.probes;
  return {
    segments: [
      { name: 'users', groups: ['new', 'returning'], groupOf: newUser.map((x) => 1 - x) },
      { name: 'item popularity', groups: POPULARITY_BUCKETS, groupOf: popularity },
    ],
    probes: p.perWindow > 0 ? rankingProbes(cfg, input, eventOf, distinct, distinctBefore) : undefined,
    notes: [
      `Ranking: up to ${p.perWindow} positives per window, each ranked against ${p.candidates} items drawn uniformly from items seen earlier; ties count against the positive.`,
      'Segments: new user = no earlier event of the user in the stream; item popularity = earlier events on the item.',
    ],
  };
}

/** Up to perWindow positives per window, evenly spaced, each with its sampled candidates. */
function rankingProbes(
  cfg: CtrModelConfig, input: EvalExtrasInput, eventOf: Int32Array,
  distinct: { itemId: string; categoryId?: string }[], distinctBefore: Int32Array,
): EvalProbes {
  const { stream, events } = input;
  const { perWindow, candidates: C, k: K, seed } = input.probes;
  const F = cfg.fields.length;
  const byWindow: number[][] = Array.from({ length: input.windows }, () => []);
  for (let i = 0; i < stream.size; i++) {
    if (stream.targets[i * stream.targetWidth] > 0.5 && distinctBefore[eventOf[i]] > C) byWindow[input.windowOf[i]].push(i);
  }
  const chosen: number[] = [];
  for (const list of byWindow) {
    const m = Math.min(list.length, perWindow);
    const step = list.length / m;
    for (let j = 0; j < m; j++) chosen.push(list[Math.floor(j * step)]);
  }
  const rand = mulberry32(seed);
  const size = C + 1;
  const batch = emptyBatch(stream, chosen.length * size);
  const rows = cfg.fields.map(() => cfg.buckets);
  chosen.forEach((ex, s) => {
    const ev = events[eventOf[ex]];
    const base = s * size;
    batch.ids.set(stream.ids.subarray(ex * F, (ex + 1) * F), base * F);
    batch.eventTs.fill(ev.ts, base, base + size);
    batch.targets[base * batch.targetWidth] = 1;
    const pool = distinctBefore[eventOf[ex]];
    const picked = new Set<number>();
    for (let c = 1; c < size; c++) {
      let d: number;
      do d = Math.floor(rand() * pool); while (picked.has(d) || distinct[d].itemId === ev.itemId);
      picked.add(d);
      const cand: FlywheelEvent = { ...ev, itemId: distinct[d].itemId, categoryId: distinct[d].categoryId };
      featurizeInto(cand, cfg.fields, rows, batch.ids, (base + c) * F);
    }
  });
  return {
    name: 'ranking', count: chosen.length, size, anchor: Int32Array.from(chosen), batch,
    figures: (pred, keep) => {
      const r = rankFigures(pred, chosen.length, size, K, keep);
      return { [`hr@${K}`]: r.hr, [`ndcg@${K}`]: r.ndcg, rankSets: r.sets };
    },
    higherIsBetter: { [`hr@${K}`]: true, [`ndcg@${K}`]: true },
  };
}

// Counts as features of the retrieval score, on top of the dot product (issue 10; issue 9 did
// the same for CTR with shared/models/ctr/stats.ts): PS counter tables shipped in the deltas,
// read like embedding rows before the step (a batch never sees its own counts), each times a
// learned weight (a one-row table).
//   own         log1p(times the user took the item), for the user's recent items only (an item
//               the user took but which left the last `history` counts 0): rt.cnt.own, one
//               counter per hashed (user row, item row)
//   popularity  log1p(times the item was taken): rt.cnt.item, one counter per item row
// score(user, item) += w_own * own + w_pop * popularity
// The worker's batch and the inference node's ranking both call userOwn / popularityOf below
// with the same weights, so the features are the same numbers in both.
import type { Batch } from '../batch.ts';
import type { TableGrad, WeightSource } from '../types.ts';
import type { RetrievalModelConfig } from './config.ts';
import { COUNT_FEATURE_NAMES, COUNT_TABLES, COUNT_WEIGHTS, ID_HISTORY, ID_ITEM, ID_USER } from './spec.ts';

export { COUNT_TABLES, COUNT_WEIGHTS } from './spec.ts';

/** Row of the (user, item) counter: a multiplicative hash of the two rows. */
export function ownRow(userRow: number, itemRow: number, buckets: number): number {
  return ((Math.imul(userRow, 0x9e3779b1) ^ Math.imul(itemRow + 0x7f4a7c15, 0x85ebca6b)) >>> 0) % buckets;
}

export class CountFeatures {
  readonly own: boolean;
  readonly popularity: boolean;
  readonly on: boolean;
  private readonly H: number;

  constructor(private readonly cfg: RetrievalModelConfig) {
    this.own = cfg.countFeatures.includes('own');
    this.popularity = cfg.countFeatures.includes('popularity');
    this.on = cfg.countFeatures.length > 0;
    this.H = cfg.history;
  }

  /** [w_own, w_pop], zeros for a feature that is off. */
  weights(w: WeightSource): Float32Array {
    const out = new Float32Array(COUNT_FEATURE_NAMES.length);
    if (!this.on) return out;
    w.readRows(COUNT_WEIGHTS, Int32Array.of(0), out);
    if (!this.own) out[0] = 0;
    if (!this.popularity) out[1] = 0;
    return out;
  }

  /** The own feature of each recent item (H rows, -1 pads) of one user into out[at..at + H): log1p(count), 0 for pads. */
  userOwn(w: WeightSource, userRow: number, recent: ArrayLike<number>, out: Float32Array, at = 0): void {
    out.fill(0, at, at + this.H);
    if (!this.own) return;
    const rows: number[] = [];
    const pos: number[] = [];
    for (let k = 0; k < this.H; k++) {
      const h = recent[k];
      if (h === undefined || h < 0) continue;
      rows.push(ownRow(userRow, h, this.cfg.countBuckets));
      pos.push(k);
    }
    if (!rows.length) return;
    const c = new Float32Array(rows.length);
    w.readRows(COUNT_TABLES.own, Int32Array.from(rows), c);
    for (let x = 0; x < rows.length; x++) out[at + pos[x]] = Math.log1p(Math.max(0, c[x]));
  }

  /** The popularity feature of item rows into out: log1p(count). */
  popularityOf(w: WeightSource, rows: Int32Array, out: Float32Array): void {
    if (!this.popularity) { out.fill(0, 0, rows.length); return; }
    w.readRows(COUNT_TABLES.item, rows, out);
    for (let i = 0; i < rows.length; i++) out[i] = Math.log1p(Math.max(0, out[i]));
  }

  /** The batch's own features, H per example (its user and pre-basket history). */
  batchOwn(b: Batch, w: WeightSource): Float32Array {
    const H = this.H, W = b.idWidth;
    const out = new Float32Array(b.size * H);
    if (!this.own) return out;
    for (let i = 0; i < b.size; i++) {
      // A basket's examples share the user state: read once.
      if (i > 0 && b.ids[i * W + ID_USER] === b.ids[(i - 1) * W + ID_USER] && b.eventTs[i] === b.eventTs[i - 1]) {
        out.copyWithin(i * H, (i - 1) * H, i * H);
        continue;
      }
      this.userOwn(w, b.ids[i * W + ID_USER], b.ids.subarray(i * W + ID_HISTORY, i * W + ID_HISTORY + H), out, i * H);
    }
    return out;
  }

  /** What the batch adds to the counters: +1 per example to its (user, item) and to its item. */
  counts(b: Batch): Map<string, TableGrad> {
    const m = new Map<string, TableGrad>();
    const W = b.idWidth;
    const add = (table: string, key: (i: number) => number) => {
      const at = new Map<number, number>();
      for (let i = 0; i < b.size; i++) { const r = key(i); at.set(r, (at.get(r) ?? 0) + 1); }
      m.set(table, { rows: Int32Array.from(at.keys()), grads: Float32Array.from(at.values()) });
    };
    if (this.own) add(COUNT_TABLES.own, (i) => ownRow(b.ids[i * W + ID_USER], b.ids[i * W + ID_ITEM], this.cfg.countBuckets));
    if (this.popularity) add(COUNT_TABLES.item, (i) => b.ids[i * W + ID_ITEM]);
    return m;
  }
}


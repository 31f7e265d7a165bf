// The retrieval kind's prequential metric. A prediction is the rank (0 = first) of the example's
// item among the whole catalogue, ranked for its user BEFORE the model (or baseline) learnt from
// the basket; an item not in the catalogue yet ranks last. Per basket, each counted once:
//   hr10     = whether any of its items is in the top 10 (for one-item baskets: the hit rate)
//   ndcg10   = sum over hits of 1 / log2(rank + 2), over the ideal DCG of min(basket, 10) hits
//   recall10 = hits in the top 10 / min(basket, 10)  (1 for a perfect ranking)
//   recall50 = hits in the top 50 / basket
// The last three are sums of each example's share. hr10 needs the basket whole: a basket's
// examples come one after another (the source emits them together), so the accumulator
// keeps the open one; a state closes it (a basket split across two reports counts twice,
// which the worker's cumulative reports make rare). Examples with scored = 0 (a user without
// history, an item not new to the user under newItemsOnly) and NaN ranks are not counted.
import type { Batch } from '../batch.ts';
import type { MetricAccumulator, MetricDef, MetricState } from '../types.ts';

const idcg = (m: number): number => {
  let s = 0;
  for (let j = 0; j < m; j++) s += 1 / Math.log2(j + 2);
  return s;
};
const IDCG = Array.from({ length: 11 }, (_, m) => idcg(m));

export class RetrievalMetric implements MetricAccumulator {
  private baskets = 0;
  private recall10 = 0;
  private ndcg10 = 0;
  /** Whole baskets and those with a hit in the top 10; the open basket apart. */
  private basketsWhole = 0;
  private basketsHit = 0;
  private openUser = -1;
  private openTs = NaN;
  private openHit = 0;
  private recall50 = 0;
  private n = 0;

  get count(): number {
    return this.n;
  }

  add(predictions: Float32Array, b: Batch, from: number, to: number): void {
    const T = b.targetWidth;
    for (let i = from; i < to; i++) {
      const rank = predictions[i];
      if (b.targets[i * T + 1] !== 1 || Number.isNaN(rank)) continue;
      const size = b.targets[i * T];
      const m = Math.min(size, 10);
      const user = b.ids[i * b.idWidth];
      if (user !== this.openUser || b.eventTs[i] !== this.openTs) {
        if (this.openUser >= 0) { this.basketsWhole++; this.basketsHit += this.openHit; }
        this.openUser = user;
        this.openTs = b.eventTs[i];
        this.openHit = 0;
      }
      this.n++;
      this.baskets += 1 / size;
      if (rank < 10) {
        this.openHit = 1;
        this.recall10 += 1 / m;
        this.ndcg10 += 1 / Math.log2(rank + 2) / IDCG[m];
      }
      if (rank < 50) this.recall50 += 1 / size;
    }
  }

  state(): MetricState {
    const open = this.openUser >= 0 ? 1 : 0;
    return {
      baskets: this.baskets, recall10: this.recall10, ndcg10: this.ndcg10, recall50: this.recall50, n: this.n,
      basketsWhole: this.basketsWhole + open, basketsHit: this.basketsHit + (open ? this.openHit : 0),
    };
  }

  merge(s: MetricState): void {
    this.baskets += s.baskets as number;
    this.recall10 += s.recall10 as number;
    this.basketsWhole += s.basketsWhole as number;
    this.basketsHit += s.basketsHit as number;
    this.ndcg10 += s.ndcg10 as number;
    this.recall50 += s.recall50 as number;
    this.n += s.n as number;
  }

  figures(): Record<string, number> {
    const d = this.baskets;
    const open = this.openUser >= 0 ? 1 : 0;
    const whole = this.basketsWhole + open;
    return d > 0
      ? { hr10: (this.basketsHit + (open ? this.openHit : 0)) / whole, ndcg10: this.ndcg10 / d, recall10: this.recall10 / d, recall50: this.recall50 / d }
      : { hr10: NaN, ndcg10: NaN, recall10: NaN, recall50: NaN };
  }

  counts(): Record<string, number> {
    return { baskets: Math.round(this.baskets) };
  }
}

export const retrievalMetric: MetricDef = { headline: 'hr10', higherIsBetter: true, create: () => new RetrievalMetric() };

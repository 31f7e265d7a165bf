// Negatives for implicit feedback (purchases only): items drawn in proportion to their
// popularity among earlier positives. Keeping the last `window` positives in a ring and picking
// uniformly from it is exactly popularity sampling over that window, at O(1) per draw. The
// window matters: on Online Retail, popularity over all earlier purchases (1M) gave a last-70%
// AUC of 0.673, over the last 100k purchases 0.596, over the last 10k 0.505 (recent-popularity
// negatives look like the positives). Items are interned: the ring holds int ids, not objects.
import { mulberry32 } from './hash.ts';

export interface ItemRef { itemId: string; categoryId?: string }

export class PopularityNegativeSampler {
  private ring = new Int32Array(1024);
  private count = 0;
  private pos = 0;
  private readonly items: ItemRef[] = [];
  private readonly ids = new Map<string, number>();
  private readonly rand: () => number;

  constructor(private readonly window = 1_000_000, seed = 1) {
    this.rand = mulberry32(seed);
  }

  get size(): number {
    return this.count;
  }

  /** Records a positive; call after drawing its negatives, so they come from earlier ones. */
  observe(item: ItemRef): void {
    let id = this.ids.get(item.itemId);
    if (id === undefined) {
      id = this.items.length;
      this.items.push({ itemId: item.itemId, categoryId: item.categoryId });
      this.ids.set(item.itemId, id);
    }
    if (this.count < this.window) {
      if (this.count === this.ring.length) {
        const bigger = new Int32Array(Math.min(this.window, this.ring.length * 2));
        bigger.set(this.ring);
        this.ring = bigger;
      }
      this.ring[this.count++] = id;
    } else {
      this.ring[this.pos] = id;
      this.pos = (this.pos + 1) % this.window;
    }
  }

  /** Draws up to n items other than `exclude`; fewer when there is no history yet. */
  sample(n: number, exclude: string, out: ItemRef[]): number {
    out.length = 0;
    if (this.count === 0) return 0;
    for (let tries = 0; out.length < n && tries < n * 4; tries++) {
      const it = this.items[this.ring[Math.floor(this.rand() * this.count)]];
      if (it.itemId !== exclude) out.push(it);
    }
    return out.length;
  }
}

// Negatives for implicit feedback (purchases only): items drawn in proportion to their
// popularity among earlier positives. Keeping the last `capacity` positives in a ring and
// picking uniformly from it is exactly popularity sampling over that recent window, at O(1)
// per draw and no counting structure to maintain.
import { mulberry32 } from './hash.ts';

export interface ItemRef { itemId: string; categoryId?: string }

export class PopularityNegativeSampler {
  private readonly ring: ItemRef[] = [];
  private pos = 0;
  private readonly rand: () => number;

  constructor(private readonly capacity = 100_000, seed = 1) {
    this.rand = mulberry32(seed);
  }

  get size(): number {
    return this.ring.length;
  }

  /** Records a positive; call after drawing its negatives, so they come from earlier ones. */
  observe(item: ItemRef): void {
    if (this.ring.length < this.capacity) this.ring.push(item);
    else {
      this.ring[this.pos] = item;
      this.pos = (this.pos + 1) % this.capacity;
    }
  }

  /** Draws up to n items other than `exclude`; fewer when there is no history yet. */
  sample(n: number, exclude: string, out: ItemRef[]): number {
    out.length = 0;
    if (this.ring.length === 0) return 0;
    for (let tries = 0; out.length < n && tries < n * 4; tries++) {
      const it = this.ring[Math.floor(this.rand() * this.ring.length)];
      if (it.itemId !== exclude) out.push(it);
    }
    return out.length;
  }
}

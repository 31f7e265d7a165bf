// A reservoir of past examples, mixed into new batches against forgetting: every example seen
// has the same chance to be in the reservoir (Algorithm R), so old and recent data are
// represented in proportion, in fixed memory (typed arrays, no object per example).
import { mulberry32 } from './hash.ts';

export class ReplayReservoir {
  private readonly ids: Int32Array;
  private readonly labels: Float32Array;
  private readonly rand: () => number;
  size = 0;
  seen = 0;

  constructor(readonly capacity: number, readonly fields: number, seed = 5) {
    this.ids = new Int32Array(capacity * fields);
    this.labels = new Float32Array(capacity);
    this.rand = mulberry32(seed);
  }

  add(ids: Int32Array, labels: Float32Array, n: number): void {
    const F = this.fields;
    for (let i = 0; i < n; i++) {
      this.seen++;
      let slot = -1;
      if (this.size < this.capacity) slot = this.size++;
      else {
        const j = Math.floor(this.rand() * this.seen);
        if (j < this.capacity) slot = j;
      }
      if (slot < 0) continue;
      this.ids.set(ids.subarray(i * F, (i + 1) * F), slot * F);
      this.labels[slot] = labels[i];
    }
  }

  /**
   * A batch of the fresh examples followed by up to `k` replayed ones (drawn with replacement).
   * The fresh examples come first, so callers can tell their scores apart.
   */
  mix(ids: Int32Array, labels: Float32Array, n: number, k: number): { size: number; ids: Int32Array; labels: Float32Array } {
    const m = this.size === 0 ? 0 : k;
    if (m === 0) return { size: n, ids, labels };
    const F = this.fields;
    const outIds = new Int32Array((n + m) * F);
    const outLabels = new Float32Array(n + m);
    outIds.set(ids.subarray(0, n * F));
    outLabels.set(labels.subarray(0, n));
    for (let i = 0; i < m; i++) {
      const j = Math.floor(this.rand() * this.size);
      outIds.set(this.ids.subarray(j * F, (j + 1) * F), (n + i) * F);
      outLabels[n + i] = this.labels[j];
    }
    return { size: n + m, ids: outIds, labels: outLabels };
  }
}

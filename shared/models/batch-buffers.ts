// Fixed-memory stores of examples of any kind, in the Batch layout: a reservoir of the past
// (replay against forgetting), a ring of the most recent (the gate's holdout) and a growing
// buffer (a chunk being gathered). No object per example.
import { mulberry32 } from '../hash.ts';
import { concatBatches, copyExample, emptyBatch, sliceBatch, type Batch, type BatchShape } from './batch.ts';

/** Every example seen has the same chance to be kept (Algorithm R). */
export class BatchReservoir {
  private readonly store: Batch;
  private readonly rand: () => number;
  size = 0;
  seen = 0;

  constructor(readonly capacity: number, readonly shape: BatchShape, seed = 5) {
    this.store = emptyBatch(shape, capacity);
    this.rand = mulberry32(seed);
  }

  add(b: Batch, n = b.size): void {
    for (let i = 0; i < n; i++) {
      this.seen++;
      let slot = -1;
      if (this.size < this.capacity) slot = this.size++;
      else {
        const j = Math.floor(this.rand() * this.seen);
        if (j < this.capacity) slot = j;
      }
      if (slot >= 0) copyExample(b, i, this.store, slot);
    }
  }

  /**
   * The fresh examples followed by up to `k` replayed ones (drawn with replacement). The fresh
   * examples come first, so callers can tell their predictions apart.
   */
  mix(b: Batch, k: number): Batch {
    const m = this.size === 0 ? 0 : k;
    if (m === 0) return b;
    const out = concatBatches(this.shape, [b, emptyBatch(this.shape, m)]);
    for (let i = 0; i < m; i++) copyExample(this.store, Math.floor(this.rand() * this.size), out, b.size + i);
    return out;
  }
}

/** The most recent `capacity` examples. */
export class BatchRing {
  private readonly store: Batch;
  private next = 0;
  size = 0;

  constructor(readonly capacity: number, readonly shape: BatchShape) {
    this.store = emptyBatch(shape, capacity);
  }

  add(b: Batch): void {
    for (let i = 0; i < b.size; i++) {
      copyExample(b, i, this.store, this.next);
      this.next = (this.next + 1) % this.capacity;
      this.size = Math.min(this.size + 1, this.capacity);
    }
  }

  /** The examples held (their order does not matter to the metrics). */
  view(): Batch {
    return sliceBatch(this.store, 0, this.size);
  }
}

/** Gathers batches until taken as one. */
export class BatchAccumulator {
  private parts: Batch[] = [];
  size = 0;

  constructor(readonly shape: BatchShape) {}

  add(b: Batch): void {
    if (b.size === 0) return;
    this.parts.push(b);
    this.size += b.size;
  }

  take(): Batch {
    const out = this.parts.length ? concatBatches(this.shape, this.parts) : emptyBatch(this.shape);
    this.parts = [];
    this.size = 0;
    return out;
  }
}

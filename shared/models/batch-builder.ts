// A batch that grows one example at a time (an example source that emits a varying number of
// rows per event). Rows are written straight into its typed arrays; take() hands them over.
import { emptyBatch, sliceBatch, type Batch, type BatchShape } from './batch.ts';

export class BatchBuilder {
  private b: Batch;
  size = 0;

  constructor(readonly shape: BatchShape, private readonly withRefs: boolean, initial = 64) {
    this.b = this.alloc(initial);
  }

  private alloc(n: number): Batch {
    const b = emptyBatch(this.shape, n);
    if (this.withRefs) b.refs = new Float64Array(n).fill(-1);
    return b;
  }

  /** Appends an example (ids, dense and targets zero, ref -1) and returns its index: write its fields at index x width. */
  add(ts: number, ref = -1): number {
    if (this.size === this.b.size) this.b = this.copy(this.b.size * 2);
    const i = this.size++;
    this.b.eventTs[i] = ts;
    if (this.b.refs) this.b.refs[i] = ref;
    return i;
  }

  get ids(): Int32Array { return this.b.ids; }
  get dense(): Float32Array { return this.b.dense; }
  get targets(): Float32Array { return this.b.targets; }

  /** The examples so far, as a batch of their own; the builder starts empty again. */
  take(): Batch {
    const out = this.copy(this.size);
    this.size = 0;
    return out;
  }

  /** The examples so far at the start of a new batch of `n` (its size: the capacity when growing). */
  private copy(n: number): Batch {
    const from = sliceBatch(this.b, 0, this.size);
    const to = this.alloc(n);
    to.ids.set(from.ids); to.dense.set(from.dense); to.targets.set(from.targets); to.eventTs.set(from.eventTs);
    if (to.refs) to.refs.set(from.refs!);
    return to;
  }
}

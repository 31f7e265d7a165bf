// The rows of one sparse table that a process holds: weights (and, on a PS shard, one
// optimizer slot) in flat Float32Array arenas, a RowIndex from row id to slot, and a dirty
// list of the slots changed since the last publish. Rows absent from the arena have their
// deterministic initial value (initRow), so they are materialized only when first touched.
import { initRow, type TableSpec } from './param-spec.ts';
import { RowIndex } from './row-index.ts';

export class SparseArena {
  readonly dim: number;
  readonly index: RowIndex;
  weights: Float32Array;
  /** Optimizer slot per float (momentum or Adagrad sum); empty on replicas. */
  slot: Float32Array;
  /** slot -> row id, to name dirty rows. */
  rowIds: Int32Array;
  count = 0;
  private dirtyFlags: Uint8Array;
  private dirtyList: Int32Array;
  dirtyCount = 0;

  constructor(readonly table: TableSpec, readonly seed: number, readonly withSlot: boolean, initialRows = 1024) {
    this.dim = table.dim;
    this.index = new RowIndex(initialRows);
    this.weights = new Float32Array(initialRows * this.dim);
    this.slot = new Float32Array(withSlot ? initialRows * this.dim : 0);
    this.rowIds = new Int32Array(initialRows);
    this.dirtyFlags = new Uint8Array(initialRows);
    this.dirtyList = new Int32Array(initialRows);
  }

  get capacity(): number {
    return this.rowIds.length;
  }

  /** Bytes held (weights, slot, index, bookkeeping), for the memory figures. */
  get bytes(): number {
    return this.weights.byteLength + this.slot.byteLength + this.index.bytes + this.rowIds.byteLength
      + this.dirtyFlags.byteLength + this.dirtyList.byteLength;
  }

  /** The slot of a row, materializing it with its initial value (slot zeroed) when absent. */
  slotOf(rowId: number): number {
    let s = this.index.get(rowId);
    if (s >= 0) return s;
    if (this.count === this.capacity) this.grow();
    s = this.count++;
    this.index.insert(rowId, s);
    this.rowIds[s] = rowId;
    initRow(this.table, rowId, this.seed, this.weights, s * this.dim);
    return s;
  }

  /** Copies a row's current value into out[off..], without materializing it. */
  readRow(rowId: number, out: Float32Array, off: number): void {
    const s = this.index.get(rowId);
    if (s < 0) initRow(this.table, rowId, this.seed, out, off);
    else out.set(this.weights.subarray(s * this.dim, (s + 1) * this.dim), off);
  }

  markDirty(s: number): void {
    if (this.dirtyFlags[s]) return;
    this.dirtyFlags[s] = 1;
    this.dirtyList[this.dirtyCount++] = s;
  }

  /** Marks every held row dirty: the next publish writes a full snapshot. */
  markAllDirty(): void {
    for (let s = 0; s < this.count; s++) this.markDirty(s);
  }

  /** Takes the dirty rows: their ids, weights and slots, copied; the dirty list is emptied. */
  takeDirty(): { rows: Int32Array; weights: Float32Array; slot: Float32Array } {
    const n = this.dirtyCount;
    const d = this.dim;
    const rows = new Int32Array(n);
    const weights = new Float32Array(n * d);
    const slot = new Float32Array(this.withSlot ? n * d : 0);
    for (let i = 0; i < n; i++) {
      const s = this.dirtyList[i];
      rows[i] = this.rowIds[s];
      weights.set(this.weights.subarray(s * d, (s + 1) * d), i * d);
      if (this.withSlot) slot.set(this.slot.subarray(s * d, (s + 1) * d), i * d);
      this.dirtyFlags[s] = 0;
    }
    this.dirtyCount = 0;
    return { rows, weights, slot };
  }

  /** Sets rows to given values (a snapshot or a delta: absolute values, so idempotent). */
  setRows(rows: Int32Array, weights: Float32Array, slot?: Float32Array): void {
    const d = this.dim;
    for (let i = 0; i < rows.length; i++) {
      const s = this.slotOf(rows[i]);
      this.weights.set(weights.subarray(i * d, (i + 1) * d), s * d);
      if (slot && this.withSlot && slot.length) this.slot.set(slot.subarray(i * d, (i + 1) * d), s * d);
    }
  }

  /** The held rows and their weights (no slots), copied: for checkpoints. */
  exportRows(): { rows: Int32Array; weights: Float32Array } {
    return { rows: this.rowIds.slice(0, this.count), weights: this.weights.slice(0, this.count * this.dim) };
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const d = this.dim;
    this.weights = growF32(this.weights, cap * d);
    if (this.withSlot) this.slot = growF32(this.slot, cap * d);
    const ids = new Int32Array(cap); ids.set(this.rowIds); this.rowIds = ids;
    const flags = new Uint8Array(cap); flags.set(this.dirtyFlags); this.dirtyFlags = flags;
    const list = new Int32Array(cap); list.set(this.dirtyList); this.dirtyList = list;
  }
}

function growF32(a: Float32Array, n: number): Float32Array {
  const b = new Float32Array(n);
  b.set(a);
  return b;
}

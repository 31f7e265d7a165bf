// The rows of one sparse table that a process holds: weights (and, on a PS shard, the update
// rule's slots: S planes of dim floats per row, row s at slot[s*dim*S ..]) in flat Float32Array arenas, a RowIndex from row id to slot, and a dirty
// list of the slots changed since the last publish. Rows absent from the arena have their
// deterministic initial value (initRow), so they are materialized only when first touched.
// A PS table whose rule has a SIMD kernel keeps weights and slot in WebAssembly memory
// (`resident`), where the kernel updates a push's rows ~10x faster than a loop over heap arrays.
import { initRow, type TableSpec } from './param-spec.ts';
import { RowIndex } from './row-index.ts';
import type { KernelRule } from './kernels/momentum-kernels.ts';
import { ResidentRows } from './kernels/resident-rows.ts';
import type { PairIndex } from './kernels/row-lookup.ts';

export class SparseArena {
  readonly dim: number;
  /** Row id -> slot: in wasm memory when the rows are (resident), else on the heap. */
  index: RowIndex | PairIndex;
  weights: Float32Array;
  /** The update rule's slots, slotWidth floats per row (see shared/update-rules/types.ts); empty on replicas. */
  slot: Float32Array;
  /** Slot floats per row: dim x the rule's slot count. */
  readonly slotWidth: number;
  /** slot -> row id, to name dirty rows. */
  rowIds: Int32Array;
  count = 0;
  /** slot -> its place in dirtyList, -1 when clean: a row's mark moves with it in O(1). */
  private dirtyPos: Int32Array;
  private dirtyList: Int32Array;
  dirtyCount = 0;
  /** Where weights and slot live in wasm memory (views of it); null = heap arrays. */
  resident: ResidentRows | null = null;
  /**
   * When each row was last used, for a bounded table (shared/row-bounds.ts): the push counter
   * (least recently used first) and the clock in ms (time to live); null when unbounded.
   * Rows materialized by slotOf take `useTick` and `useAtMs`.
   */
  usedTick: Uint32Array | null = null;
  usedAtMs: Float64Array | null = null;
  useTick = 0;
  useAtMs = 0;
  /** Record the ids of removed rows until takeRemoved() (a PS shard ships them as tombstones). */
  recordRemovals = false;
  private removed = new Int32Array(0);
  private removedCount = 0;

  /**
   * `slots`: slots per float (the rule's slot count; true = 1, false = 0 for replicas).
   * `kernel`: the rule's SIMD kernel, for a table with one slot plane: the rows then live in
   * wasm memory where the kernel applies (dims that are not a multiple of 4 stay on the heap).
   */
  constructor(readonly table: TableSpec, readonly seed: number, slots: number | boolean, initialRows = 1024, kernel?: KernelRule) {
    this.dim = table.dim;
    this.slotWidth = this.dim * (slots === true ? 1 : slots === false ? 0 : slots);
    this.resident = kernel && this.slotWidth === this.dim ? ResidentRows.create(kernel, this.dim, initialRows) : null;
    this.index = this.resident ? this.resident.index : new RowIndex(initialRows);
    this.weights = this.resident ? this.resident.weights : new Float32Array(initialRows * this.dim);
    this.slot = this.resident ? this.resident.slot : new Float32Array(initialRows * this.slotWidth);
    this.rowIds = new Int32Array(initialRows);
    this.dirtyPos = new Int32Array(initialRows).fill(-1);
    this.dirtyList = new Int32Array(initialRows);
  }

  get capacity(): number {
    return this.rowIds.length;
  }

  /** Bytes held (weights, slot, index, bookkeeping), for the memory figures. */
  get bytes(): number {
    return this.weights.byteLength + this.slot.byteLength + this.index.bytes + this.rowIds.byteLength
      + this.dirtyPos.byteLength + this.dirtyList.byteLength
      + (this.usedTick?.byteLength ?? 0) + (this.usedAtMs?.byteLength ?? 0) + this.removed.byteLength;
  }

  /** What `bytes` would be at `capacity` rows (the index at its largest for that many): a budget's planning figure. */
  bytesAtCapacity(capacity: number): number {
    let buckets = 16;
    while (buckets < 2 * capacity) buckets *= 2;
    const stamps = this.usedTick ? 12 : 0;
    return capacity * (4 * (this.dim + this.slotWidth) + 4 + 4 + 4 + stamps) + 8 * buckets + this.removed.byteLength;
  }

  /** Starts keeping per-row use stamps (a bounded table); rows held so far count as used now. */
  keepUseStamps(): void {
    if (this.usedTick) return;
    this.usedTick = new Uint32Array(this.capacity).fill(this.useTick, 0, this.count);
    this.usedAtMs = new Float64Array(this.capacity).fill(this.useAtMs, 0, this.count);
  }

  get withSlot(): boolean {
    return this.slotWidth > 0;
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
    if (this.usedTick) { this.usedTick[s] = this.useTick; this.usedAtMs![s] = this.useAtMs; }
    return s;
  }

  /**
   * Removes the rows at `slots` (distinct, in descending order), each hole filled by the last
   * row, so the held rows stay in slots 0 .. count-1. A removed row reads as its initial value
   * again; its dirty mark goes with it (with recordRemovals, its id is recorded instead).
   */
  removeSlots(slots: Int32Array | number[]): void {
    if (!slots.length) return;
    const d = this.dim;
    const sw = this.slotWidth;
    for (const s of slots) {
      const last = this.count - 1;
      const id = this.rowIds[s];
      this.index.delete(id);
      const pos = this.dirtyPos;
      if (pos[s] >= 0) {
        const other = this.dirtyList[--this.dirtyCount];
        this.dirtyList[pos[s]] = other;
        pos[other] = pos[s];
        pos[s] = -1;
      }
      if (this.recordRemovals) this.recordRemoved(id);
      if (s !== last) {
        const moved = this.rowIds[last];
        // Element loops: copyWithin's call costs more than moving a row of a few floats.
        const w = this.weights;
        for (let j = 0; j < d; j++) w[s * d + j] = w[last * d + j];
        const sl = this.slot;
        for (let j = 0; j < sw; j++) sl[s * sw + j] = sl[last * sw + j];
        this.rowIds[s] = moved;
        if (this.usedTick) { this.usedTick[s] = this.usedTick[last]; this.usedAtMs![s] = this.usedAtMs![last]; }
        this.index.update(moved, s);
        if (pos[last] >= 0) {
          this.dirtyList[pos[last]] = s;
          pos[s] = pos[last];
          pos[last] = -1;
        }
      }
      this.count = last;
    }
  }

  /** Removes the held rows among `rowIds` (a tombstone, a forgotten user); returns how many were held. */
  removeRows(rowIds: Int32Array | readonly number[]): number {
    const slots: number[] = [];
    for (const id of rowIds) { const s = this.index.get(id); if (s >= 0) slots.push(s); }
    const distinct = [...new Set(slots)].sort((a, b) => b - a);
    this.removeSlots(distinct);
    return distinct.length;
  }

  /** The ids of the rows removed since the last call (recordRemovals), and forgets them. */
  takeRemoved(): Int32Array {
    const out = this.removed.slice(0, this.removedCount);
    this.removedCount = 0;
    return out;
  }

  private recordRemoved(id: number): void {
    if (this.removedCount === this.removed.length) {
      const next = new Int32Array(Math.max(1024, this.removed.length * 2));
      next.set(this.removed);
      this.removed = next;
    }
    this.removed[this.removedCount++] = id;
  }

  /** Copies a row's current value into out[off..], without materializing it. */
  readRow(rowId: number, out: Float32Array, off: number): void {
    const s = this.index.get(rowId);
    if (s < 0) initRow(this.table, rowId, this.seed, out, off);
    else out.set(this.weights.subarray(s * this.dim, (s + 1) * this.dim), off);
  }

  markDirty(s: number): void {
    if (this.dirtyPos[s] >= 0) return;
    this.dirtyPos[s] = this.dirtyCount;
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
    const sw = this.slotWidth;
    const slot = new Float32Array(n * sw);
    for (let i = 0; i < n; i++) {
      const s = this.dirtyList[i];
      rows[i] = this.rowIds[s];
      weights.set(this.weights.subarray(s * d, (s + 1) * d), i * d);
      if (sw) slot.set(this.slot.subarray(s * sw, (s + 1) * sw), i * sw);
      this.dirtyPos[s] = -1;
    }
    this.dirtyCount = 0;
    return { rows, weights, slot };
  }

  /**
   * Sets rows to given values (a snapshot or a delta: absolute values, so idempotent), with
   * their slots when `slot` holds slotWidth floats per row. Returns whether the slots were set
   * (true for no rows): when false (none given, or another rule's, of another width) the rows'
   * slots are left as they were and a PS caller resets them.
   */
  setRows(rows: Int32Array, weights: Float32Array, slot?: Float32Array): boolean {
    const d = this.dim;
    const sw = this.slotWidth;
    const fits = !!slot && sw > 0 && slot.length === rows.length * sw;
    for (let i = 0; i < rows.length; i++) {
      const s = this.slotOf(rows[i]);
      this.weights.set(weights.subarray(i * d, (i + 1) * d), s * d);
      if (fits) this.slot.set(slot.subarray(i * sw, (i + 1) * sw), s * sw);
    }
    return fits || rows.length === 0;
  }

  /** The held rows and their weights (no slots), copied: for checkpoints. */
  exportRows(): { rows: Int32Array; weights: Float32Array } {
    return { rows: this.rowIds.slice(0, this.count), weights: this.weights.slice(0, this.count * this.dim) };
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const d = this.dim;
    // Past what one wasm memory holds, the rows (and their index) move to the heap.
    const wasResident = this.resident !== null;
    const next = this.resident?.grown(cap, this.count, this.rowIds) ?? null;
    this.resident = next;
    if (next) {
      this.weights = next.weights;
      this.slot = next.slot;
      this.index = next.index;
    } else {
      if (wasResident) {
        const index = new RowIndex(cap);
        for (let s = 0; s < this.count; s++) index.insert(this.rowIds[s], s);
        this.index = index;
      }
      this.weights = growF32(this.weights, cap * d);
      if (this.slotWidth) this.slot = growF32(this.slot, cap * this.slotWidth);
    }
    const ids = new Int32Array(cap); ids.set(this.rowIds); this.rowIds = ids;
    if (this.usedTick) {
      const t = new Uint32Array(cap); t.set(this.usedTick); this.usedTick = t;
      const at = new Float64Array(cap); at.set(this.usedAtMs!); this.usedAtMs = at;
    }
    const pos = new Int32Array(cap).fill(-1); pos.set(this.dirtyPos); this.dirtyPos = pos;
    const list = new Int32Array(cap); list.set(this.dirtyList); this.dirtyList = list;
  }
}

function growF32(a: Float32Array, n: number): Float32Array {
  const b = new Float32Array(n);
  b.set(a);
  return b;
}

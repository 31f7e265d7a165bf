// The row index of a table kept in wasm memory (resident-rows.ts): an open-addressing map from
// row id to arena slot as (key, slot) pairs of i32, Fibonacci hashing and linear probing as
// shared/row-index.ts does. Two sides read the one table: PairIndex from JavaScript (inserting
// new rows, single lookups) and the `lookup` kernel, which resolves a push's row ids in one
// call; the JavaScript lookup loop was ~45% of a push's apply on a 1M-row arena.
import { I32, ins, op, type FuncDef } from './wasm-bytes.ts';

export const EMPTY = -1;
/** Buckets per capacity row: a load factor of at most 1/2, as RowIndex keeps. */
export const BUCKETS_PER_ROW = 2;

/** Buckets for a table of `capacity` rows: a power of two, at least twice the capacity. */
export function bucketsFor(capacity: number): number {
  let b = 16;
  while (b < BUCKETS_PER_ROW * capacity) b *= 2;
  return b;
}

const hash = (id: number, mask: number) => Math.imul(id, 0x9e3779b1) & mask;

/** The index over a table of `buckets` (key, slot) pairs that the caller filled with EMPTY keys. */
export class PairIndex {
  private readonly mask: number;
  size = 0;

  constructor(private readonly table: Int32Array) {
    this.mask = table.length / 2 - 1;
  }

  get bytes(): number {
    return this.table.byteLength;
  }

  /** The slot of `rowId`, or -1. */
  get(rowId: number): number {
    const t = this.table;
    let i = hash(rowId, this.mask);
    for (;;) {
      const k = t[2 * i];
      if (k === rowId) return t[2 * i + 1];
      if (k === EMPTY) return -1;
      i = (i + 1) & this.mask;
    }
  }

  /** Inserts rowId -> slot; the caller guarantees rowId is absent and the table has room. */
  insert(rowId: number, slot: number): void {
    if (2 * (this.size + 1) > this.mask + 1) throw new RangeError('row index full: the arena must grow before this insert');
    const t = this.table;
    let i = hash(rowId, this.mask);
    while (t[2 * i] !== EMPTY) i = (i + 1) & this.mask;
    t[2 * i] = rowId;
    t[2 * i + 1] = slot;
    this.size++;
  }

  /** Points a present rowId at another slot (the arena moved its row). */
  update(rowId: number, slot: number): void {
    const t = this.table;
    let i = hash(rowId, this.mask);
    while (t[2 * i] !== rowId) {
      if (t[2 * i] === EMPTY) throw new RangeError(`row ${rowId} is not in the index`);
      i = (i + 1) & this.mask;
    }
    t[2 * i + 1] = slot;
  }

  /** Removes rowId; returns whether it was there (backward-shift deletion, as RowIndex). */
  delete(rowId: number): boolean {
    const t = this.table;
    const mask = this.mask;
    let i = hash(rowId, mask);
    for (;;) {
      const k = t[2 * i];
      if (k === rowId) break;
      if (k === EMPTY) return false;
      i = (i + 1) & mask;
    }
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = t[2 * j];
      if (k === EMPTY) break;
      const home = hash(k, mask);
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        t[2 * hole] = k;
        t[2 * hole + 1] = t[2 * j + 1];
        hole = j;
      }
    }
    t[2 * hole] = EMPTY;
    this.size--;
    return true;
  }
}

const GOLDEN = 0x9e3779b1 | 0; // as a signed i32: the multiply wraps the same as Math.imul
// Parameter and locals.
const BYTES = 0, I = 1, ID = 2, H = 3, K = 4, ABSENT = 5;
const { get, set, i32, load32, store32 } = ins;

/**
 * `name(bytes) -> i32`: for each of the bytes/4 row ids of region `idx`, replaces it in place by
 * its slot from the table at `tab` (`buckets` pairs), or by -1 when the id is absent; returns
 * how many were absent.
 */
export function lookupFunc(name: string, at: { idx: number; tab: number }, buckets: number): FuncDef {
  const mask = buckets - 1;
  const pairAt = [...get(H), ...i32(3), op.i32Shl]; // byte offset of bucket H's pair
  const body = [
    op.block, op.void, op.loop, op.void,
    ...get(I), ...get(BYTES), op.i32GeU, op.brIf, 1,
    ...get(I), ...load32(at.idx), ...set(ID),
    ...get(ID), ...i32(GOLDEN), op.i32Mul, ...i32(mask), op.i32And, ...set(H),
    op.block, op.void, op.loop, op.void,
    ...pairAt, ...load32(at.tab), ...set(K),
    // found: idx[i] = slot; on to the next id
    ...get(K), ...get(ID), op.i32Eq, op.if, op.void,
    ...get(I), ...pairAt, ...load32(at.tab + 4), ...store32(at.idx), op.br, 2,
    op.end,
    // an empty bucket: absent
    ...get(K), ...i32(EMPTY), op.i32Eq, op.if, op.void,
    ...get(I), ...i32(-1), ...store32(at.idx),
    ...get(ABSENT), ...i32(1), op.i32Add, ...set(ABSENT), op.br, 2,
    op.end,
    ...get(H), ...i32(1), op.i32Add, ...i32(mask), op.i32And, ...set(H),
    op.br, 0,
    op.end, op.end,
    ...get(I), ...i32(4), op.i32Add, ...set(I),
    op.br, 0,
    op.end, op.end,
    ...get(ABSENT),
  ];
  return { name, params: [I32], locals: [I32, I32, I32, I32, I32], results: [I32], body };
}

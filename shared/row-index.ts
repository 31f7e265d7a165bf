// An open-addressing hash map from row id (int32 >= 0) to arena slot, in two Int32Arrays.
// A JS Map costs ~40+ bytes and a GC-visible entry per row; this costs 8 bytes per bucket at
// a load factor of at most 1/2, and no garbage.

const EMPTY = -1;

export class RowIndex {
  private keys: Int32Array;
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap <<= 1;
    this.keys = new Int32Array(cap).fill(EMPTY);
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
  }

  /** Bytes held by the index, for the memory figures. */
  get bytes(): number {
    return this.keys.byteLength + this.slots.byteLength;
  }

  /** The slot of `rowId`, or -1. */
  get(rowId: number): number {
    const keys = this.keys;
    let i = hashIndex(rowId) & this.mask;
    for (;;) {
      const k = keys[i];
      if (k === rowId) return this.slots[i];
      if (k === EMPTY) return -1;
      i = (i + 1) & this.mask;
    }
  }

  /** Inserts rowId -> slot; the caller guarantees rowId is absent. */
  insert(rowId: number, slot: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    this.put(rowId, slot);
    this.size++;
  }

  /** Points a present rowId at another slot (the arena moved its row). */
  update(rowId: number, slot: number): void {
    const keys = this.keys;
    let i = hashIndex(rowId) & this.mask;
    while (keys[i] !== rowId) {
      if (keys[i] === EMPTY) throw new RangeError(`row ${rowId} is not in the index`);
      i = (i + 1) & this.mask;
    }
    this.slots[i] = slot;
  }

  /** Removes rowId; returns whether it was there. */
  delete(rowId: number): boolean {
    const keys = this.keys;
    const mask = this.mask;
    let i = hashIndex(rowId) & mask;
    for (;;) {
      const k = keys[i];
      if (k === rowId) break;
      if (k === EMPTY) return false;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: later keys of the probe run move up into the hole, so a lookup
    // never stops at an empty bucket before its key (no tombstones to sweep later).
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k === EMPTY) break;
      const home = hashIndex(k) & mask;
      // k may fill the hole only if its home is not cyclically within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = k;
        this.slots[hole] = this.slots[j];
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.size--;
    return true;
  }

  private put(rowId: number, slot: number): void {
    const keys = this.keys;
    let i = hashIndex(rowId) & this.mask;
    while (keys[i] !== EMPTY) i = (i + 1) & this.mask;
    keys[i] = rowId;
    this.slots[i] = slot;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    this.keys = new Int32Array(oldKeys.length * 2).fill(EMPTY);
    this.slots = new Int32Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== EMPTY) this.put(oldKeys[i], oldSlots[i]);
  }
}

function hashIndex(x: number): number {
  // Fibonacci hashing: consecutive ids land far apart, so linear probing stays short.
  return Math.imul(x, 0x9e3779b1) >>> 0;
}

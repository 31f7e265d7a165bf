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

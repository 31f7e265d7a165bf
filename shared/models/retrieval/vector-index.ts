// The inference node's catalogue: one vector per item row ([v, bias], dim + 1 floats) in one
// Float32Array, searched exhaustively. Chosen by measurement (docs/MODELS.md, retrieval): at
// this width a scan of 100k items takes a few milliseconds in plain JS, inside the latency
// bound, with recall 1 by construction and in-place updates, where an approximate index would
// trade recall for speed the catalogue sizes here do not need. Upsert and remove are O(width).

export interface SearchOptions {
  /** Added to the score of these slots (the repeat bonus of the user's recent items). */
  bonus?: ReadonlyMap<number, number>;
  /** Slots never returned (items the user has seen, with excludeSeen). */
  exclude?: ReadonlySet<number>;
  /** When set, only these slots may be returned (a filter). */
  allow?: ReadonlySet<number>;
}

export interface Hit {
  row: number;
  score: number;
}

export class VectorIndex {
  private vectors: Float32Array;
  private rowOfSlot: Int32Array;
  private readonly slotOfRow = new Map<number, number>();
  size = 0;

  constructor(readonly width: number, initial = 1024) {
    this.vectors = new Float32Array(initial * width);
    this.rowOfSlot = new Int32Array(initial);
  }

  slotOf(row: number): number {
    return this.slotOfRow.get(row) ?? -1;
  }

  rowAt(slot: number): number {
    return this.rowOfSlot[slot];
  }

  has(row: number): boolean {
    return this.slotOfRow.has(row);
  }

  /** Sets row's vector (width floats from values[at..]), adding the row when new. */
  upsert(row: number, values: Float32Array, at = 0): void {
    let s = this.slotOfRow.get(row);
    if (s === undefined) {
      if (this.size === this.rowOfSlot.length) this.grow();
      s = this.size++;
      this.slotOfRow.set(row, s);
      this.rowOfSlot[s] = row;
    }
    this.vectors.set(values.subarray(at, at + this.width), s * this.width);
  }

  /** Removes a row (the last slot moves into its place). */
  remove(row: number): boolean {
    const s = this.slotOfRow.get(row);
    if (s === undefined) return false;
    const last = --this.size;
    if (s !== last) {
      const moved = this.rowOfSlot[last];
      this.vectors.copyWithin(s * this.width, last * this.width, (last + 1) * this.width);
      this.rowOfSlot[s] = moved;
      this.slotOfRow.set(moved, s);
    }
    this.slotOfRow.delete(row);
    return true;
  }

  clear(): void {
    this.slotOfRow.clear();
    this.size = 0;
  }

  /** The k best rows for query q (width floats: the user vector with 1 for the bias), best first. */
  search(q: Float32Array, k: number, o: SearchOptions = {}): Hit[] {
    const W = this.width;
    const v = this.vectors;
    // A min-heap of the k best so far, by score.
    const hs = new Float32Array(k);
    const hi = new Int32Array(k);
    let n = 0;
    for (let s = 0; s < this.size; s++) {
      if (o.allow && !o.allow.has(s)) continue;
      if (o.exclude?.has(s)) continue;
      let x = 0;
      const at = s * W;
      for (let d = 0; d < W; d++) x += q[d] * v[at + d];
      if (o.bonus) x += o.bonus.get(s) ?? 0;
      if (n < k) {
        let c = n++;
        while (c > 0) { const p = (c - 1) >> 1; if (hs[p] <= x) break; hs[c] = hs[p]; hi[c] = hi[p]; c = p; }
        hs[c] = x; hi[c] = s;
      } else if (x > hs[0]) {
        let c = 0;
        for (;;) {
          const l = 2 * c + 1;
          if (l >= n) break;
          const r = l + 1;
          const m = r < n && hs[r] < hs[l] ? r : l;
          if (hs[m] >= x) break;
          hs[c] = hs[m]; hi[c] = hi[m]; c = m;
        }
        hs[c] = x; hi[c] = s;
      }
    }
    const out: Hit[] = [];
    for (let j = 0; j < n; j++) out.push({ row: this.rowOfSlot[hi[j]], score: hs[j] });
    return out.sort((a, b) => b.score - a.score);
  }

  private grow(): void {
    const cap = this.rowOfSlot.length * 2;
    const v = new Float32Array(cap * this.width);
    v.set(this.vectors);
    this.vectors = v;
    const r = new Int32Array(cap);
    r.set(this.rowOfSlot);
    this.rowOfSlot = r;
  }
}

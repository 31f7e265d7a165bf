// The rank of one item among a catalogue's scores, as the retrieval metric reads it: how many
// other items score higher, ties counting half (a tie is a coin toss, neither hit nor miss for
// sure), items in `skip` left out. An item not in the catalogue ranks after all of it.
import type { Batch } from '../batch.ts';
import { ID_HISTORY, ID_USER } from './spec.ts';

/** Index of each catalogue row, for the rank of a target row. */
export class CatalogueIndex {
  private readonly slot = new Map<number, number>();
  rows: Int32Array = new Int32Array(0);

  /** Adopts `rows` (a catalogue in any order) when it changed. */
  update(rows: Int32Array): void {
    if (rows.length === this.rows.length && (rows.length === 0 || (rows[0] === this.rows[0] && rows[rows.length - 1] === this.rows[rows.length - 1]))) {
      // New rows are appended at the end, and an evicted row's slot takes the last row (the
      // count shrinks), so equal length and ends mean the same catalogue.
      return;
    }
    this.rows = rows.slice();
    this.slot.clear();
    for (let s = 0; s < this.rows.length; s++) this.slot.set(this.rows[s], s);
  }

  slotOf(row: number): number {
    return this.slot.get(row) ?? -1;
  }

  get size(): number {
    return this.rows.length;
  }
}

/**
 * Rank of catalogue slot `target` among `scores` (one per slot); `skip` lists slots left out
 * (the target is never counted against itself). target < 0: not in the catalogue, ranks last.
 */
export function rankOf(scores: Float32Array | Float64Array, n: number, target: number, skip?: readonly number[]): number {
  if (target < 0) return n;
  const s = scores[target];
  let above = 0;
  let ties = 0;
  for (let j = 0; j < n; j++) {
    const x = scores[j];
    if (x > s) above++;
    else if (x === s) ties++;
  }
  ties--; // the target itself
  if (skip) {
    for (const j of skip) {
      if (j < 0 || j === target) continue;
      if (scores[j] > s) above--;
      else if (scores[j] === s) ties--;
    }
  }
  return above + ties / 2;
}

/**
 * rankOf for a key pair compared in order (primary, then secondary): how many slots rank above
 * `target`, ties on both counting half, `skip` left out; target < 0 ranks last (n).
 */
export function rankOfPair(primary: Float64Array, secondary: Float64Array, n: number, target: number, skip?: readonly number[]): number {
  if (target < 0) return n;
  const p = primary[target], q = secondary[target];
  let above = 0;
  let ties = 0;
  for (let j = 0; j < n; j++) {
    const a = primary[j];
    if (a > p) above++;
    else if (a === p) {
      const c = secondary[j];
      if (c > q) above++;
      else if (c === q) ties++;
    }
  }
  ties--; // the target itself
  if (skip) {
    for (const j of skip) {
      if (j < 0 || j === target) continue;
      const a = primary[j];
      if (a > p || (a === p && secondary[j] > q)) above--;
      else if (a === p && secondary[j] === q) ties--;
    }
  }
  return above + ties / 2;
}

/** Whether examples a and c of a batch face the same user state: user, event time, history. */
export function sameUserState(b: Batch, a: number, c: number, H: number): boolean {
  const W = b.idWidth;
  if (b.eventTs[a] !== b.eventTs[c] || b.ids[a * W + ID_USER] !== b.ids[c * W + ID_USER]) return false;
  for (let k = 0; k < H; k++) if (b.ids[a * W + ID_HISTORY + k] !== b.ids[c * W + ID_HISTORY + k]) return false;
  return true;
}

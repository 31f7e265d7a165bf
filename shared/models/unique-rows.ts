// The unique rows one id column of a batch touches, so a model reads and updates each row once
// per step however many examples share it.
import { WrongShapeError } from '../errors.ts';
import { RowIndex } from '../row-index.ts';

export interface FieldRows {
  /** The distinct row ids, in order of first appearance. */
  rows: Int32Array;
  /** Per example, the position of its row in `rows`. */
  slot: Int32Array;
  /** Per distinct row, how many examples touch it. */
  counts: Int32Array;
}

/** Column f of B examples of F ids each (example-major); every id must lie in [0, buckets). */
export function uniqueRows(ids: Int32Array, B: number, F: number, f: number, buckets: number): FieldRows {
  const index = new RowIndex(Math.max(1, B));
  const rows = new Int32Array(B);
  const counts = new Int32Array(B);
  const slot = new Int32Array(B);
  let n = 0;
  for (let b = 0; b < B; b++) {
    const id = ids[b * F + f];
    if (!(id >= 0 && id < buckets)) throw new WrongShapeError(`row id ${id} (example ${b}, field ${f}) is outside [0, ${buckets})`);
    let s = index.get(id);
    if (s < 0) {
      s = n++;
      index.insert(id, s);
      rows[s] = id;
    }
    counts[s]++;
    slot[b] = s;
  }
  return { rows: rows.slice(0, n), slot, counts: counts.subarray(0, n) };
}

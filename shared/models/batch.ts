// The batch every model kind trains on: hashed row ids, dense numeric features and targets,
// each a flat example-major typed array, so a batch of any kind is a handful of buffers and
// never an object per example. A kind fixes the widths; the machinery (replay reservoir,
// holdout ring, slicing) only moves rows of these arrays around.

export interface Batch {
  size: number;
  /** size x idWidth row ids, example-major: ids[b * idWidth + f]. */
  ids: Int32Array;
  idWidth: number;
  /** size x denseWidth numeric features, example-major (length 0 when denseWidth is 0). */
  dense: Float32Array;
  denseWidth: number;
  /** size x targetWidth: a 0/1 label, a real value, a class index, several horizons... */
  targets: Float32Array;
  targetWidth: number;
  /** Event time of each example (ms): prequential figures are kept per bucket of it. */
  eventTs: Float64Array;
  /**
   * Delayed targets (a forecast, a label that arrives later): a source emits an example first
   * with NaN targets, to be scored now, and again with its targets, to be trained on; both
   * carry the same ref (>= 0), and the prequential figure pairs the later targets with the
   * earlier score (shared/models/delayed-scores.ts). Absent: every example is scored as trained.
   */
  refs?: Float64Array;
}

/** The widths of a kind's batches; every batch of that kind has exactly these. */
export interface BatchShape {
  idWidth: number;
  denseWidth: number;
  targetWidth: number;
}

export function emptyBatch(shape: BatchShape, size = 0): Batch {
  return {
    size, idWidth: shape.idWidth, denseWidth: shape.denseWidth, targetWidth: shape.targetWidth,
    ids: new Int32Array(size * shape.idWidth), dense: new Float32Array(size * shape.denseWidth),
    targets: new Float32Array(size * shape.targetWidth), eventTs: new Float64Array(size),
  };
}

/** Examples [from, to) as views (no copy). */
export function sliceBatch(b: Batch, from: number, to: number): Batch {
  return {
    size: to - from, idWidth: b.idWidth, denseWidth: b.denseWidth, targetWidth: b.targetWidth,
    ids: b.ids.subarray(from * b.idWidth, to * b.idWidth),
    dense: b.dense.subarray(from * b.denseWidth, to * b.denseWidth),
    targets: b.targets.subarray(from * b.targetWidth, to * b.targetWidth),
    eventTs: b.eventTs.subarray(from, to),
    ...(b.refs ? { refs: b.refs.subarray(from, to) } : {}),
  };
}

/** Copies example `i` of `src` to position `j` of `dst` (same shape). */
export function copyExample(src: Batch, i: number, dst: Batch, j: number): void {
  const I = src.idWidth;
  const D = src.denseWidth;
  const T = src.targetWidth;
  for (let k = 0; k < I; k++) dst.ids[j * I + k] = src.ids[i * I + k];
  for (let k = 0; k < D; k++) dst.dense[j * D + k] = src.dense[i * D + k];
  for (let k = 0; k < T; k++) dst.targets[j * T + k] = src.targets[i * T + k];
  dst.eventTs[j] = src.eventTs[i];
  if (dst.refs) dst.refs[j] = src.refs ? src.refs[i] : -1;
}

/** The examples of several batches, in order, in one new batch. */
export function concatBatches(shape: BatchShape, parts: readonly Batch[]): Batch {
  const n = parts.reduce((s, p) => s + p.size, 0);
  if (parts.length === 1) return parts[0];
  const out = emptyBatch(shape, n);
  if (parts.some((p) => p.refs)) out.refs = new Float64Array(n).fill(-1);
  let at = 0;
  for (const p of parts) {
    if (p.refs) out.refs!.set(p.refs.subarray(0, p.size), at);
    out.ids.set(p.ids.subarray(0, p.size * shape.idWidth), at * shape.idWidth);
    out.dense.set(p.dense.subarray(0, p.size * shape.denseWidth), at * shape.denseWidth);
    out.targets.set(p.targets.subarray(0, p.size * shape.targetWidth), at * shape.targetWidth);
    out.eventTs.set(p.eventTs.subarray(0, p.size), at);
    at += p.size;
  }
  return out;
}

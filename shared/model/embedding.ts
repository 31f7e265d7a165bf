// Embedding lookup whose gradient is a scatter-add into the (small, per-batch) table.
// The stock tf.gather gradient is unsortedSegmentSum over the table's rows: on cpu its cost
// grows with the row count, and the wasm backend has no UnsortedSegmentSum kernel at all, so
// training throws there. tf.scatterND sums duplicate indices on cpu and wasm (checked in
// test/unit/embedding-grad.test.ts), which is exactly the gradient of a gather.
//
// The forward pass is a row copy in JS, not tf.gather: on wasm, GatherV2 measured 0.8-1.8 ms
// for 1024 rows of 16 floats (a JS copy is ~10 us), and the CTR model does 2 lookups per field.
import * as tf from '@tensorflow/tfjs-core';

// tfjs-core does not export this type from its entry point.
type CustomGradientFunc = Parameters<typeof tf.customGrad>[0];

/**
 * Rows `indices` of `table`: out[b] = table[indices[b]], shape [indices.length, dim].
 * Differentiable w.r.t. `table`: d table[r] = sum of dy[b] over every b with indices[b] == r.
 * `indices` must be int32 and within [0, table rows); it gets no gradient.
 */
export function embeddingLookup(table: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  if (table.rank !== 2 || table.dtype !== 'float32') {
    throw new TypeError(`embeddingLookup: table must be a float32 matrix, got ${table.dtype} [${table.shape.join(', ')}]`);
  }
  if (indices.rank !== 1 || indices.dtype !== 'int32') {
    throw new TypeError(`embeddingLookup: indices must be an int32 vector, got ${indices.dtype} [${indices.shape.join(', ')}]`);
  }
  return lookupWithScatterGrad(table, indices) as tf.Tensor2D;
}

// tf.customGrad's typings take (...inputs, save); the cast keeps the body readable.
const lookupWithScatterGrad = tf.customGrad(((table: tf.Tensor2D, indices: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([indices]);
  const tableShape: [number, number] = [table.shape[0], table.shape[1]];
  return {
    value: gatherRows(table, indices),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const idx = saved[0] as tf.Tensor1D;
      const grad = tf.scatterND(tf.reshape(idx, [idx.shape[0], 1]), dy, tableShape);
      // customGrad wants one gradient per input; the int32 indices get an unused float zero
      // (the tape drops it, since indices never lead to a differentiated input).
      return [grad, tf.zeros(idx.shape, 'float32')];
    },
  };
}) as unknown as CustomGradientFunc);

/** out[b] = table[indices[b]], copied on the host: table and indices are small here. */
function gatherRows(table: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  const [rows, dim] = table.shape;
  const src = table.dataSync() as Float32Array;
  const idx = indices.dataSync() as Int32Array;
  const out = new Float32Array(idx.length * dim);
  for (let b = 0, o = 0; b < idx.length; b++) {
    const r = idx[b];
    if (!(r >= 0 && r < rows)) throw new RangeError(`embeddingLookup: index ${r} at ${b} is outside [0, ${rows})`);
    for (let s = r * dim, e = s + dim; s < e; s++) out[o++] = src[s];
  }
  return tf.tensor2d(out, [idx.length, dim]);
}

// embeddingLookup's custom gradient (a scatter-add) against hand-worked values and a central
// finite difference, on the cpu and wasm backends in one process. tfjs-core alone registers no
// stock gradients (the model needs none), so the tests pass the upstream gradient dy to
// tf.grad explicitly instead of differentiating through tf.sum / tf.mul.
import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { embeddingLookup } from '../../shared/model/embedding.ts';
import { mulberry32 } from '../../shared/hash.ts';

const BACKENDS = ['cpu', 'wasm'];

for (const backend of BACKENDS) {
  t.test(`${backend}: forward copies rows and the gradient sums duplicates`, async (t) => {
    t.ok(await tf.setBackend(backend), `${backend} starts`);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const table = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
      const idx = tf.tensor1d([2, 0, 2, 2], 'int32');
      t.same(Array.from(embeddingLookup(table, idx).dataSync()), [5, 6, 1, 2, 5, 6, 5, 6]);
      // loss = sum(lookup * w) with w rows [1,1],[2,2],[3,3],[4,4]:
      //   d table[0] = w[1] = [2,2];  d table[1] = 0 (never looked up);
      //   d table[2] = w[0] + w[2] + w[3] = [8,8]  (three examples share row 2)
      const w = tf.tensor2d([1, 1, 2, 2, 3, 3, 4, 4], [4, 2]);
      const g = tf.grad((x: tf.Tensor) => embeddingLookup(x as tf.Tensor2D, idx))(table, w);
      t.same(Array.from(g.dataSync()), [2, 2, 0, 0, 8, 8]);
    });
    t.equal(tf.memory().numTensors, before, 'no tensor leaks');
  });

  t.test(`${backend}: gradient matches a central finite difference`, async (t) => {
    await tf.setBackend(backend);
    const rnd = mulberry32(42);
    const rows = 6, dim = 3;
    const tableVals = Float32Array.from({ length: rows * dim }, () => rnd() * 2 - 1);
    const idxVals = new Int32Array([0, 2, 2, 5, 0, 2, 1, 5]); // rows 0, 2, 5 repeat; 3, 4 unused
    const coef = Float32Array.from({ length: idxVals.length * dim }, () => rnd() * 2 - 1);
    // A loss that is not linear in the table, so the gradient depends on the values:
    // L = sum_b,j coef[b,j] * lookup[b,j]^2, hence dL/dtable[r,j] = sum_{b: idx[b]=r} 2 coef[b,j] table[r,j].
    const lossOf = (x: tf.Tensor): tf.Scalar => tf.tidy(() => {
      const e = embeddingLookup(x as tf.Tensor2D, tf.tensor1d(idxVals, 'int32'));
      return tf.sum(tf.mul(tf.square(e), tf.tensor2d(coef, [idxVals.length, dim])));
    });
    const analytic = tf.tidy(() => {
      const table = tf.tensor2d(tableVals, [rows, dim]);
      const idx = tf.tensor1d(idxVals, 'int32');
      const dy = tf.mul(tf.mul(embeddingLookup(table, idx), tf.tensor2d(coef, [idxVals.length, dim])), 2); // dL/dlookup
      return tf.grad((x: tf.Tensor) => embeddingLookup(x as tf.Tensor2D, idx))(table, dy).dataSync();
    }) as Float32Array;
    const eps = 1e-2;
    let worst = 0;
    for (let k = 0; k < tableVals.length; k++) {
      const plus = tableVals.slice(); plus[k] += eps;
      const minus = tableVals.slice(); minus[k] -= eps;
      const lp = tf.tidy(() => lossOf(tf.tensor2d(plus, [rows, dim])).dataSync()[0]);
      const lm = tf.tidy(() => lossOf(tf.tensor2d(minus, [rows, dim])).dataSync()[0]);
      const numeric = (lp - lm) / (2 * eps); // exact for a quadratic, up to float32 rounding
      // float32 losses of magnitude ~3 round at ~2.4e-7, i.e. ~2.4e-5 after dividing by 2 eps
      worst = Math.max(worst, Math.abs(numeric - analytic[k]) / (1e-4 + 1e-3 * Math.abs(numeric)));
    }
    t.ok(worst < 1, `worst |numeric - analytic| / (1e-4 + 1e-3 |numeric|) = ${worst.toFixed(3)}`);
    for (const r of [3, 4]) {
      t.same(Array.from(analytic.subarray(r * dim, r * dim + dim)), [0, 0, 0], `unused row ${r} gets 0`);
    }
  });

  t.test(`${backend}: an index outside the table throws`, async (t) => {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    t.throws(() => tf.tidy(() => {
      embeddingLookup(tf.tensor2d([1, 2], [1, 2]), tf.tensor1d([1], 'int32'));
    }), RangeError);
    t.throws(() => tf.tidy(() => {
      embeddingLookup(tf.tensor2d([1, 2], [1, 2]), tf.tensor1d([0], 'float32'));
    }), TypeError);
    t.equal(tf.memory().numTensors, before, 'no tensor leaks on the error path');
  });
}

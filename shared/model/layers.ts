// The differentiable building blocks of the CTR model, each a tf.customGrad.
// Why custom: (1) we import @tensorflow/tfjs-core, not the @tensorflow/tfjs bundle (startup
// ~250 ms instead of ~660 ms), and core alone registers no stock gradients, so every op on the
// tape must bring its own; (2) the stock MatMul gradient multiplies with transpose flags,
// which on wasm leaves XNNPACK for a naive loop: 3.5-4.3 ms instead of 0.4-0.45 ms for a
// [1024,16]x[16,256] layer. Here the backward pass transposes explicitly, then multiplies.
// Measured on wasm, B=1024 (ms): per-field first layer fwd/dx/dw 8.4/8.7/8.7 vs 5.9/6.3/9.6
// for one concatenated [1024,416]x[416,256] (plus ~1 ms of concat), so the split costs little.
import * as tf from '@tensorflow/tfjs-core';

// tfjs-core does not export this type from its entry point.
type CustomGradientFunc = Parameters<typeof tf.customGrad>[0];

export type Activation = 'relu' | 'linear';

/**
 * act(sum_i xs[i] @ ws[i] + bias): an affine layer whose input arrives in blocks (one per
 * feature field), so the caller never concatenates. xs[i] is [B, in_i], ws[i] [in_i, out],
 * bias [out]; returns [B, out].
 */
export function dense(xs: tf.Tensor2D[], ws: tf.Tensor2D[], bias: tf.Tensor1D, act: Activation): tf.Tensor2D {
  const n = xs.length;
  if (n === 0 || ws.length !== n) throw new RangeError(`dense: ${n} input blocks but ${ws.length} weight blocks`);
  const layer = tf.customGrad(((...args: unknown[]) => {
    const inputs = args.slice(0, 2 * n + 1) as tf.Tensor[];
    const save = args[2 * n + 1] as tf.GradSaveFunc;
    const x = inputs.slice(0, n) as tf.Tensor2D[];
    const w = inputs.slice(n, 2 * n) as tf.Tensor2D[];
    const b = inputs[2 * n] as tf.Tensor1D;
    let out: tf.Tensor2D;
    if (n === 1) {
      // One kernel on wasm and cpu (matMul + bias + relu fused).
      out = tf.fused.matMul({ a: x[0], b: w[0], bias: b, activation: act }) as tf.Tensor2D;
    } else {
      const sum = tf.addN(x.map((xi, i) => tf.matMul(xi, w[i])));
      const pre = tf.add(sum, b) as tf.Tensor2D;
      out = act === 'relu' ? tf.relu(pre) : pre;
    }
    save([...x, ...w, out]);
    return {
      value: out,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const sx = saved.slice(0, n) as tf.Tensor2D[];
        const sw = saved.slice(n, 2 * n) as tf.Tensor2D[];
        const y = saved[2 * n];
        const da = act === 'relu' ? tf.mul(dy, tf.step(y)) : dy;
        const dxs = sw.map((wi) => tf.matMul(da, tf.transpose(wi)));
        const dws = sx.map((xi) => tf.matMul(tf.transpose(xi), da));
        // sum(da, 0) on wasm transposes first (2.4 ms for [1024,256]); ones @ da reuses the
        // XNNPACK operator just packed for da above and costs ~0.03 ms.
        const [rows, cols] = dy.shape;
        const db = tf.reshape(tf.matMul(tf.ones([1, rows]), da), [cols]);
        return [...dxs, ...dws, db];
      },
    };
  }) as unknown as CustomGradientFunc);
  return layer(...xs, ...ws, bias) as tf.Tensor2D;
}

/** Elementwise sum of same-shape tensors (tf.addN with a gradient). */
export function sumN<T extends tf.Tensor>(ts: T[]): T {
  if (ts.length === 0) throw new RangeError('sumN: no tensors');
  const op = tf.customGrad(((...args: unknown[]) => {
    const inputs = args.slice(0, ts.length) as tf.Tensor[];
    return {
      value: tf.addN(inputs),
      gradFunc: (dy: tf.Tensor) => inputs.map(() => tf.clone(dy)),
    };
  }) as unknown as CustomGradientFunc);
  return op(...ts) as T;
}

/**
 * Mean sigmoid cross-entropy of logits z against 0/1 labels y (same shape), in the stable
 * form max(z,0) - z*y + log(1 + exp(-|z|)); its gradient is (sigmoid(z) - y) / n.
 */
export function sigmoidCrossEntropy(z: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return meanXent(z, y) as tf.Scalar;
}

const meanXent = tf.customGrad(((z: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
  save([z, y]);
  const perExample = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
  return {
    value: tf.mean(perExample),
    gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
      const [sz, sy] = saved;
      const dz = tf.mul(tf.sub(tf.sigmoid(sz), sy), tf.div(dy, sz.size));
      return [dz, tf.zerosLike(sy)];
    },
  };
}) as unknown as CustomGradientFunc);

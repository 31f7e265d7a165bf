// Update rules of the parameter server, as pure loops over typed arrays. No allocation, no
// closures: this is the hot path of every PS shard. Slots are named <param>/momentum; for
// Adagrad the same slot holds the running sum of squared gradients. Long dense runs go
// through the WebAssembly SIMD kernels (shared/kernels/), which give bit-identical results.
import { applyUpdateSimd } from './kernels/momentum-simd.ts';

export type UpdateRule = 'momentum' | 'nesterov' | 'adagrad';

export interface UpdateParams {
  rule: UpdateRule;
  lr: number;
  /** Momentum coefficient (momentum and nesterov). */
  mu: number;
  /** Adagrad's epsilon. */
  eps: number;
}

/**
 * Runs at or above which applyUpdate uses the SIMD kernels. Below it the scalar loop wins: a
 * kernel call with its copies costs ~0.5 us; the crossover measured ~200 floats (bench/dense.ts),
 * so sparse rows (dim 8-64) stay scalar and dense tensors go to SIMD.
 */
export const SIMD_MIN_FLOATS = 256;

/**
 * Classic momentum:  v = mu*v + g;  w -= lr*v
 * Nesterov:          v = mu*v + g;  w -= lr*(g + mu*v)
 * Adagrad:           a += g*g;      w -= lr*g / (sqrt(a) + eps)
 * over n floats: w[wOff..], slot[wOff..] and g[gOff..]. `scale` multiplies g first
 * (staleness damping); pass 1 for none.
 */
export function applyUpdate(
  p: UpdateParams, w: Float32Array, slot: Float32Array, wOff: number,
  g: Float32Array, gOff: number, n: number, scale: number,
): void {
  if (n >= SIMD_MIN_FLOATS && applyUpdateSimd(p, w, slot, wOff, g, gOff, n, scale)) return;
  applyUpdateScalar(p, w, slot, wOff, g, gOff, n, scale);
}

/** The update as a plain loop: the reference the SIMD kernels must match, and the short-run path. */
export function applyUpdateScalar(
  p: UpdateParams, w: Float32Array, slot: Float32Array, wOff: number,
  g: Float32Array, gOff: number, n: number, scale: number,
): void {
  const lr = p.lr;
  const mu = p.mu;
  if (p.rule === 'momentum') {
    for (let i = 0; i < n; i++) {
      const v = mu * slot[wOff + i] + scale * g[gOff + i];
      slot[wOff + i] = v;
      w[wOff + i] -= lr * v;
    }
  } else if (p.rule === 'nesterov') {
    for (let i = 0; i < n; i++) {
      const gi = scale * g[gOff + i];
      const v = mu * slot[wOff + i] + gi;
      slot[wOff + i] = v;
      w[wOff + i] -= lr * (gi + mu * v);
    }
  } else {
    const eps = p.eps;
    for (let i = 0; i < n; i++) {
      const gi = scale * g[gOff + i];
      const a = slot[wOff + i] + gi * gi;
      slot[wOff + i] = a;
      w[wOff + i] -= (lr * gi) / (Math.sqrt(a) + eps);
    }
  }
}

/** True when every value is finite; the PS checks this before any state changes. */
export function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    // x - x is NaN for NaN and +-Infinity, 0 otherwise: one branch per value.
    if (x - x !== 0) return false;
  }
  return true;
}

/** Sum of squares, for clipping a whole push by its global norm. */
export function sumSquares(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

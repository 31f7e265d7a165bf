// Checks and norms over whole gradient arrays, used before any state changes.

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

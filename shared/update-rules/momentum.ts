// Classic momentum (Polyak):  v = mu*v + g;  w -= lr*v.  Slot: momentum.
// The gradient scale (clip x learning-rate factor x staleness damping) multiplies g: for this
// rule that scales the step exactly like the rate would. Long runs go to the exact SIMD kernel.
import { KERNEL, SIMD_MIN_FLOATS, applyUpdateSimd } from '../kernels/momentum-simd.ts';
import { resolveMomentum, zeroSlots } from './hp.ts';
import type { UpdateRule } from './types.ts';

const SLOTS = ['momentum'] as const;

export const momentum: UpdateRule = {
  name: 'momentum',
  slots: SLOTS,
  scaled: true,
  readableSlots: false,
  resolve: resolveMomentum,
  slotsOf: () => SLOTS,
  apply(w, s, off, g, gOff, n, gScale, lrScale, hp) {
    const scale = gScale * lrScale;
    const lr = hp.lr;
    const mu = hp.mu;
    if (n >= SIMD_MIN_FLOATS && applyUpdateSimd(KERNEL.momentum, lr, mu, 0, w, s, off, g, gOff, n, scale)) return;
    // Four floats per iteration: the same operations in the same order per float (same bits),
    // measured ~5% faster on dim-8 rows and ~20% on dim-16 rows than the plain loop (bench/kernels.ts).
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const a = off + i, b = gOff + i;
      const v0 = mu * s[a] + scale * g[b], v1 = mu * s[a + 1] + scale * g[b + 1];
      const v2 = mu * s[a + 2] + scale * g[b + 2], v3 = mu * s[a + 3] + scale * g[b + 3];
      s[a] = v0; s[a + 1] = v1; s[a + 2] = v2; s[a + 3] = v3;
      w[a] -= lr * v0; w[a + 1] -= lr * v1; w[a + 2] -= lr * v2; w[a + 3] -= lr * v3;
    }
    for (; i < n; i++) {
      const v = mu * s[off + i] + scale * g[gOff + i];
      s[off + i] = v;
      w[off + i] -= lr * v;
    }
  },
  initSlots: zeroSlots,
};

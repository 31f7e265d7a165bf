// Nesterov momentum (the Sutskever et al. 2013 form used by Keras / PyTorch):
//   v = mu*v + g;  w -= lr*(g + mu*v).  Slot: momentum. Scaling as for momentum.
import { KERNEL, SIMD_MIN_FLOATS, applyUpdateSimd } from '../kernels/momentum-simd.ts';
import { resolveMomentum, zeroSlots } from './hp.ts';
import type { UpdateRule } from './types.ts';

const fround = Math.fround;

const SLOTS = ['momentum'] as const;

export const nesterov: UpdateRule = {
  name: 'nesterov',
  slots: SLOTS,
  scaled: true,
  readableSlots: false,
  resolve: resolveMomentum,
  slotsOf: () => SLOTS,
  apply(w, s, off, g, gOff, n, gScale, lrScale, hp) {
    if (n >= SIMD_MIN_FLOATS && applyUpdateSimd(KERNEL.nesterov, hp.lr, hp.mu, 0, w, s, off, g, gOff, n, gScale * lrScale)) return;
    // f32 operations, as the kernel does them (see momentum.ts).
    const scale = fround(gScale * lrScale);
    const lr = fround(hp.lr);
    const mu = fround(hp.mu);
    for (let i = 0; i < n; i++) {
      const gi = fround(scale * g[gOff + i]);
      const v = fround(fround(mu * s[off + i]) + gi);
      s[off + i] = v;
      w[off + i] -= fround(lr * fround(gi + fround(mu * v)));
    }
  },
  initSlots: zeroSlots,
  kernel: 'nesterov',
  kernelArgs: (gScale, lrScale, hp) => ({ lr: hp.lr, mu: hp.mu, scale: gScale * lrScale, eps: 0 }),
};

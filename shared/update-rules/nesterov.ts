// Nesterov momentum (the Sutskever et al. 2013 form used by Keras / PyTorch):
//   v = mu*v + g;  w -= lr*(g + mu*v).  Slot: momentum. Scaling as for momentum.
import { KERNEL, SIMD_MIN_FLOATS, applyUpdateSimd } from '../kernels/momentum-simd.ts';
import { resolveMomentum, zeroSlots } from './hp.ts';
import type { UpdateRule } from './types.ts';

const SLOTS = ['momentum'] as const;

export const nesterov: UpdateRule = {
  name: 'nesterov',
  slots: SLOTS,
  scaled: true,
  readableSlots: false,
  resolve: resolveMomentum,
  slotsOf: () => SLOTS,
  apply(w, s, off, g, gOff, n, gScale, lrScale, hp) {
    const scale = gScale * lrScale;
    const lr = hp.lr;
    const mu = hp.mu;
    if (n >= SIMD_MIN_FLOATS && applyUpdateSimd(KERNEL.nesterov, lr, mu, 0, w, s, off, g, gOff, n, scale)) return;
    for (let i = 0; i < n; i++) {
      const gi = scale * g[gOff + i];
      const v = mu * s[off + i] + gi;
      s[off + i] = v;
      w[off + i] -= lr * (gi + mu * v);
    }
  },
  initSlots: zeroSlots,
};

// Adagrad (Duchi et al. 2011):  a += g*g;  w -= lr*g / (sqrt(a) + eps).  Slot: accum.
// The clip factor scales g; the learning-rate factor and staleness damping scale lr (scaling g
// instead would mostly cancel against sqrt(a)). Long runs go to the exact SIMD kernel.
import { KERNEL, SIMD_MIN_FLOATS, applyUpdateSimd } from '../kernels/momentum-simd.ts';
import { baseHp, checkBase, onlyFields, num, zeroSlots } from './hp.ts';
import type { RuleBase, RuleHp, RuleOptions, UpdateRule } from './types.ts';

const fround = Math.fround;

const SLOTS = ['accum'] as const;

/** Default eps. */
export const ADAGRAD_EPS = 1e-8;

export const adagrad: UpdateRule = {
  name: 'adagrad',
  slots: SLOTS,
  scaled: true,
  readableSlots: false,
  resolve(opts: RuleOptions, base: RuleBase, option: string): RuleHp {
    onlyFields(opts, ['eps'], option);
    checkBase(base, option);
    return { ...baseHp(base, 1), mu: 0, eps: num(opts, 'eps', ADAGRAD_EPS, option, 0, 1, true) };
  },
  slotsOf: () => SLOTS,
  apply(w, s, off, g, gOff, n, gScale, lrScale, hp) {
    if (n >= SIMD_MIN_FLOATS && applyUpdateSimd(KERNEL.adagrad, hp.lr * lrScale, 0, hp.eps, w, s, off, g, gOff, n, gScale)) return;
    // f32 operations, as the kernel does them (see momentum.ts).
    const lr = fround(hp.lr * lrScale);
    const eps = fround(hp.eps);
    const scale = fround(gScale);
    for (let i = 0; i < n; i++) {
      const gi = fround(scale * g[gOff + i]);
      const a = fround(s[off + i] + fround(gi * gi));
      s[off + i] = a;
      w[off + i] -= fround(fround(lr * gi) / fround(fround(Math.sqrt(a)) + eps));
    }
  },
  initSlots: zeroSlots,
  kernel: 'adagrad',
  kernelArgs: (gScale, lrScale, hp) => ({ lr: hp.lr * lrScale, mu: 0, scale: gScale, eps: hp.eps }),
};

// Adam (Kingma & Ba 2015) with bias correction per float:
//   t += 1;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
//   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// Slots: m, v, t. The step count t is a slot too, not a global step: a sparse row touched
// k times has had k updates, and its bias correction must say so (the "lazy Adam" shortcut
// of a global step under-corrects rare rows). Every float of a row has the same t; it is kept
// per float so that the row's slots stay three planes of dim (one layout for every rule). t is
// an f32: it stops counting at 2^24, where both corrections are 1 to within f32 anyway.
// Scaling: clip scales g, the learning-rate factor and staleness damping scale lr.
import { baseHp, checkBase, onlyFields, num, zeroSlots } from './hp.ts';
import type { RuleBase, RuleHp, RuleOptions, UpdateRule } from './types.ts';

const SLOTS = ['m', 'v', 't'] as const;

export const adam: UpdateRule = {
  name: 'adam',
  slots: SLOTS,
  scaled: true,
  readableSlots: false,
  resolve(opts: RuleOptions, base: RuleBase, option: string): RuleHp {
    onlyFields(opts, ['beta1', 'beta2', 'eps'], option);
    checkBase(base, option);
    return {
      ...baseHp(base, 3), mu: 0,
      beta1: num(opts, 'beta1', 0.9, option, 0, 1),
      beta2: num(opts, 'beta2', 0.999, option, 0, 1),
      eps: num(opts, 'eps', 1e-8, option, 0, 1, true),
    };
  },
  slotsOf: () => SLOTS,
  apply(w, s, off, g, gOff, n, gScale, lrScale, hp) {
    const lr = hp.lr * lrScale;
    const b1 = hp.beta1, b2 = hp.beta2, eps = hp.eps;
    const mAt = off * 3, vAt = mAt + n, tAt = vAt + n;
    // The corrections are computed once per distinct t (once per row or tensor in practice).
    let lastT = -1, c1 = 1, c2 = 1;
    for (let i = 0; i < n; i++) {
      const gi = gScale * g[gOff + i];
      const t = s[tAt + i] + 1;
      s[tAt + i] = t;
      const m = b1 * s[mAt + i] + (1 - b1) * gi;
      const v = b2 * s[vAt + i] + (1 - b2) * gi * gi;
      s[mAt + i] = m;
      s[vAt + i] = v;
      if (t !== lastT) {
        lastT = t;
        c1 = 1 - Math.pow(b1, t);
        c2 = 1 - Math.pow(b2, t);
      }
      w[off + i] -= (lr * (m / c1)) / (Math.sqrt(v / c2) + eps);
    }
  },
  initSlots: zeroSlots,
};

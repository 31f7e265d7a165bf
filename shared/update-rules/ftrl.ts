// FTRL-Proximal, per coordinate (McMahan et al. 2013, "Ad click prediction", Algorithm 1):
//   sigma = (sqrt(n + g*g) - sqrt(n)) / alpha;  z += g - sigma*w;  n += g*g
//   w = |z| <= l1 ? 0 : -(z - sign(z)*l1) / ((beta + sqrt(n)) / alpha + l2)
// Slots: z, n. The weight is a function of (z, n), so the slots ARE the model: a restore that
// sets weights without them goes through initSlots, which picks the z that gives back those
// weights (n = 0). alpha defaults to the table's learning rate (PS rate x lrScale); the
// learning-rate factor and staleness damping scale alpha for the push (exact while they stay
// constant, an approximation of a changing schedule otherwise); clip scales g.
import { baseHp, checkBase, onlyFields, num } from './hp.ts';
import type { RuleBase, RuleHp, RuleOptions, UpdateRule } from './types.ts';

const SLOTS = ['z', 'n'] as const;

export const ftrl: UpdateRule = {
  name: 'ftrl',
  slots: SLOTS,
  scaled: true,
  readableSlots: false,
  resolve(opts: RuleOptions, base: RuleBase, option: string): RuleHp {
    onlyFields(opts, ['alpha', 'beta', 'l1', 'l2'], option);
    checkBase(base, option);
    return {
      ...baseHp(base, 2), mu: 0,
      alpha: num(opts, 'alpha', base.lr, option, 0, Infinity, true),
      // > 0: with beta 0 the first step divides by sqrt(0).
      beta: num(opts, 'beta', 1, option, 0, Infinity, true),
      l1: num(opts, 'l1', 0, option, 0, Infinity),
      l2: num(opts, 'l2', 0, option, 0, Infinity),
    };
  },
  slotsOf: () => SLOTS,
  apply(w, s, off, g, gOff, n, gScale, lrScale, hp) {
    const alpha = hp.alpha * lrScale;
    const beta = hp.beta, l1 = hp.l1, l2 = hp.l2;
    const zAt = off * 2, nAt = zAt + n;
    for (let i = 0; i < n; i++) {
      const gi = gScale * g[gOff + i];
      const n0 = s[nAt + i];
      const n1 = n0 + gi * gi;
      const sqrtN1 = Math.sqrt(n1);
      const sigma = (sqrtN1 - Math.sqrt(n0)) / alpha;
      const z = s[zAt + i] + gi - sigma * w[off + i];
      s[zAt + i] = z;
      s[nAt + i] = n1;
      w[off + i] = z <= l1 && z >= -l1 ? 0 : -(z - (z > 0 ? l1 : -l1)) / ((beta + sqrtN1) / alpha + l2);
    }
  },
  initSlots(w, s, off, n, hp) {
    // n = 0 and z = -w*(beta/alpha + l2) - sign(w)*l1: the closed form above gives back w.
    const d = hp.beta / hp.alpha + hp.l2;
    const zAt = off * 2, nAt = zAt + n;
    for (let i = 0; i < n; i++) {
      const wi = w[off + i];
      s[zAt + i] = wi === 0 ? 0 : -wi * d - (wi > 0 ? hp.l1 : -hp.l1);
      s[nAt + i] = 0;
    }
  },
};

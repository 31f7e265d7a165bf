// The additive counter, for online statistics kept as PS tables (per-id counts, sums):
//   w += g                                        without decay
//   w = w * exp(-(t - tLast) / tau) + g           with halfLifeMs set (tau = halfLifeMs / ln 2)
// where t is the push's eventTimeMs (the newest event time in its batch). Counts must add
// exactly, so this rule ignores the learning rate, momentum, staleness damping and the
// global-norm clip (the Updater leaves counter gradients out of the norm, too). Its tables
// start at zeros (the Updater refuses another initializer).
// With decay, a push older than the row's newest (pushes from several workers interleave) is
// added decayed to the row's time instead: w += g * exp(-(tLast - t) / tau), tLast unchanged,
// so the sum is the same whatever order the pushes arrive in. A push without eventTimeMs adds
// undecayed. Slots (decay only): the row's newest event time in ms, split in two f32 planes
// lastTsHi = floor(t / 2^20), lastTsLo = t mod 2^20 (an f32 holds 24 bits: a millisecond time
// of today would be rounded by minutes, and every push would over-decay). 0 = never touched.
import { baseHp, onlyFields, num, zeroSlots } from './hp.ts';
import type { RuleBase, RuleHp, RuleOptions, UpdateRule } from './types.ts';

const SLOTS = ['lastTsHi', 'lastTsLo'] as const;
const NONE: readonly string[] = [];
const SPLIT = 2 ** 20;

export const counter: UpdateRule = {
  name: 'counter',
  slots: SLOTS,
  scaled: false,
  readableSlots: true,
  resolve(opts: RuleOptions, base: RuleBase, option: string): RuleHp {
    onlyFields(opts, ['halfLifeMs'], option);
    const halfLifeMs = num(opts, 'halfLifeMs', 0, option, 0, Infinity);
    const tauMs = halfLifeMs > 0 ? halfLifeMs / Math.LN2 : 0;
    return { ...baseHp(base, tauMs > 0 ? 2 : 0), lr: 0, mu: 0, tauMs };
  },
  slotsOf: (hp) => (hp.tauMs > 0 ? SLOTS : NONE),
  apply(w, s, off, g, gOff, n, _gScale, _lrScale, hp) {
    const tau = hp.tauMs;
    const t = hp.nowMs;
    if (tau === 0 || t < 0) {
      for (let i = 0; i < n; i++) w[off + i] += g[gOff + i];
      return;
    }
    const hiAt = off * 2, loAt = hiAt + n;
    const tHi = Math.floor(t / SPLIT), tLo = t - tHi * SPLIT;
    for (let i = 0; i < n; i++) {
      const last = s[hiAt + i] * SPLIT + s[loAt + i];
      if (t >= last) {
        w[off + i] = (last === 0 ? w[off + i] : w[off + i] * Math.exp(-(t - last) / tau)) + g[gOff + i];
        s[hiAt + i] = tHi;
        s[loAt + i] = tLo;
      } else {
        w[off + i] += g[gOff + i] * Math.exp(-(last - t) / tau);
      }
    }
  },
  initSlots: zeroSlots,
};

/**
 * A counter row's value decayed to `nowMs`: w * exp(-(now - last) / tau) for each of the n
 * floats of the block at w[off..] (slots at off*2, the layout above) into out[outOff..]. A
 * float never touched with a time (last 0), a rule without decay, or a `nowMs` before the
 * row's time (a reader behind the PS) reads undecayed: a count is never inflated.
 */
export function counterValueAt(w: Float32Array, s: Float32Array, off: number, n: number, hp: RuleHp,
  nowMs: number, out: Float32Array, outOff: number): void {
  const tau = hp.tauMs;
  if (tau === 0) { out.set(w.subarray(off, off + n), outOff); return; }
  const hiAt = off * 2, loAt = hiAt + n;
  for (let i = 0; i < n; i++) {
    const last = s[hiAt + i] * SPLIT + s[loAt + i];
    const v = w[off + i];
    out[outOff + i] = last === 0 || nowMs <= last ? v : v * Math.exp(-(nowMs - last) / tau);
  }
}

// The demand kind's prequential figures (M5's definitions, rolled daily), at h = 1 and at the
// last horizon H, over forecasts made at each origin before their days happened:
//  - WAPE: sum |forecast - actual| / sum actual over item-days;
//  - RMSSE per item: sqrt(mean squared error / scale), scale = the item's in-sample one-step
//    naive MSE from its first sale up to the origin; WRMSSE weights the items by their revenue
//    over the scored days (M5 uses the last 28 days of training);
//  - store WAPE: the same for the sum over items per origin (the store total);
//  - week WAPE: of each item's total over the H days (a trading week at H = 6), and the store's.
// Lower is better for all; the headline is wrmsse1. Sums per item and per origin merge across
// workers (items are sharded, origins are shared) and across buckets of event time.
import type { Batch } from '../batch.ts';
import type { MetricAccumulator, MetricDef, MetricState } from '../types.ts';
import { demandLayout } from './spec.ts';

/** Per item: scaled squared errors and counts at h = 1 and H, and revenue of the h = 1 days. */
type ItemSums = [number, number, number, number, number];
/** Per origin: forecast and actual store totals at h = 1 and H, and over all H days (the week). */
type OriginSums = [number, number, number, number, number, number];

/**
 * The metric's plain sums: examples; |error| and actual at h = 1 and H; the forecast at h = 1;
 * |error| and actual of each item's total over the H days (its week).
 */
const SUMS = ['n', 'abs1', 'act1', 'absH', 'actH', 'fc1', 'absW', 'actW'] as const;

export class DemandMetric implements MetricAccumulator {
  private readonly sums = Object.fromEntries(SUMS.map((k) => [k, 0])) as Record<(typeof SUMS)[number], number>;
  items: Record<string, ItemSums> = {};
  origins: Record<string, OriginSums> = {};

  get count(): number {
    return this.sums.n;
  }

  add(p: Float32Array, b: Batch, from: number, to: number): void {
    const H = b.targetWidth;
    const L = demandLayout(H);
    const D = b.denseWidth;
    const S = this.sums;
    for (let i = from; i < to; i++) {
      const a1 = b.targets[i * H];
      if (Number.isNaN(a1)) continue; // a forecast whose days have not happened: scored when they have
      const aH = b.targets[i * H + H - 1];
      const f1 = p[i * H];
      const fH = p[i * H + H - 1];
      S.n++;
      S.abs1 += Math.abs(f1 - a1);
      S.absH += Math.abs(fH - aH);
      S.act1 += a1;
      S.actH += aH;
      S.fc1 += f1;
      let fW = 0, aW = 0;
      for (let h = 0; h < H; h++) { fW += p[i * H + h]; aW += b.targets[i * H + h]; }
      S.absW += Math.abs(fW - aW);
      S.actW += aW;
      const scale = b.dense[i * D + L.scale];
      const key = String(b.dense[i * D + L.itemKeyHi] * 65536 + b.dense[i * D + L.itemKeyLo]);
      const s = this.items[key] ?? (this.items[key] = [0, 0, 0, 0, 0]);
      if (scale > 0) {
        s[0] += ((f1 - a1) ** 2) / scale;
        s[1]++;
        s[2] += ((fH - aH) ** 2) / scale;
        s[3]++;
      }
      s[4] += a1 * b.dense[i * D + L.price];
      const day = String(b.dense[i * D + L.originDay]);
      const o = this.origins[day] ?? (this.origins[day] = [0, 0, 0, 0, 0, 0]);
      o[0] += f1;
      o[1] += a1;
      o[2] += fH;
      o[3] += aH;
      o[4] += fW;
      o[5] += aW;
    }
  }

  state(): MetricState {
    return { ...this.sums, items: this.items, origins: this.origins };
  }

  merge(s: MetricState): void {
    for (const k of SUMS) this.sums[k] += Number(s[k]) || 0;
    // Thousands of items per bucket, merged for every report and every window: no entry
    // arrays allocated per item.
    const add = (into: Record<string, number[]>, from: unknown) => {
      if (!from || typeof from !== 'object') return;
      const src = from as Record<string, number[]>;
      for (const k in src) {
        const v = src[k];
        if (!Array.isArray(v)) continue;
        const t = into[k] ?? (into[k] = new Array<number>(v.length).fill(0));
        for (let j = 0; j < v.length; j++) t[j] += Number(v[j]) || 0;
      }
    };
    add(this.items, s.items);
    add(this.origins, s.origins);
  }

  counts(): Record<string, number> {
    return { items: Object.keys(this.items).length, origins: Object.keys(this.origins).length };
  }

  figures(): Record<string, number> {
    let rev = 0, w1 = 0, wH = 0, r1 = 0, scored = 0;
    for (const s of Object.values(this.items)) if (s[1] > 0) rev += s[4];
    for (const s of Object.values(this.items)) {
      if (s[1] === 0) continue;
      const a = Math.sqrt(s[0] / s[1]);
      const b = Math.sqrt(s[2] / s[3]);
      r1 += a;
      scored++;
      if (rev > 0) { w1 += (s[4] / rev) * a; wH += (s[4] / rev) * b; }
    }
    let se1 = 0, sa1 = 0, seH = 0, saH = 0, seW = 0, saW = 0;
    for (const o of Object.values(this.origins)) {
      se1 += Math.abs(o[0] - o[1]);
      sa1 += o[1];
      seH += Math.abs(o[2] - o[3]);
      saH += o[3];
      seW += Math.abs((o[4] ?? 0) - (o[5] ?? 0));
      saW += o[5] ?? 0;
    }
    const div = (a: number, b: number) => (b > 0 ? a / b : NaN);
    return {
      wrmsse1: rev > 0 ? w1 : NaN, wrmsseH: rev > 0 ? wH : NaN, wape1: div(this.sums.abs1, this.sums.act1), wapeH: div(this.sums.absH, this.sums.actH),
      storeWape1: div(se1, sa1), storeWapeH: div(seH, saH), rmsse1: scored ? r1 / scored : NaN, bias1: div(this.sums.fc1, this.sums.act1) - 1,
      // The H days as one period (a trading week at H = 6): per item, and for the store.
      weekWape: div(this.sums.absW, this.sums.actW), storeWeekWape: div(seW, saW),
    };
  }
}

export const demandMetric: MetricDef = { headline: 'wrmsse1', higherIsBetter: false, create: () => new DemandMetric() };

// What the demand source remembers of one item: its net demand and returns of the last
// RING trading days, when it first and last sold, its in-sample one-step naive error (the
// RMSSE scale), its units per weekday and exponentially weighted means of its units and order
// lines. Plain numbers and a few small typed arrays per item.

import { hashString } from '../../hash.ts';

/** Trading days of history kept: the longest lag and moving average (24) plus slack. */
export const RING = 28;

/**
 * Half-lives (trading days) of the exponentially weighted means of units and order lines: the
 * line rate over a few weeks, units per line over a season. The means are bias-corrected (sum
 * and weight decay together from the first sale), so a new item has its mean since its first
 * sale rather than one dragged towards zero.
 */
export const HALF_LIVES = [12, 48] as const;
const DECAY = HALF_LIVES.map((h) => Math.pow(0.5, 1 / h));

export class ItemHistory {
  readonly units = new Float64Array(RING);
  readonly returns = new Float64Array(RING);
  /** Trading index of the first and last day with demand (-1: none yet). */
  firstSale = -1;
  lastSale = -1;
  /** Sum and count of (units_t - units_{t-1})^2 from the day after the first sale. */
  naiveSq = 0;
  naiveN = 0;
  /** Units and days per weekday since the first sale. */
  readonly weekdaySum = new Float64Array(7);
  readonly weekdayDays = new Float64Array(7);
  /** Exponentially weighted sums of units and order lines and their weight, per half-life. */
  readonly ewUnits = new Float64Array(HALF_LIVES.length);
  readonly ewLines = new Float64Array(HALF_LIVES.length);
  readonly ewWeight = new Float64Array(HALF_LIVES.length);
  /** Last unit price seen (NaN: none). */
  price = NaN;

  /** A 32-bit hash of the item id, to tell items apart where table rows collide. */
  readonly itemKey: number;

  constructor(readonly itemId: string, readonly itemRow: number, readonly categoryRow: number) {
    this.itemKey = hashString(`item|${itemId}`) >>> 0;
  }

  /** Units of trading day t (t within the last RING days). */
  at(t: number): number {
    return t < 0 || t < this.firstSale ? 0 : this.units[t % RING];
  }

  /** Records closed trading day t (the previous day t - 1 was recorded before). */
  record(t: number, weekday: number, demand: number, returned: number, lines: number): void {
    const prev = t > 0 ? this.units[(t - 1) % RING] : 0;
    this.units[t % RING] = demand;
    this.returns[t % RING] = returned;
    if (demand > 0 && this.firstSale < 0) this.firstSale = t;
    if (demand > 0) this.lastSale = t;
    if (this.firstSale >= 0 && t > this.firstSale) {
      const e = demand - prev;
      this.naiveSq += e * e;
      this.naiveN++;
    }
    if (this.firstSale >= 0) {
      this.weekdaySum[weekday] += demand;
      this.weekdayDays[weekday]++;
      for (let k = 0; k < DECAY.length; k++) {
        this.ewUnits[k] = DECAY[k] * this.ewUnits[k] + demand;
        this.ewLines[k] = DECAY[k] * this.ewLines[k] + lines;
        this.ewWeight[k] = DECAY[k] * this.ewWeight[k] + 1;
      }
    }
  }

  /** Days of history since the first sale, up to and including t, at most `n`. */
  span(t: number, n: number): number {
    return this.firstSale < 0 ? 0 : Math.min(n, t - this.firstSale + 1);
  }

  /** Mean demand over the last n trading days up to t (only days since the first sale). */
  mean(t: number, n: number): number {
    const k = this.span(t, n);
    if (k === 0) return 0;
    let s = 0;
    for (let j = 0; j < k; j++) s += this.units[(t - j) % RING];
    return s / k;
  }

  /**
   * The line-rate forecast of units per day: order lines per day (half-life HALF_LIVES[0]) x
   * units per line (half-life HALF_LIVES[1]). Lines per day follow the item's recent level;
   * units per line, averaged over a season, do not jump with every wholesale order (0 before
   * the first sale).
   */
  lineRate(): number {
    const lines = this.ewWeight[0] > 0 ? this.ewLines[0] / this.ewWeight[0] : 0;
    return this.ewLines[1] > 0 ? lines * (this.ewUnits[1] / this.ewLines[1]) : 0;
  }
}

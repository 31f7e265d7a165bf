// The demand kind's example source: purchase and return events in, item-day examples out.
// It aggregates the open trading day (DaySales); when an event of a later day arrives the day
// closes, and then, for every active item of this source (its event shard's items):
//  - a forecast example for origin = that day: features as of the close, targets unknown (NaN),
//    tagged with a ref. The step scores it now — the forecast of the next h = 1..H trading days
//    made BEFORE they happen — and the prequential pairing (shared/models/delayed-scores.ts)
//    keeps that score;
//  - a training example for the origin H trading days back, whose H targets are now known: the
//    same features and ref, so its score is the one made at its origin.
// The last open day of a replay never closes (it may be a half day, as 2011-12-09 is here).
import type { FlywheelEvent } from '../../events.ts';
import { hashRow } from '../../features.ts';
import { concatBatches, copyExample, emptyBatch, type Batch, type BatchShape } from '../batch.ts';
import type { ExampleSource } from '../types.ts';
import { TradingCalendar, dayOf, dayStartMs, weekdayOf } from './calendar.ts';
import type { DemandModelConfig } from './config.ts';
import { DaySales, demandOf } from './daily-sales.ts';
import { ItemHistory, RING } from './item-history.ts';
import { C, CATEGORY_ID, ITEM_ID, P, demandLayout, type DemandLayout } from './spec.ts';

const lf = Math.log1p;

export interface DemandSourceStats {
  /** Trading days closed (forecast origins). */
  daysClosed: number;
  /** Events of a day already closed (out of order): counted into the open day. */
  lateEvents: number;
  /** Events without a positive number of units: skipped. */
  badUnits: number;
  /** Units bought and returned the same day by the same customer: not demand. */
  cancelledUnits: number;
  forecasts: number;
  trainingExamples: number;
}

interface Origin {
  day: number;
  t: number;
  batch: Batch;
  items: ItemHistory[];
}

export class DemandExampleSource implements ExampleSource {
  readonly shape: BatchShape;
  // Examples come in bursts at each day's close (about 3 per event of the day on Online Retail,
  // none in between). The worker batches events by this figure: a small one would make it
  // wait for thousands of events (batchMaxWaitMs) before handing any over.
  readonly examplesPerEvent = 1;
  readonly stateByShard = true;
  readonly layout: DemandLayout;
  readonly calendar: TradingCalendar;
  readonly stats: DemandSourceStats = { daysClosed: 0, lateEvents: 0, badUnits: 0, cancelledUnits: 0, forecasts: 0, trainingExamples: 0 };
  readonly items = new Map<string, ItemHistory>();
  private open: DaySales | undefined;
  /** Closed trading days so far; the next one closed gets index t. */
  private t = 0;
  /** Day number of each of the last RING trading days, by trading index mod RING. */
  private readonly dayRing = new Float64Array(RING);
  /** This source's total demand per trading day (the store as its shard sees it). */
  private readonly storeRing = new Float64Array(RING);
  private readonly storeWeekdaySum = new Float64Array(7);
  private readonly storeWeekdayDays = new Float64Array(7);
  private readonly pending: Origin[] = [];
  /** An item's category, from the first of its events that names one. */
  private readonly categories = new Map<string, string>();
  private nextRef = 0;
  private readonly next: Float64Array;
  /** Features of the current origin shared by its items: store trend, week of year (sin, cos), days to closure. */
  private readonly originFeatures = new Float64Array(4);

  constructor(private readonly cfg: DemandModelConfig) {
    this.layout = demandLayout(cfg.horizon);
    this.shape = { idWidth: 2, denseWidth: this.layout.width, targetWidth: cfg.horizon };
    this.calendar = new TradingCalendar(cfg.closures);
    this.next = new Float64Array(cfg.horizon);
  }

  /** The forecasts of the newest closed day: its day number, batch (targets NaN) and items, row by row. */
  latestForecasts(): { day: number; batch: Batch; items: readonly ItemHistory[] } | undefined {
    const o = this.pending[this.pending.length - 1];
    return o && { day: o.day, batch: o.batch, items: o.items };
  }

  /** The day being aggregated now (undefined before the first event). */
  get openDay(): DaySales | undefined {
    return this.open;
  }

  push(events: readonly FlywheelEvent[]): Batch {
    const out: Batch[] = [];
    for (const ev of events) {
      if (ev.type !== 'buy' && ev.type !== 'return') continue;
      if (ev.categoryId !== undefined && !this.categories.has(ev.itemId)) this.categories.set(ev.itemId, ev.categoryId);
      const day = dayOf(ev.ts);
      if (!this.open) this.open = new DaySales(day, this.cfg.priceField);
      else if (day > this.open.day) {
        out.push(...this.close());
        this.open = new DaySales(day, this.cfg.priceField);
      } else if (day < this.open.day) this.stats.lateEvents++;
      const before = this.open.badUnits;
      this.open.add(ev);
      this.stats.badUnits += this.open.badUnits - before;
    }
    return concatBatches(this.shape, out);
  }

  /** Closes the open day: records it, emits the day's forecasts and the now-complete examples of H days ago. */
  private close(): Batch[] {
    const sales = this.open!;
    const t = this.t++;
    const day = sales.day;
    const wd = weekdayOf(day);
    this.calendar.traded(day);
    this.dayRing[t % RING] = day;
    for (const [id] of sales.items) {
      if (!this.items.has(id)) {
        this.items.set(id, new ItemHistory(id, hashRow(id, this.cfg.buckets), hashRow(this.categories.get(id) ?? '', this.cfg.buckets)));
      }
    }
    let store = 0;
    for (const h of this.items.values()) {
      const d = sales.items.get(h.itemId);
      const demand = d ? demandOf(d) : 0;
      if (d) {
        this.stats.cancelledUnits += d.cancelled;
        if (d.pricedUnits > 0) h.price = d.revenue / d.pricedUnits;
      }
      h.record(t, wd, demand, d ? d.returned - d.cancelled : 0, d ? d.lines : 0);
      store += demand;
    }
    this.storeRing[t % RING] = store;
    this.storeWeekdaySum[wd] += store;
    this.storeWeekdayDays[wd]++;
    this.stats.daysClosed++;
    const out: Batch[] = [];
    // Training examples first: the origin H trading days back has all its targets now.
    const H = this.cfg.horizon;
    while (this.pending.length && this.pending[0].t <= t - H) {
      const o = this.pending.shift()!;
      if (o.t === t - H) out.push(this.complete(o));
    }
    const f = this.forecasts(t, day);
    if (f.batch.size) {
      this.pending.push(f);
      out.push(f.batch);
    }
    return out;
  }

  /** The origin's examples with their targets filled in from the histories. */
  private complete(o: Origin): Batch {
    const H = this.cfg.horizon;
    const b = emptyBatch(this.shape, o.batch.size);
    b.refs = new Float64Array(o.batch.size);
    for (let i = 0; i < o.batch.size; i++) {
      copyExample(o.batch, i, b, i); // refs too: b has them
      for (let h = 0; h < H; h++) b.targets[i * H + h] = o.items[i].at(o.t + 1 + h);
    }
    this.stats.trainingExamples += b.size;
    return b;
  }

  private forecasts(t: number, day: number): Origin {
    const active: ItemHistory[] = [];
    for (const h of this.items.values()) if (h.lastSale >= 0 && h.lastSale > t - this.cfg.activeDays) active.push(h);
    const b = emptyBatch(this.shape, active.length);
    b.refs = new Float64Array(active.length);
    b.targets.fill(NaN);
    this.calendar.nextTradingDays(day, this.cfg.horizon, this.next);
    const closeMs = dayStartMs(day + 1) - 1;
    const storeMean = (n: number) => {
      const k = Math.min(n, t + 1);
      let s = 0;
      for (let j = 0; j < k; j++) s += this.storeRing[(t - j) % RING];
      return s / k;
    };
    // The origin's own features, the same for every item: computed once per origin.
    const year0 = dayOf(Date.UTC(new Date(dayStartMs(day)).getUTCFullYear(), 0, 1));
    const angle = (2 * Math.PI * (day - year0)) / 365.25;
    const o = this.originFeatures;
    o[0] = lf(storeMean(6)) - lf(storeMean(24));
    o[1] = Math.sin(angle);
    o[2] = Math.cos(angle);
    o[3] = Math.min(30, this.calendar.daysToClosure(day)) / 30;
    active.forEach((h, i) => {
      b.ids[i * 2 + ITEM_ID] = h.itemRow;
      b.ids[i * 2 + CATEGORY_ID] = h.categoryRow;
      this.features(h, t, day, b.dense, i * this.layout.width);
      b.eventTs[i] = closeMs;
      b.refs![i] = this.nextRef = (this.nextRef + 1) & 0x7fffffff;
    });
    this.stats.forecasts += active.length;
    return { day, t, batch: b, items: active };
  }

  /** The store's weekday profile: mean demand on weekday w over the mean of all days (1 when unknown). */
  private storeWeekdayRatio(w: number): number {
    let s = 0, n = 0;
    for (let k = 0; k < 7; k++) { s += this.storeWeekdaySum[k]; n += this.storeWeekdayDays[k]; }
    if (n === 0 || s === 0 || this.storeWeekdayDays[w] === 0) return 1;
    return (this.storeWeekdaySum[w] / this.storeWeekdayDays[w]) / (s / n);
  }

  private features(h: ItemHistory, t: number, day: number, x: Float32Array, off: number): void {
    const L = this.layout;
    const H = this.cfg.horizon;
    const ma6 = h.mean(t, 6);
    const ma24 = h.mean(t, 24);
    const lineRate = h.lineRate();
    const n24 = h.span(t, 24);
    let returns = 0, zeros = 0;
    for (let j = 0; j < n24; j++) {
      returns += h.returns[(t - j) % RING];
      if (h.units[(t - j) % RING] === 0) zeros++;
    }
    // In the order of COMMON_FEATURES, written straight into the row (no array per example).
    const o = this.originFeatures;
    let c = off + L.common;
    x[c++] = lf(h.at(t)); x[c++] = lf(h.at(t - 1)); x[c++] = lf(h.at(t - 5)); x[c++] = lf(h.at(t - 11)); x[c++] = lf(h.at(t - 23));
    x[c++] = lf(ma6); x[c++] = lf(ma24); x[c++] = lf(n24 ? returns / n24 : 0);
    x[c++] = Number.isFinite(h.price) ? lf(h.price) : 0; x[c++] = n24 ? zeros / n24 : 1; x[c++] = lf(t - h.firstSale) / 4;
    x[c++] = o[0]; x[c++] = o[1]; x[c++] = o[2]; x[c++] = o[3]; x[c++] = 1;
    if (c !== off + L.common + C) throw new Error('demand features out of step with COMMON_FEATURES');
    // The item's units per day since its first sale, for its weekday profile.
    let sum = 0, days = 0;
    for (let w = 0; w < 7; w++) { sum += h.weekdaySum[w]; days += h.weekdayDays[w]; }
    const m = days ? sum / days : 0;
    for (let k = 0; k < H; k++) {
      const target = this.next[k];
      const w = weekdayOf(target);
      // Seasonal naive: the last trading day of the same weekday (closed days skipped).
      let seasonal = ma24;
      for (let j = 0; j < RING && t - j >= Math.max(0, h.firstSale); j++) {
        if (weekdayOf(this.dayRing[(t - j) % RING]) === w) { seasonal = h.units[(t - j) % RING]; break; }
      }
      // Weekday profile shrunk to the store's by 5 pseudo-days.
      const sw = this.storeWeekdayRatio(w);
      const ratio = m > 0 ? (h.weekdaySum[w] + 5 * m * sw) / ((h.weekdayDays[w] + 5) * m) : sw;
      const base = off + L.perH + k * P;
      x[base] = lf(seasonal);
      x[base + 1] = Math.max(-3, Math.min(3, Math.log(Math.max(ratio, 1e-3))));
      x[base + 2] = lf(ma24 * ratio);
      for (let d = 0; d < 7; d++) x[base + 3 + d] = d === w ? 1 : 0;
      x[off + L.seasonal + k] = seasonal;
      x[off + L.ma24xWeekday + k] = ma24 * ratio;
      // Half the weekday profile in log space: the item's profile is noisy, and on both
      // evaluation windows (from 2011-07-03 and 2011-10-02) the line rate x sqrt(ratio) scored
      // better than x ratio (WRMSSE 1.481 / 1.397 vs 1.485 / 1.407) with the store WAPE alike.
      x[off + L.lineWeekday + k] = lineRate * Math.sqrt(ratio);
    }
    x[off + L.lag1] = h.at(t);
    x[off + L.ma6] = ma6;
    x[off + L.ma24] = ma24;
    x[off + L.scale] = h.naiveN > 0 ? h.naiveSq / h.naiveN : NaN;
    x[off + L.price] = Number.isFinite(h.price) ? h.price : 0;
    x[off + L.originDay] = day;
    x[off + L.itemKeyHi] = h.itemKey >>> 16;
    x[off + L.itemKeyLo] = h.itemKey & 0xffff;
    x[off + L.lineRate] = lineRate;
  }
}

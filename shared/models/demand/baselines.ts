// The yardsticks of the demand kind, each a forecast from the item's own history as of the
// origin (the figures the source wrote beside the model's features), scored by the same
// metric on the same forecasts: zero, the last day, the seasonal naive (the last trading day
// of the target's weekday), moving averages over 6 and 24 trading days, MA24 x the item's
// weekday profile (shrunk to the store's), and the line rate (order lines per day x units per
// line, item-history.ts) alone and x the square root of that profile — the model's offset, so
// the report shows what learning adds to it. None learns anything the source does not keep.
import type { Batch } from '../batch.ts';
import type { Baseline } from '../types.ts';
import { demandLayout } from './spec.ts';

class HistoryForecast implements Baseline {
  constructor(readonly name: string, private readonly at: (L: ReturnType<typeof demandLayout>, h: number) => number | undefined) {}

  predict(b: Batch): Float32Array {
    const H = b.targetWidth;
    const L = demandLayout(H);
    const D = b.denseWidth;
    const out = new Float32Array(b.size * H);
    for (let h = 0; h < H; h++) {
      const col = this.at(L, h);
      if (col === undefined) continue;
      for (let i = 0; i < b.size; i++) out[i * H + h] = b.dense[i * D + col];
    }
    return out;
  }

  learn(): void {}
}

export function demandBaselines(): Baseline[] {
  return [
    new HistoryForecast('zero', () => undefined),
    new HistoryForecast('last-day', (L) => L.lag1),
    new HistoryForecast('seasonal-naive', (L, h) => L.seasonal + h),
    new HistoryForecast('ma6', (L) => L.ma6),
    new HistoryForecast('ma24', (L) => L.ma24),
    new HistoryForecast('ma24-weekday', (L, h) => L.ma24xWeekday + h),
    new HistoryForecast('line-rate', (L) => L.lineRate),
    new HistoryForecast('line-weekday', (L, h) => L.lineWeekday + h),
  ];
}

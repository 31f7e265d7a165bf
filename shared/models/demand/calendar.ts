// Trading days: which dates the shop trades on, learned from the stream (a weekday that has
// not traded for two weeks is closed, e.g. Saturdays here) plus closures the shop announces
// (a Christmas break), so a forecast made at a day's close can date the next h trading days.
const DAY_MS = 86_400_000;

/** UTC day number of an event time (days since 1970-01-01). */
export const dayOf = (tsMs: number): number => Math.floor(tsMs / DAY_MS);
/** 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday). */
export const weekdayOf = (day: number): number => (((day + 4) % 7) + 7) % 7;
export const dayStartMs = (day: number): number => day * DAY_MS;

function parseIsoDay(s: string): number {
  const [y, m, d] = s.split('-').map(Number);
  return dayOf(Date.UTC(y, m - 1, d));
}

export class TradingCalendar {
  /** [first, last] closed day numbers, sorted by first. */
  private readonly closures: [number, number][];
  /** Per weekday, the last day number it traded (-Infinity: not yet). */
  private readonly lastTraded = new Float64Array(7).fill(-Infinity);
  private firstDay = NaN;
  private lastDay = NaN;

  constructor(closures: readonly (readonly [string, string])[] = []) {
    this.closures = closures.map(([a, b]) => [parseIsoDay(a), parseIsoDay(b)] as [number, number]).sort((x, y) => x[0] - y[0]);
  }

  /** A day that traded (had sales) and closed. */
  traded(day: number): void {
    if (Number.isNaN(this.firstDay)) this.firstDay = day;
    this.lastDay = day;
    this.lastTraded[weekdayOf(day)] = day;
  }

  isClosure(day: number): boolean {
    for (const [a, b] of this.closures) if (day >= a && day <= b) return true;
    return false;
  }

  /** Whether the shop trades on `day`'s weekday: unknown (true) until two weeks of the stream have passed without it. */
  tradesOnWeekday(weekday: number): boolean {
    if (Number.isNaN(this.lastDay) || this.lastDay - this.firstDay < 14) return true;
    return this.lastDay - this.lastTraded[weekday] < 14;
  }

  /** The next `h` trading days after `day`, as day numbers, into out[0..h). */
  nextTradingDays(day: number, h: number, out: Float64Array): void {
    let d = day;
    for (let k = 0; k < h; k++) {
      // At most a few weeks of closures in a row; a week without any trading weekday cannot happen
      // (the weekday of the last trading day always trades).
      for (let guard = 0; guard < 400; guard++) {
        d++;
        if (this.tradesOnWeekday(weekdayOf(d)) && !this.isClosure(d)) break;
      }
      out[k] = d;
    }
  }

  /** Calendar days from `day` to the start of the next announced closure (Infinity: none). */
  daysToClosure(day: number): number {
    for (const [a] of this.closures) if (a > day) return a - day;
    return Infinity;
  }
}

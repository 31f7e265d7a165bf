// The demand kind on streams small enough to check by hand: the trading calendar, same-day
// cancellations, what a forecast example holds and when its targets arrive (and that nothing
// after the origin leaks into it), the metric's figures, the baselines' columns, the pairing
// of delayed scores, and the model's gradients against finite differences.
import t from 'tap';
import type { FlywheelEvent } from '../../events.ts';
import { MapWeights } from '../../../test/helpers/map-weights.ts';
import type { Batch } from '../batch.ts';
import { DelayedScores } from '../delayed-scores.ts';
import { demandBaselines } from './baselines.ts';
import { TradingCalendar, dayOf, weekdayOf } from './calendar.ts';
import { demandConfigSchema } from './config.ts';
import { DaySales, demandOf } from './daily-sales.ts';
import { DemandExampleSource } from './examples.ts';
import { DemandMetric } from './metric.ts';
import { DemandModel } from './model.ts';
import { COMMON_FEATURES, demandLayout, demandParamSpec } from './spec.ts';

const day = (iso: string) => dayOf(Date.parse(`${iso}T00:00:00Z`));
const at = (iso: string, hh = 10) => Date.parse(`${iso}T${String(hh).padStart(2, '0')}:00:00Z`);
const buy = (item: string, units: number, ts: number, user = 'u1', price = '2'): FlywheelEvent =>
  ({ userId: user, itemId: item, type: 'buy', ts, value: units, context: { price } });
const ret = (item: string, units: number, ts: number, user = 'u1'): FlywheelEvent => ({ userId: user, itemId: item, type: 'return', ts, value: units });

/** ISO dates from `from` for `n` calendar days, skipping Saturdays. */
function tradingDates(from: string, n: number): string[] {
  const out: string[] = [];
  for (let d = day(from); out.length < n; d++) if (weekdayOf(d) !== 6) out.push(new Date(d * 86_400_000).toISOString().slice(0, 10));
  return out;
}

t.test('calendar: a weekday without trading for two weeks is closed; announced closures are skipped', (t) => {
  const cal = new TradingCalendar([['2011-04-22', '2011-04-25']]);
  for (const d of tradingDates('2011-03-01', 20)) cal.traded(day(d));
  t.notOk(cal.tradesOnWeekday(6), 'Saturday learnt as closed');
  t.ok(cal.tradesOnWeekday(5), 'Friday trades');
  const next = new Float64Array(3);
  cal.nextTradingDays(day('2011-04-21'), 3, next); // a Thursday before Easter
  t.same([...next].map((d) => new Date(d * 86_400_000).toISOString().slice(0, 10)), ['2011-04-26', '2011-04-27', '2011-04-28'],
    'Good Friday to Easter Monday and the Saturday skipped');
  t.equal(cal.daysToClosure(day('2011-04-20')), 2);
  t.equal(cal.daysToClosure(day('2011-04-26')), Infinity);
  const fresh = new TradingCalendar();
  fresh.traded(day('2011-03-01'));
  t.ok(fresh.tradesOnWeekday(6), 'too early to tell: every weekday may trade');
  t.end();
});

t.test('a day\'s sales: a purchase returned the same day by the same customer is not demand', (t) => {
  const s = new DaySales(day('2011-01-18'), 'price');
  const ts = at('2011-01-18');
  s.add(buy('23166', 74215, ts, 'c12346', '1.04'));
  s.add(buy('23166', 12, ts, 'c2'));
  s.add(ret('23166', -74215, ts + 60_000, 'c12346')); // written as negative units, as cancellation rows are
  s.add(ret('23166', 5, ts, 'c3')); // another customer's return of an earlier purchase
  s.add(buy('23166', 0, ts));
  s.add({ ...buy('X', 1, ts), value: Number.NaN });
  const d = s.items.get('23166')!;
  t.equal(d.bought, 74227, 'gross units bought (what an accounting aggregate shows)');
  t.equal(d.returned, 74220, 'every return');
  t.equal(d.cancelled, 74215, 'only the same customer\'s same-day return cancels');
  t.equal(demandOf(d), 12, 'demand = bought - cancelled');
  t.equal(s.badUnits, 2, 'zero and NaN units counted, not learnt');
  t.ok(Math.abs(d.revenue - (74215 * 1.04 + 12 * 2)) < 1e-6, 'revenue of the priced purchases');
  t.end();
});

const settings = (o: Record<string, unknown> = {}) => demandConfigSchema.parse({ horizon: 3, activeDays: 5, ...o });

/** Feeds one event per (date, units) of item A, then an event of `closeWith` to close the last day. */
function feed(src: DemandExampleSource, dates: string[], units: number[], closeWith?: string): Batch[] {
  const out: Batch[] = [];
  dates.forEach((d, i) => {
    const b = src.push(units[i] > 0 ? [buy('A', units[i], at(d)), buy('B', 1, at(d, 11))] : [buy('B', 1, at(d, 11))]);
    if (b.size) out.push(b);
  });
  if (closeWith) { const b = src.push([buy('B', 1, at(closeWith))]); if (b.size) out.push(b); }
  return out;
}

t.test('examples: a forecast at each close (targets unknown), the same example with its targets H trading days later', (t) => {
  const cfg = settings();
  const L = demandLayout(3);
  const src = new DemandExampleSource(cfg);
  const dates = tradingDates('2011-03-01', 12);
  const units = [5, 0, 3, 8, 1, 2, 7, 4, 6, 9, 2, 5];
  const batches = feed(src, dates, units);
  t.equal(src.stats.daysClosed, 11, 'the last day stays open (it may be a half day)');
  const rows: { ref: number; origin: number; targets: number[]; lag1: number; ma6: number }[] = [];
  for (const b of batches) {
    for (let i = 0; i < b.size; i++) {
      if (b.ids[i * 2] !== src.items.get('A')!.itemRow) continue;
      rows.push({
        ref: b.refs![i], origin: b.dense[i * L.width + L.originDay], targets: [...b.targets.subarray(i * 3, i * 3 + 3)],
        lag1: b.dense[i * L.width + L.lag1], ma6: b.dense[i * L.width + L.ma6],
      });
    }
  }
  const forecasts = rows.filter((r) => Number.isNaN(r.targets[0]));
  const trained = rows.filter((r) => !Number.isNaN(r.targets[0]));
  t.equal(forecasts.length, 11, 'one forecast per closed day');
  t.equal(trained.length, 11 - 3, 'the origins whose 3 next trading days have closed');
  for (const r of trained) {
    const k = dates.indexOf(new Date(r.origin * 86_400_000).toISOString().slice(0, 10));
    t.same(r.targets, units.slice(k + 1, k + 4), `origin ${dates[k]}: targets are the next three trading days`);
    const f = forecasts.find((x) => x.ref === r.ref)!;
    t.ok(f && f.origin === r.origin && f.lag1 === r.lag1, 'the same example (same ref) as the forecast made at the origin');
  }
  const first = forecasts[3]; // origin dates[3]
  t.equal(first.lag1, 8, 'lag1 = the origin day\'s units');
  t.equal(first.ma6, (5 + 0 + 3 + 8) / 4, 'MA over the days since the first sale (4 so far)');
  t.equal(src.push([]).size, 0, 'nothing without events');
  t.end();
});

t.test('examples: a forecast uses nothing after its origin (two streams that differ only later give the same forecast)', (t) => {
  const dates = tradingDates('2011-03-01', 14);
  const a = [4, 1, 0, 6, 2, 3, 5, 1, 2, 3, 4, 5, 6, 7];
  const b = [...a.slice(0, 8), 90, 0, 50, 0, 80, 0];
  const rowsOf = (units: number[]) => {
    const src = new DemandExampleSource(settings());
    const out: Batch[] = feed(src, dates, units, '2011-03-20');
    return { src, out };
  };
  const x = rowsOf(a), y = rowsOf(b);
  const originOf = (bb: Batch, i: number) => bb.dense[i * bb.denseWidth + demandLayout(3).originDay];
  const cut = day(dates[7]);
  const forecastsUpTo = (r: { out: Batch[] }) => r.out.flatMap((bb) => [...Array(bb.size).keys()]
    .filter((i) => Number.isNaN(bb.targets[i * 3]) && originOf(bb, i) <= cut)
    .map((i) => [...bb.ids.subarray(i * 2, i * 2 + 2), ...bb.dense.subarray(i * bb.denseWidth, (i + 1) * bb.denseWidth)]));
  t.same(forecastsUpTo(x), forecastsUpTo(y), 'every forecast example up to the cut is identical');
  t.ok(forecastsUpTo(x).length > 0);
  t.end();
});

t.test('examples: an item stops being forecast after activeDays without a sale; returns are a feature', (t) => {
  const src = new DemandExampleSource(settings({ activeDays: 2 }));
  const dates = tradingDates('2011-03-01', 6);
  const out = feed(src, dates, [3, 0, 0, 0, 0, 0]);
  const aRow = src.items.get('A')!.itemRow;
  const forecastsOfA = out.reduce((n, b) => n + [...Array(b.size).keys()].filter((i) => b.ids[i * 2] === aRow && Number.isNaN(b.targets[i * 3])).length, 0);
  t.equal(forecastsOfA, 2, 'forecast on the day it sold and the next, then not');
  const r = new DemandExampleSource(settings());
  r.push([buy('A', 10, at(dates[0]), 'c1'), ret('A', 4, at(dates[0]), 'c9')]);
  const b = r.push([buy('A', 1, at(dates[1]))]);
  const L = demandLayout(3);
  const returns = b.dense[L.common + COMMON_FEATURES.indexOf('returns24')];
  t.ok(Math.abs(returns - Math.log1p(4)) < 1e-6, 'another customer\'s return counts as returns, and demand stays 10');
  t.equal(b.dense[L.lag1], 10);
  t.end();
});

/** A batch of n examples of horizon H with the given targets, scale, price, origin and item row. */
function metricBatch(H: number, rows: { item: number; targets: number[]; scale: number; price: number; origin: number }[]): Batch {
  const L = demandLayout(H);
  const b: Batch = {
    size: rows.length, idWidth: 2, denseWidth: L.width, targetWidth: H, ids: new Int32Array(rows.length * 2),
    dense: new Float32Array(rows.length * L.width), targets: new Float32Array(rows.length * H), eventTs: new Float64Array(rows.length),
  };
  rows.forEach((r, i) => {
    b.ids[i * 2] = r.item;
    b.dense[i * L.width + L.itemKeyLo] = r.item;
    b.targets.set(r.targets, i * H);
    b.dense[i * L.width + L.scale] = r.scale;
    b.dense[i * L.width + L.price] = r.price;
    b.dense[i * L.width + L.originDay] = r.origin;
  });
  return b;
}

t.test('metric: WAPE, RMSSE, revenue-weighted WRMSSE and store WAPE, worked by hand; merging states adds up', (t) => {
  const b = metricBatch(2, [
    { item: 1, targets: [4, 2], scale: 4, price: 1, origin: 100 },
    { item: 2, targets: [0, 6], scale: 1, price: 3, origin: 100 },
    { item: 1, targets: [2, 2], scale: 4, price: 1, origin: 101 },
    { item: 3, targets: [NaN, NaN], scale: 1, price: 1, origin: 101 }, // a forecast not yet due: skipped
  ]);
  const p = Float32Array.from([2, 2, 1, 3, 2, 4, 99, 99]);
  const m = new DemandMetric();
  m.add(p, b, 0, 4);
  const f = m.figures();
  t.equal(m.count, 3);
  t.ok(Math.abs(f.wape1 - (2 + 1 + 0) / 6) < 1e-9, 'WAPE h=1: (|2-4| + |1-0| + |2-2|) / (4 + 0 + 2)');
  t.ok(Math.abs(f.wapeH - (0 + 3 + 2) / 10) < 1e-9, 'WAPE h=H');
  // RMSSE h=1: item 1 sqrt(((2-4)^2 + 0) / 2 / 4) = 0.7071; item 2 sqrt(1 / 1) = 1.
  // Revenue of the h=1 days: item 1 (4 + 2) x 1 = 6, item 2 0 x 3 = 0: item 2 weighs nothing.
  t.ok(Math.abs(f.wrmsse1 - Math.SQRT1_2) < 1e-6, `WRMSSE h=1 ${f.wrmsse1}`);
  t.ok(Math.abs(f.rmsse1 - (Math.SQRT1_2 + 1) / 2) < 1e-6, 'unweighted mean RMSSE');
  // Store totals: origin 100 forecast 3 vs actual 4, origin 101 forecast 2 vs 2: (1 + 0) / 6.
  t.ok(Math.abs(f.storeWape1 - 1 / 6) < 1e-9, 'store WAPE h=1');
  // Weeks (h = 1..2): item totals 4 vs 6, 4 vs 6, 6 vs 4 -> (2 + 2 + 2) / 16; store per origin 8 vs 12, 6 vs 4 -> (4 + 2) / 16.
  t.ok(Math.abs(f.weekWape - 6 / 16) < 1e-9, `week WAPE ${f.weekWape}`);
  t.ok(Math.abs(f.storeWeekWape - 6 / 16) < 1e-9, `store week WAPE ${f.storeWeekWape}`);
  t.same(m.counts(), { items: 2, origins: 2 });
  const collide = metricBatch(1, [{ item: 5, targets: [1], scale: 1, price: 1, origin: 1 }, { item: 6, targets: [1], scale: 1, price: 1, origin: 1 }]);
  collide.ids[2] = collide.ids[0]; // two items hashed to one table row stay two items for the metric
  const mc = new DemandMetric();
  mc.add(Float32Array.from([1, 1]), collide, 0, 2);
  t.equal(mc.counts().items, 2, 'items are told apart by their own key, not their table row');
  const a = new DemandMetric(), c = new DemandMetric();
  a.add(p, b, 0, 2);
  c.add(p, b, 2, 4);
  a.merge(c.state());
  t.same(a.figures(), f, 'two halves merged = the whole');
  t.end();
});

t.test('baselines read the history the source wrote; zero is zero', (t) => {
  const H = 2;
  const L = demandLayout(H);
  const b = metricBatch(H, [{ item: 1, targets: [1, 1], scale: 1, price: 1, origin: 1 }]);
  b.dense[L.lag1] = 7;
  b.dense[L.ma6] = 6;
  b.dense[L.ma24] = 5;
  b.dense[L.seasonal] = 3;
  b.dense[L.seasonal + 1] = 4;
  b.dense[L.ma24xWeekday] = 5.5;
  b.dense[L.ma24xWeekday + 1] = 4.5;
  const got = () => Object.fromEntries(demandBaselines().map((x) => [x.name, [...x.predict(b)]]));
  b.dense[L.lineRate] = 2;
  b.dense[L.lineWeekday] = 2.5;
  b.dense[L.lineWeekday + 1] = 1.5;
  t.same(got(), {
    zero: [0, 0], 'last-day': [7, 7], 'seasonal-naive': [3, 4], ma6: [6, 6], ma24: [5, 5], 'ma24-weekday': [5.5, 4.5], 'line-rate': [2, 2], 'line-weekday': [2.5, 1.5],
  });
  t.end();
});

t.test('delayed scores: the score made when the targets were unknown is the one that counts', (t) => {
  const d = new DelayedScores(1);
  const mk = (refs: number[], targets: number[]): Batch => ({
    size: refs.length, idWidth: 0, denseWidth: 0, targetWidth: 1, ids: new Int32Array(0), dense: new Float32Array(0),
    targets: Float32Array.from(targets), eventTs: new Float64Array(refs.length), refs: Float64Array.from(refs),
  });
  const r1 = d.pair(mk([7, 8, -1], [NaN, NaN, 1]), Float32Array.from([0.1, 0.2, 0.3]));
  t.same([...r1.counts], [0, 0, 1], 'forecasts held, an ordinary example counts');
  const r2 = d.pair(mk([8, 7, 9], [5, 6, 7]), Float32Array.from([0.9, 0.9, 0.9]));
  t.same([...r2.counts], [1, 1, 0], 'an example whose forecast this process never scored is not counted');
  t.same([...r2.predictions].map((x) => Math.round(x * 10) / 10), [0.2, 0.1, 0.9]);
  t.equal(d.unpaired, 1);
  t.equal(d.size, 0, 'paired scores are let go');
  t.end();
});

t.test('model: gradients match finite differences of the loss; unknown targets add none; bad shapes refused', (t) => {
  for (const loss of ['poisson', 'log1p'] as const) {
    const cfg = settings({ loss, buckets: 64 });
    const spec = demandParamSpec('d', 3, cfg);
    const w = new MapWeights(spec);
    const src = new DemandExampleSource(cfg);
    const dates = tradingDates('2011-03-01', 10);
    const batches = feed(src, dates, [5, 2, 0, 7, 3, 1, 4, 6, 2, 8]);
    const b = batches[batches.length - 1];
    const known = [...Array(b.size).keys()].filter((i) => !Number.isNaN(b.targets[i * 3]));
    t.ok(known.length > 0 && known.length < b.size, `${loss}: a batch with forecasts and completed examples`);
    // Non-zero weights so every term matters.
    const wc = w.row('dm.wc', 0);
    for (let j = 0; j < wc.length; j++) wc[j] = 0.01 * ((j % 7) - 3);
    const model = new DemandModel(cfg);
    const r = model.trainStep(b, w);
    const lossAt = () => model.trainStep(b, w).loss;
    const eps = 1e-3;
    for (const j of [0, 5, 17, 40]) {
      const old = wc[j];
      wc[j] = old + eps; const up = lossAt();
      wc[j] = old - eps; const down = lossAt();
      wc[j] = old;
      const numeric = (up - down) / (2 * eps);
      const g = r.sparse.get('dm.wc')!.grads[j];
      t.ok(Math.abs(numeric - g) < 1e-3 * Math.max(1, Math.abs(g)), `${loss}: d loss / d wc[${j}] ${g.toFixed(5)} vs ${numeric.toFixed(5)}`);
    }
    const onlyForecasts = { ...b, targets: b.targets.map(() => NaN) };
    const z = model.trainStep(onlyForecasts, w);
    t.ok(z.sparse.get('dm.wc')!.grads.every((x) => x === 0), `${loss}: forecasts alone move nothing`);
    t.equal(z.predictions.length, b.size * 3, 'they are still forecast');
  }
  const model = new DemandModel(settings());
  t.throws(() => model.predict({ size: 1, idWidth: 2, denseWidth: 3, targetWidth: 3, ids: new Int32Array(2), dense: new Float32Array(3), targets: new Float32Array(3), eventTs: new Float64Array(1) },
    new MapWeights(demandParamSpec('d', 1, settings()))), { message: /demand batch needs 2 ids/ }, 'a batch of another shape is refused');
  t.end();
});

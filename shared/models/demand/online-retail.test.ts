// The demand kind on the real Online Retail log (in the repo) and its traps: no Saturday
// trading, the Christmas and Easter closures, returns, the two bulk orders cancelled the same
// day, the half day at the end; and the day aggregation against the independent aggregate in
// ../shared/data (daily_item_sales.csv.gz, derived by another hand; skipped where absent).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readCsvBatches } from '../../datasets/csv.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches, parseInvoiceDate } from '../../datasets/online-retail.ts';
import { SHARED_DATA_DIR } from '../../datasets/taobao.ts';
import type { FlywheelEvent } from '../../events.ts';
import { dayOf, weekdayOf } from './calendar.ts';
import { demandConfigSchema } from './config.ts';
import { DaySales, demandOf } from './daily-sales.ts';
import { DemandExampleSource } from './examples.ts';
import { demandLayout } from './spec.ts';

const iso = (d: number) => new Date(d * 86_400_000).toISOString().slice(0, 10);
const CLOSURES: [string, string][] = [['2010-12-24', '2011-01-03'], ['2011-04-22', '2011-04-25']];

t.test('Online Retail through the demand source: calendar, closures, returns, cancelled bulk orders, the half day', async (t) => {
  const cfg = demandConfigSchema.parse({ closures: CLOSURES });
  const H = cfg.horizon;
  const L = demandLayout(H);
  const src = new DemandExampleSource(cfg);
  // Net demand per (day, item) worked out here, straight from the events, to check the targets.
  const net = new Map<string, number>();
  const origins = new Set<number>();
  let maxTarget = 0;
  let christmas: number[] | undefined;
  for await (const evs of onlineRetailEventBatches(DEMO_DATA_PATH, { returns: true })) {
    const b = src.push(evs);
    for (let i = 0; i < b.size; i++) {
      const origin = b.dense[i * L.width + L.originDay];
      origins.add(origin);
      if (Number.isNaN(b.targets[i * H])) continue;
      for (let h = 0; h < H; h++) maxTarget = Math.max(maxTarget, b.targets[i * H + h]);
      if (iso(origin) === '2010-12-23' && b.ids[i * 2] === src.items.get('85123A')?.itemRow) christmas = [...b.targets.subarray(i * H, i * H + H)];
    }
  }
  t.equal(src.stats.daysClosed, 304, '305 trading days (PROVENANCE.md), the last one never closes');
  t.equal(src.openDay?.day, dayOf(Date.UTC(2011, 11, 9)), 'the half day 2011-12-09 is still open at the end: it is no target');
  t.ok([...origins].every((d) => weekdayOf(d) !== 6), 'no origin on a Saturday');
  t.ok([...origins].every((d) => !src.calendar.isClosure(d)), 'no origin in a closure');
  t.notOk(src.calendar.tradesOnWeekday(6), 'Saturday learnt as closed');
  t.ok(maxTarget < 74_215, `no target holds a cancelled bulk order (largest ${maxTarget})`);
  t.ok(src.stats.cancelledUnits >= 74_215, 'the 2011-01-18 bulk order was cancelled the same day');
  // The forecast made at the close of 2010-12-23 is for the first six trading days after the break.
  const dates = ['2011-01-04', '2011-01-05', '2011-01-06', '2011-01-07', '2011-01-09', '2011-01-10'];
  for await (const evs of onlineRetailEventBatches(DEMO_DATA_PATH, { returns: true })) {
    for (const e of evs) {
      const k = `${iso(dayOf(e.ts))}|${e.itemId}`;
      if (e.type === 'buy') net.set(k, (net.get(k) ?? 0) + e.value!);
    }
  }
  t.ok(christmas, 'item 85123A was forecast at the close of 2010-12-23');
  t.same(christmas, dates.map((d) => net.get(`${d}|85123A`) ?? 0), 'its targets: units on 4-10 January (no cancellations of it then)');
});

const AGGREGATE = join(SHARED_DATA_DIR, 'online-retail', 'daily_item_sales.csv.gz');
t.test('the day aggregation against the independent daily_item_sales.csv.gz (every row, customers or not)', {
  skip: existsSync(AGGREGATE) ? false : `no ${AGGREGATE} (set FLYWHEEL_DATA_DIR)`,
}, async (t) => {
  // Every row with the aggregate's rules: sales are non-C rows with Quantity > 0 and
  // UnitPrice > 0; returns are C rows. Rows without a customer count too (as one customer).
  const days = new Map<number, DaySales>();
  let header: string[] | undefined;
  for await (const rows of readCsvBatches(DEMO_DATA_PATH, { header: true, onHeader: (h) => { header = h; } })) {
    const c = (n: string) => header!.indexOf(n);
    const [inv, code, qty, date, price, cust] = ['InvoiceNo', 'StockCode', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID'].map(c);
    for (const r of rows) {
      const q = Number(r[qty]);
      const p = Number(r[price]);
      const cancelled = r[inv].startsWith('C');
      if (!cancelled && !(q > 0 && p > 0)) continue;
      const ts = parseInvoiceDate(r[date]);
      const d = dayOf(ts);
      let s = days.get(d);
      if (!s) days.set(d, (s = new DaySales(d, 'price')));
      const ev: FlywheelEvent = { userId: r[cust] || 'no-customer', itemId: r[code], type: cancelled ? 'return' : 'buy', ts, value: q, context: { price: r[price] } };
      s.add(ev);
    }
  }
  let compared = 0, mismatched = 0, firstBad = '';
  const seen = new Set<string>();
  for await (const rows of readCsvBatches(AGGREGATE, { header: true })) {
    for (const [date, item, sold, returned] of rows) {
      const d = days.get(dayOf(Date.parse(`${date}T00:00:00Z`)))?.items.get(item);
      compared++;
      seen.add(`${date}|${item}`);
      if (!d || d.bought !== Number(sold) || d.returned !== Number(returned)) {
        mismatched++;
        if (!firstBad) firstBad = `${date} ${item}: aggregate ${sold}/${returned}, ours ${d?.bought}/${d?.returned}`;
      }
    }
  }
  t.equal(compared, 278_858, 'every row of the aggregate (PROVENANCE.md)');
  t.equal(mismatched, 0, `units sold and returned per (date, item) agree${firstBad ? `; first: ${firstBad}` : ''}`);
  let ours = 0;
  for (const [d, s] of days) for (const [item, x] of s.items) if (x.bought || x.returned) { ours++; if (!seen.has(`${iso(d)}|${item}`)) mismatched++; }
  t.equal(ours, 278_858, 'and no (date, item) of ours that the aggregate lacks');
  const jan18 = days.get(dayOf(Date.UTC(2011, 0, 18)))!.items.get('23166')!;
  t.equal(jan18.cancelled, 74_215, '2011-01-18: the bulk order of 23166 cancelled the same day');
  t.equal(demandOf(jan18), jan18.bought - 74_215);
  const dec9 = days.get(dayOf(Date.UTC(2011, 11, 9)))!.items.get('23843')!;
  t.equal(dec9.cancelled, 80_995, '2011-12-09: the bulk order of 23843 likewise');
});

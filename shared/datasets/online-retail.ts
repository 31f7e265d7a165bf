// UCI Online Retail (Chen, 2015) as a stream of purchase events: the demo's own data, shipped
// in the repo (CC0, see data/online-retail/ATTRIBUTION.md). Rows are in file order, which is
// non-decreasing by InvoiceDate, so the events come out in time order without sorting.
import { fileURLToPath } from 'node:url';
import { validateEvent, type FlywheelEvent } from '../events.ts';
import { columnIndex, countDrop, newLoadStats, readCsvBatches, type LoadStats } from './csv.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEMO_DATA_PATH = fileURLToPath(new URL('../../data/online-retail/online_retail.csv.gz', import.meta.url));

export interface OnlineRetailOptions {
  /** Stop after this many events. */
  limit?: number;
  /** Filled as the file is read: see ONLINE_RETAIL_DROP_REASONS. */
  stats?: LoadStats;
  /**
   * Cancellation rows (InvoiceNo C...) become 'return' events of their units (value > 0)
   * instead of being dropped: a sales model must net them out (two bulk orders were cancelled
   * the same day). Models of interest (CTR) ignore returns. Default false.
   */
  returns?: boolean;
}

/**
 * Why a row is not an event. A row counts under the first reason that applies, in this order,
 * so the counts add up to rowsRead - kept.
 */
export const ONLINE_RETAIL_DROP_REASONS = [
  'malformed', // wrong number of fields, or an unparseable date or number
  'cancellation', // InvoiceNo starts with C: a return, not a purchase (kept as a 'return' with opts.returns)
  'noCustomer', // CustomerID empty: no user to learn about
  'nonPositiveQuantity',
  'nonPositivePrice', // free samples, bad-debt adjustments and data fixes, not sales
  'invalid', // validateEvent refused it (e.g. an id over the length limit)
] as const;

const COLUMNS = ['InvoiceNo', 'StockCode', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country'] as const;
const DATE_RE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)$/;

/**
 * 'YYYY-MM-DD HH:MM:SS' as epoch ms. The source spreadsheet had no zone; we read it as UTC so
 * the result does not depend on the machine's TZ (the shop is in the UK, so it is off by at
 * most the summer-time hour). NaN if it does not parse.
 */
export function parseInvoiceDate(s: string): number {
  const m = DATE_RE.exec(s);
  if (m === null) return NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  // Date.UTC rolls 2011-02-30 over to March; a rolled date means a corrupt row.
  return new Date(ms).getUTCDate() === +m[3] ? ms : NaN;
}

/** Number() reads '' and ' ' as 0; an empty cell is missing, not zero. */
function num(s: string): number {
  return s.trim() === '' ? NaN : Number(s);
}

/** The events one at a time. */
export async function* onlineRetailEvents(
  path: string = DEMO_DATA_PATH,
  opts: OnlineRetailOptions = {},
): AsyncGenerator<FlywheelEvent> {
  for await (const batch of onlineRetailEventBatches(path, opts)) for (const ev of batch) yield ev;
}

/**
 * The events in arrays of up to a few hundred, in order. Each await costs far more than a row
 * (several times more under async hooks, as in tap), so bulk readers should take batches.
 */
export async function* onlineRetailEventBatches(
  path: string = DEMO_DATA_PATH,
  opts: OnlineRetailOptions = {},
): AsyncGenerator<FlywheelEvent[]> {
  const stats = opts.stats ?? newLoadStats();
  const limit = opts.limit ?? Infinity;
  const returns = opts.returns === true;
  if (limit <= 0) return;
  let col: Record<(typeof COLUMNS)[number], number> | undefined;
  let width = 0;
  const onHeader = (h: string[]): void => {
    col = columnIndex(h, COLUMNS, path);
    width = h.length;
  };
  const nowMs = Date.now();
  // Consecutive rows mostly share an invoice, hence a date: parse each distinct string once.
  let lastDate = '';
  let lastTs = NaN;
  let yielded = 0;
  for await (const rows of readCsvBatches(path, { header: true, onHeader })) {
    const c = col!;
    const out: FlywheelEvent[] = [];
    for (const r of rows) {
      stats.rowsRead++;
      if (r.length !== width) {
        countDrop(stats, 'malformed');
        continue;
      }
      const dateStr = r[c.InvoiceDate];
      if (dateStr !== lastDate) {
        lastDate = dateStr;
        lastTs = parseInvoiceDate(dateStr);
      }
      const quantity = num(r[c.Quantity]);
      const price = num(r[c.UnitPrice]);
      if (Number.isNaN(lastTs) || Number.isNaN(quantity) || Number.isNaN(price)) {
        countDrop(stats, 'malformed');
        continue;
      }
      const cancelled = r[c.InvoiceNo].startsWith('C');
      const isReturn = cancelled && returns;
      const reason = cancelled && !returns
        ? 'cancellation'
        : r[c.CustomerID] === ''
          ? 'noCustomer'
          : (isReturn ? quantity >= 0 : quantity <= 0)
            ? 'nonPositiveQuantity'
            : price <= 0
              ? 'nonPositivePrice'
              : undefined;
      if (reason !== undefined) {
        countDrop(stats, reason);
        continue;
      }
      let ev: FlywheelEvent;
      try {
        // Checked here, not assumed: a replay must never feed ingest an event it would refuse.
        ev = validateEvent(
          {
            userId: r[c.CustomerID],
            itemId: r[c.StockCode],
            type: isReturn ? 'return' : 'buy',
            ts: lastTs,
            value: Math.abs(quantity),
            // The unit price (GBP) as written: sales models read it, CTR's fields do not name it.
            context: { country: r[c.Country], price: r[c.UnitPrice] },
          },
          nowMs,
        );
      } catch {
        countDrop(stats, 'invalid');
        continue;
      }
      stats.kept++;
      out.push(ev);
      if (++yielded >= limit) break;
    }
    if (out.length > 0) yield out;
    if (yielded >= limit) return;
  }
}

/** Reads the whole file for its counters alone. */
export async function onlineRetailStats(path: string = DEMO_DATA_PATH): Promise<LoadStats> {
  const stats = newLoadStats();
  for await (const _ of onlineRetailEventBatches(path, { stats })) {
    // counting only
  }
  return stats;
}

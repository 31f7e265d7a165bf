// One trading day's sales, as the events arrive: units bought and returned per item, with
// returns matched to the same customer's purchases of the same item that day. A purchase
// returned the same day was cancelled, not demand (Online Retail has two bulk orders of
// 74,215 and 80,995 units cancelled minutes later); a return of an earlier day's purchase is
// a return, kept as a feature, and the day's demand stays what was bought.
import type { FlywheelEvent } from '../../events.ts';

export interface ItemDay {
  /** Units bought (every purchase, the gross figure an accounting aggregate shows). */
  bought: number;
  /** Units returned (every return event). */
  returned: number;
  /** Of `bought`, units the same customer returned the same day. */
  cancelled: number;
  /** Sum of units x unit price of the purchases with a price. */
  revenue: number;
  /** Units of the purchases with a price. */
  pricedUnits: number;
  /**
   * Purchase events (order lines). Demand = lines x units per line, and the two are very
   * differently noisy here: the number of lines is steady, units per line are wholesale-spiky.
   */
  lines: number;
}

/** What a closed day holds per item. Demand = bought - cancelled. */
export class DaySales {
  readonly items = new Map<string, ItemDay>();
  /** Units bought per item and customer today, for matching same-day returns. */
  private readonly byCustomer = new Map<string, number>();
  /** Events with a value that is not a positive finite number of units (counted, skipped). */
  badUnits = 0;

  constructor(readonly day: number, private readonly priceField: string) {}

  private item(id: string): ItemDay {
    let d = this.items.get(id);
    if (!d) this.items.set(id, (d = { bought: 0, returned: 0, cancelled: 0, revenue: 0, pricedUnits: 0, lines: 0 }));
    return d;
  }

  add(ev: FlywheelEvent): void {
    // A return may be written as negative units (a cancellation row): its size is what counts.
    const units = ev.type === 'return' && ev.value !== undefined ? Math.abs(ev.value) : ev.value;
    if (units === undefined || !(units > 0) || !Number.isFinite(units)) {
      this.badUnits++;
      return;
    }
    const key = `${ev.itemId}\u0000${ev.userId}`;
    const d = this.item(ev.itemId);
    if (ev.type === 'buy') {
      d.bought += units;
      d.lines++;
      this.byCustomer.set(key, (this.byCustomer.get(key) ?? 0) + units);
      const price = Number(ev.context?.[this.priceField]);
      if (price > 0 && Number.isFinite(price)) {
        d.revenue += units * price;
        d.pricedUnits += units;
      }
    } else if (ev.type === 'return') {
      d.returned += units;
      const open = this.byCustomer.get(key) ?? 0;
      const c = Math.min(open, units);
      if (c > 0) {
        d.cancelled += c;
        this.byCustomer.set(key, open - c);
      }
    }
  }
}

/** Net demand of an item-day: what was bought and not cancelled the same day. */
export const demandOf = (d: ItemDay): number => d.bought - d.cancelled;

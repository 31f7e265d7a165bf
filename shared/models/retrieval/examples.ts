// The retrieval kind's example source: a user's interactions in, one example per (user, item)
// out, each carrying the user's recent items as they were BEFORE its basket, so that the
// prequential test ranks the catalogue with what was known then.
//
// A basket (basketBy 'timestamp') is the distinct items a user took at one event time: an
// invoice's lines, ratings given in the same second. Events reach an event shard in time order,
// so a basket is complete as soon as the shard sees a later event time; it is emitted then
// (or at flush). The user's history follows the event shard (stateByShard): a worker that takes
// a shard rebuilds it from the log.
import type { FlywheelEvent } from '../../events.ts';
import { hashRow } from '../../features.ts';
import { BatchBuilder } from '../batch-builder.ts';
import type { Batch, BatchShape } from '../batch.ts';
import type { ExampleSource } from '../types.ts';
import type { RetrievalModelConfig } from './config.ts';
import { FrequencyEstimator } from './frequency.ts';
import { ID_HISTORY, ID_ITEM, ID_USER, retrievalShape } from './spec.ts';
import { UserHistory } from './user-history.ts';

interface OpenBasket {
  ts: number;
  rows: number[];
}

export class RetrievalExampleSource implements ExampleSource {
  readonly shape: BatchShape;
  readonly examplesPerEvent = 1;
  readonly stateByShard = true;
  readonly history: UserHistory;
  readonly frequency: FrequencyEstimator;
  private readonly interactions: Set<string>;
  private readonly out: BatchBuilder;
  /** Baskets at the newest event time seen, by user, in order of their first event. */
  private open = new Map<string, OpenBasket>();
  private newestTs = -Infinity;
  private readonly stats = { interactions: 0, notInteractions: 0, belowMinValue: 0, baskets: 0, scored: 0, outOfOrder: 0 };

  constructor(private readonly cfg: RetrievalModelConfig) {
    this.shape = retrievalShape(cfg);
    this.history = new UserHistory(cfg.history, cfg.maxUsers, cfg.newItemsOnly);
    this.frequency = new FrequencyEstimator(cfg.itemBuckets, cfg.frequencyAlpha);
    this.interactions = new Set(cfg.interactions);
    this.out = new BatchBuilder(this.shape, false, 256);
  }

  push(events: readonly FlywheelEvent[]): Batch {
    for (const ev of events) this.take(ev);
    return this.out.take();
  }

  flush(): Batch {
    this.closeOpen();
    return this.out.take();
  }

  counters(): Record<string, number> {
    return { ...this.stats, users: this.history.size, usersForgotten: this.history.forgotten };
  }

  /** A forgotten user: their history and open basket go. */
  forgetUser(userId: string): void {
    this.history.delete(userId);
    this.open.delete(userId);
  }

  private take(ev: FlywheelEvent): void {
    if (!this.interactions.has(ev.type)) { this.stats.notInteractions++; return; }
    if (this.cfg.minValue !== undefined && !((ev.value ?? NaN) >= this.cfg.minValue)) { this.stats.belowMinValue++; return; }
    this.stats.interactions++;
    const row = hashRow(ev.itemId, this.cfg.itemBuckets);
    if (ev.ts > this.newestTs) {
      this.closeOpen();
      this.newestTs = ev.ts;
    } else if (ev.ts < this.newestTs) {
      // Late in this shard's order: its own basket, closed at once.
      this.stats.outOfOrder++;
      this.closeUser(ev.userId);
      this.emit(ev.userId, ev.ts, [row]);
      return;
    }
    if (this.cfg.basketBy === 'event') { this.emit(ev.userId, ev.ts, [row]); return; }
    const b = this.open.get(ev.userId);
    if (!b) this.open.set(ev.userId, { ts: ev.ts, rows: [row] });
    else if (!b.rows.includes(row)) b.rows.push(row);
  }

  private closeUser(user: string): void {
    const b = this.open.get(user);
    if (!b) return;
    this.open.delete(user);
    this.emit(user, b.ts, b.rows);
  }

  private closeOpen(): void {
    for (const [user, b] of this.open) this.emit(user, b.ts, b.rows);
    this.open.clear();
  }

  /** One basket's examples, ranked by the history before it; then the history takes it. */
  private emit(user: string, ts: number, rows: readonly number[]): void {
    const { history: h, frequency: q } = this;
    const W = this.shape.idWidth;
    const hadHistory = h.has(user);
    const scored = rows.map((r) => hadHistory && !(this.cfg.newItemsOnly && h.hasSeen(user, r)));
    const nScored = scored.reduce((n, s) => n + (s ? 1 : 0), 0);
    const userRow = hashRow(user, this.cfg.userBuckets);
    for (let k = 0; k < rows.length; k++) {
      const i = this.out.add(ts);
      const ids = this.out.ids;
      ids[i * W + ID_USER] = userRow;
      ids[i * W + ID_ITEM] = rows[k];
      h.writeRecent(user, ids, i * W + ID_HISTORY);
      this.out.dense[i] = q.logQ(rows[k]);
      this.out.targets[i * 2] = nScored;
      this.out.targets[i * 2 + 1] = scored[k] ? 1 : 0;
    }
    for (const r of rows) q.see(r);
    h.add(user, rows);
    this.stats.baskets++;
    this.stats.scored += nScored;
  }
}

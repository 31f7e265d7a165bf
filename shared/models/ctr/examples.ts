// The CTR kind's example source: the label rule, negative sampling for implicit feedback,
// and hashed feature ids packed example-major into one Int32Array (no object per example).
// With a `window` rule an impression is scored at once and waits in a label joiner until the
// user acts on the item (a positive) or the window closes (a negative): its state follows the
// event shard (the kind shards by user, so a user's view and cart meet on one shard).
import { NON_INTERACTION_TYPES, type FlywheelEvent } from '../../events.ts';
import { featurizeInto } from '../../features.ts';
import { labelOf } from '../../labels.ts';
import { PopularityNegativeSampler, type ItemRef } from '../../negative-sampler.ts';
import { BatchBuilder } from '../batch-builder.ts';
import type { Batch, BatchShape } from '../batch.ts';
import { LabelJoiner } from '../label-joiner.ts';
import type { ExampleSource } from '../types.ts';
import type { CtrModelConfig } from './config.ts';

export class CtrExampleSource implements ExampleSource {
  readonly shape: BatchShape;
  private readonly sampler: PopularityNegativeSampler;
  private readonly negs: ItemRef[] = [];
  private readonly rows: number[];
  private readonly fields: string[];
  readonly stateByShard: boolean;
  private readonly joiner?: LabelJoiner;
  private readonly out?: BatchBuilder;
  private readonly positives?: ReadonlySet<string>;

  constructor(private readonly cfg: CtrModelConfig, seed: number) {
    this.fields = cfg.fields;
    this.rows = cfg.fields.map(() => cfg.buckets);
    this.shape = { idWidth: cfg.fields.length, denseWidth: 0, targetWidth: 1 };
    const l = cfg.labels;
    // Negatives follow popularity over this many past positives (see negative-sampler.ts).
    this.sampler = new PopularityNegativeSampler(l.kind === 'implicit' && l.window ? l.window : 1_000_000, seed);
    this.stateByShard = l.kind === 'window';
    if (l.kind === 'window') {
      this.joiner = new LabelJoiner(this.shape, {
        mode: 'wait', windowMs: l.windowMinutes * 60_000, maxPending: l.maxPending ?? 1_000_000, releaseAt: l.release ?? 'window',
      });
      this.out = new BatchBuilder(this.shape, true, 256);
      this.positives = new Set(l.positive);
    }
  }

  counters(): Record<string, number> {
    // unmatched: actions with no impression waiting for them (bought without a view in the window).
    return this.joiner ? { ...this.joiner.stats, pending: this.joiner.pending } : {};
  }

  /** A forgotten user: their views waiting for a label are dropped, never trained. */
  forgetUser(userId: string): void {
    const prefix = `${userId}\u0001`;
    this.joiner?.forget((key) => key.startsWith(prefix));
  }

  /** Window rule: impressions in, each scored now and labelled by the user's action on the item or the window's end. */
  private pushWindowed(events: readonly FlywheelEvent[]): Batch {
    const j = this.joiner!, out = this.out!;
    const F = this.fields.length;
    for (const ev of events) {
      if (NON_INTERACTION_TYPES.has(ev.type)) continue;
      j.expire(ev.ts, out);
      const key = `${ev.userId}\u0001${ev.itemId}`;
      if (this.positives!.has(ev.type)) {
        j.outcome(key, 1, ev.ts, out);
        continue;
      }
      // A second view of an item while the first waits is not admitted: the first's label will say it.
      j.admit(key, ev.ts, out, (i) => featurizeInto(ev, this.fields, this.rows, out.ids, i * F));
    }
    return out.take();
  }

  /** An implicit positive brings its negatives. */
  get examplesPerEvent(): number {
    return this.cfg.labels.kind === 'implicit' ? 1 + this.cfg.labels.negatives : 1;
  }

  push(events: readonly FlywheelEvent[]): Batch {
    if (this.joiner) return this.pushWindowed(events);
    const F = this.fields.length;
    const rule = this.cfg.labels;
    const cap = events.length * this.examplesPerEvent;
    const ids = new Int32Array(cap * F);
    const targets = new Float32Array(cap);
    const eventTs = new Float64Array(cap);
    let n = 0;
    for (const ev of events) {
      // A return (or a risk transaction, an outcome) is not an impression: it says nothing about what the user was shown.
      if (NON_INTERACTION_TYPES.has(ev.type)) continue;
      featurizeInto(ev, this.fields, this.rows, ids, n * F);
      targets[n] = labelOf(rule, ev);
      eventTs[n] = ev.ts;
      n++;
      if (rule.kind !== 'implicit') continue;
      const k = this.sampler.sample(rule.negatives, ev.itemId, this.negs);
      for (let j = 0; j < k; j++) {
        const neg: FlywheelEvent = { ...ev, itemId: this.negs[j].itemId, categoryId: this.negs[j].categoryId };
        featurizeInto(neg, this.fields, this.rows, ids, n * F);
        targets[n] = 0;
        eventTs[n] = ev.ts;
        n++;
      }
      this.sampler.observe({ itemId: ev.itemId, categoryId: ev.categoryId });
    }
    return {
      size: n, idWidth: F, denseWidth: 0, targetWidth: 1, dense: new Float32Array(0),
      ids: ids.subarray(0, n * F), targets: targets.subarray(0, n), eventTs: eventTs.subarray(0, n),
    };
  }
}

// The CTR kind's example source: the label rule, negative sampling for implicit feedback,
// and hashed feature ids packed example-major into one Int32Array (no object per example).
import { NON_INTERACTION_TYPES, type FlywheelEvent } from '../../events.ts';
import { featurizeInto } from '../../features.ts';
import { labelOf } from '../../labels.ts';
import { PopularityNegativeSampler, type ItemRef } from '../../negative-sampler.ts';
import type { Batch, BatchShape } from '../batch.ts';
import type { ExampleSource } from '../types.ts';
import type { CtrModelConfig } from './config.ts';

export class CtrExampleSource implements ExampleSource {
  readonly shape: BatchShape;
  private readonly sampler: PopularityNegativeSampler;
  private readonly negs: ItemRef[] = [];
  private readonly rows: number[];
  private readonly fields: string[];

  constructor(private readonly cfg: CtrModelConfig, seed: number) {
    this.fields = cfg.fields;
    this.rows = cfg.fields.map(() => cfg.buckets);
    this.shape = { idWidth: cfg.fields.length, denseWidth: 0, targetWidth: 1 };
    const l = cfg.labels;
    // Negatives follow popularity over this many past positives (see negative-sampler.ts).
    this.sampler = new PopularityNegativeSampler(l.kind === 'implicit' && l.window ? l.window : 1_000_000, seed);
  }

  /** An implicit positive brings its negatives. */
  get examplesPerEvent(): number {
    return this.cfg.labels.kind === 'implicit' ? 1 + this.cfg.labels.negatives : 1;
  }

  push(events: readonly FlywheelEvent[]): Batch {
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

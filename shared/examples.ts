// From events to training examples: the label rule, negative sampling for implicit feedback,
// and hashed feature ids packed example-major into one Int32Array (no object per example).
import type { LabelRule } from './config.ts';
import type { FlywheelEvent } from './events.ts';
import { featurizeInto } from './features.ts';
import { PopularityNegativeSampler, type ItemRef } from './negative-sampler.ts';

export interface ExampleBlock {
  size: number;
  /** size x F row ids, example-major. */
  ids: Int32Array;
  labels: Float32Array;
  /** Event time of each example (ms), for metrics per stream-time window. */
  eventTs: Float64Array;
}

export class ExampleBuilder {
  private readonly sampler: PopularityNegativeSampler;
  private readonly negs: ItemRef[] = [];
  private readonly rows: number[];

  /** negativeWindow: past positives over which popularity is counted (see negative-sampler.ts). */
  constructor(private readonly fields: string[], buckets: number, private readonly rule: LabelRule, seed: number, negativeWindow = 1_000_000) {
    this.rows = fields.map(() => buckets);
    this.sampler = new PopularityNegativeSampler(rule.kind === 'implicit' && rule.window ? rule.window : negativeWindow, seed);
  }

  /** Examples produced per event at most (an implicit positive brings its negatives). */
  get examplesPerEvent(): number {
    return this.rule.kind === 'implicit' ? 1 + this.rule.negatives : 1;
  }

  build(events: readonly FlywheelEvent[]): ExampleBlock {
    const F = this.fields.length;
    const cap = events.length * this.examplesPerEvent;
    const ids = new Int32Array(cap * F);
    const labels = new Float32Array(cap);
    const eventTs = new Float64Array(cap);
    let n = 0;
    for (const ev of events) {
      featurizeInto(ev, this.fields, this.rows, ids, n * F);
      labels[n] = this.label(ev);
      eventTs[n] = ev.ts;
      n++;
      if (this.rule.kind !== 'implicit') continue;
      const k = this.sampler.sample(this.rule.negatives, ev.itemId, this.negs);
      for (let j = 0; j < k; j++) {
        const neg: FlywheelEvent = { ...ev, itemId: this.negs[j].itemId, categoryId: this.negs[j].categoryId };
        featurizeInto(neg, this.fields, this.rows, ids, n * F);
        labels[n] = 0;
        eventTs[n] = ev.ts;
        n++;
      }
      this.sampler.observe({ itemId: ev.itemId, categoryId: ev.categoryId });
    }
    return { size: n, ids: ids.subarray(0, n * F), labels: labels.subarray(0, n), eventTs: eventTs.subarray(0, n) };
  }

  private label(ev: FlywheelEvent): number {
    switch (this.rule.kind) {
      case 'implicit': return 1;
      case 'types': return this.rule.positive.includes(ev.type) ? 1 : 0;
      case 'threshold': return (ev.value ?? -Infinity) >= this.rule.min ? 1 : 0;
    }
  }
}

/** Examples [from, to) of a block, as views (no copy). */
export function sliceBlock(b: ExampleBlock, from: number, to: number, F: number): ExampleBlock {
  return {
    size: to - from,
    ids: b.ids.subarray(from * F, to * F),
    labels: b.labels.subarray(from, to),
    eventTs: b.eventTs.subarray(from, to),
  };
}

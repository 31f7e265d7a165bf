// The value kind's examples: one per event of the configured types that carries a value;
// hashed ids, two dense time features, and the (optionally log1p) value as the target.
import type { FlywheelEvent } from '../../events.ts';
import { featurizeInto } from '../../features.ts';
import { emptyBatch, sliceBatch, type Batch, type BatchShape } from '../batch.ts';
import type { ExampleSource } from '../types.ts';
import type { ValueModelConfig } from './config.ts';
import { VALUE_DENSE_FEATURES } from './spec.ts';

export function valueTarget(cfg: ValueModelConfig, value: number): number {
  return cfg.target === 'log1p' ? Math.log1p(Math.max(0, value)) : value;
}

/** The dense features of an event, into out[off..off+2). */
export function valueDenseInto(ev: Pick<FlywheelEvent, 'ts'>, out: Float32Array, off: number): void {
  const d = new Date(ev.ts);
  out[off] = d.getUTCHours() / 23;
  out[off + 1] = d.getUTCDay() / 6;
}

export class ValueExampleSource implements ExampleSource {
  readonly shape: BatchShape;
  readonly examplesPerEvent = 1;
  private readonly rows: number[];
  private readonly types: Set<string>;

  constructor(private readonly cfg: ValueModelConfig) {
    this.shape = { idWidth: cfg.fields.length, denseWidth: VALUE_DENSE_FEATURES.length, targetWidth: 1 };
    this.rows = cfg.fields.map(() => cfg.buckets);
    this.types = new Set(cfg.types);
  }

  push(events: readonly FlywheelEvent[]): Batch {
    const b = emptyBatch(this.shape, events.length);
    const F = this.shape.idWidth;
    const D = this.shape.denseWidth;
    let n = 0;
    for (const ev of events) {
      // An event without a value (or of another type) teaches this kind nothing.
      if (ev.value === undefined || !this.types.has(ev.type)) continue;
      featurizeInto(ev, this.cfg.fields, this.rows, b.ids, n * F);
      valueDenseInto(ev, b.dense, n * D);
      b.targets[n] = valueTarget(this.cfg, ev.value);
      b.eventTs[n] = ev.ts;
      n++;
    }
    return sliceBatch(b, 0, n);
  }
}

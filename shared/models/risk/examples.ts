// The risk kind's example source: transactions and their outcomes in, examples out.
//  - A transaction (type 'transaction', itemId = its reference) becomes an example at once:
//    its categorical features hashed one field each, crosses, and numeric ones standardised by
//    this event shard's running mean and variance (as known before it: test, then learn).
//    With its label in the event (value 0/1) it is scored and trained on at once; without, it
//    is scored now and waits in the label joiner for its outcome.
//  - An outcome (type 'outcome', itemId = the reference, value 0/1) releases its example.
//  - A transaction whose window passes with no outcome is released as a negative.
// Rows carry [label counted, label trained on] (label-joiner.ts) and a ref for the pairing.
import type { FlywheelEvent } from '../../events.ts';
import { hashRow } from '../../features.ts';
import { BatchBuilder } from '../batch-builder.ts';
import type { Batch, BatchShape } from '../batch.ts';
import { LabelJoiner } from '../label-joiner.ts';
import type { ExampleSource } from '../types.ts';
import type { RiskModelConfig } from './config.ts';
import { riskFields } from './spec.ts';

/** Standardised values are clipped here: one wild amount must not take a step of its own. */
export const Z_CLIP = 5;

export interface RiskSourceStats {
  transactions: number;
  /** Transactions with their label in the event: trained at once. */
  labelledInEvent: number;
  /** Outcomes or in-event labels that are not 0/1: skipped. */
  badLabels: number;
  /** Events of other types: not read. */
  ignored: number;
}

/** Running mean and variance (Welford) of each numeric feature. */
export class NumericStats {
  readonly n: Float64Array;
  readonly mean: Float64Array;
  readonly m2: Float64Array;

  constructor(k: number) {
    this.n = new Float64Array(k);
    this.mean = new Float64Array(k);
    this.m2 = new Float64Array(k);
  }

  /** (x - mean) / sd clipped to +-Z_CLIP; 0 before two values or for a constant one. */
  z(j: number, x: number): number {
    if (this.n[j] < 2) return 0;
    const sd = Math.sqrt(this.m2[j] / (this.n[j] - 1));
    if (!(sd > 0)) return 0;
    return Math.max(-Z_CLIP, Math.min(Z_CLIP, (x - this.mean[j]) / sd));
  }

  add(j: number, x: number): void {
    const n = ++this.n[j];
    const d = x - this.mean[j];
    this.mean[j] += d / n;
    this.m2[j] += d * (x - this.mean[j]);
  }
}

/** A feature's value in an event: the event's ids for `user` / `category`, else its context. */
export function featureValue(ev: FlywheelEvent, name: string): string {
  if (name === 'user') return ev.userId;
  if (name === 'category') return ev.categoryId ?? '';
  return ev.context?.[name] ?? '';
}

/** A context value as a number; NaN when absent or not a number. */
export function numericValue(ev: FlywheelEvent, name: string): number {
  const s = ev.context?.[name];
  return s === undefined || s.trim() === '' ? NaN : Number(s);
}

/**
 * Writes the features of a transaction: F ids at ids[idAt..] and the standardised numeric
 * values at dense[denseAt..]. Shared by the source and the serving route (with its own stats).
 */
export function featurizeTransaction(cfg: RiskModelConfig, stats: NumericStats, ev: FlywheelEvent,
  ids: Int32Array, idAt: number, dense: Float32Array, denseAt: number): void {
  const B = cfg.buckets;
  let f = 0;
  for (const name of cfg.categorical) ids[idAt + f++] = hashRow(`${name}=${featureValue(ev, name)}`, B);
  for (const [a, b] of cfg.crosses) ids[idAt + f++] = hashRow(`${a}x${b}=${featureValue(ev, a)}\u0001${featureValue(ev, b)}`, B);
  cfg.numeric.forEach((name, j) => {
    const x = numericValue(ev, name);
    const known = Number.isFinite(x);
    const z = known ? stats.z(j, x) : 0;
    dense[denseAt + j] = z;
    // Half-sd buckets: the value as a field, so it also interacts with the others.
    ids[idAt + f++] = hashRow(`${name}#=${known ? Math.round(z * 2) : '?'}`, B);
  });
}

export class RiskExampleSource implements ExampleSource {
  readonly shape: BatchShape;
  readonly examplesPerEvent = 1;
  // The pending transactions, and the numeric statistics, follow the event shard.
  readonly stateByShard = true;
  readonly stats: RiskSourceStats = { transactions: 0, labelledInEvent: 0, badLabels: 0, ignored: 0 };
  readonly joiner: LabelJoiner;
  readonly numericStats: NumericStats;
  private readonly out: BatchBuilder;

  constructor(private readonly cfg: RiskModelConfig) {
    this.shape = { idWidth: riskFields(cfg).length, denseWidth: cfg.numeric.length, targetWidth: 2 };
    if (this.shape.idWidth === 0) throw new Error('risk kind: settings list no features (categorical, numeric or crosses)');
    this.numericStats = new NumericStats(cfg.numeric.length);
    this.out = new BatchBuilder(this.shape, true, 256);
    this.joiner = new LabelJoiner(this.shape, {
      mode: cfg.labels.mode, windowMs: cfg.labels.windowDays * 86_400_000, maxPending: cfg.labels.maxPending,
    });
  }

  counters(): Record<string, number> {
    return { ...this.stats, ...this.joiner.stats, pending: this.joiner.pending };
  }

  push(events: readonly FlywheelEvent[]): Batch {
    const out = this.out;
    const I = this.shape.idWidth, D = this.shape.denseWidth;
    for (const ev of events) {
      this.joiner.expire(ev.ts, out);
      if (ev.type === 'outcome') {
        const y = ev.value;
        if (y !== 0 && y !== 1) { this.stats.badLabels++; continue; }
        this.joiner.outcome(ev.itemId, y, ev.ts, out);
        continue;
      }
      if (ev.type !== 'transaction') { this.stats.ignored++; continue; }
      const inEvent = ev.value !== undefined;
      if (inEvent && ev.value !== 0 && ev.value !== 1) { this.stats.badLabels++; continue; }
      const features = (i: number) => featurizeTransaction(this.cfg, this.numericStats, ev, out.ids, i * I, out.dense, i * D);
      if (inEvent) {
        const i = out.add(ev.ts);
        features(i);
        out.targets[i * 2] = ev.value!;
        out.targets[i * 2 + 1] = ev.value!;
        this.stats.labelledInEvent++;
      } else if (!this.joiner.admit(ev.itemId, ev.ts, out, features)) continue; // its reference is pending already
      this.stats.transactions++;
      this.cfg.numeric.forEach((name, j) => {
        const x = numericValue(ev, name);
        if (Number.isFinite(x)) this.numericStats.add(j, x);
      });
    }
    return out.take();
  }
}

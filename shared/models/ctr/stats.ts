// Online statistics as inputs of the CTR model: per key (user, item, category, user x category)
// a PS counter table of [impressions, positives] per hashed row (the `counter` rule: w += g,
// decayed by event time when a half-life is set), and a one-row table of the totals. The model
// reads them like embedding rows, before its step (so a batch never sees its own labels), turns
// them into dense features and pushes the batch's counts as those tables' "gradients".
//   per key: logit(rate) - logit(g) with rate = (pos + PRIOR * g) / (n + PRIOR), and log1p(n) / 4
//   g = (P + 1) / (N + 2), the global rate from the totals
// Counters are float32 rows: exact up to 2^24 per row. Beyond that (the totals of a long stream
// without decay) a batch's increment rounds to the float's spacing (512 at 2^32) and the
// totals drift: set a half-life for streams that run for ever.
import { ConfigError } from '../../errors.ts';
import type { TableSpec } from '../../param-spec.ts';
import type { Batch } from '../batch.ts';
import type { TableGrad, WeightSource } from '../types.ts';
import { uniqueRows } from '../unique-rows.ts';

/** Pseudo-examples at the global rate that every id's rate starts from (the counts baseline's too). */
export const RATE_PRIOR = 5;

export const STAT_KEYS = ['user', 'item', 'category', 'user_category', 'user_item'] as const;
export type StatKey = (typeof STAT_KEYS)[number];

/** The fields each key reads: one, or two crossed. */
export const STAT_KEY_FIELDS: Record<StatKey, readonly string[]> = {
  user: ['user'], item: ['item'], category: ['category'], user_category: ['user', 'category'],
  user_item: ['user', 'item'],
};

export const statTable = (key: string): string => `stat.${key}`;
export const STAT_TOTALS_TABLE = 'stat.total';
/** One row of STAT_FEATURES weights per key: the statistics' linear (wide) part. */
export const STAT_WIDE_TABLE = 'stat.wide';
/** The first layer's block for the statistics (the deep part). */
export const STAT_FIRST_LAYER = 'l0.w.stat';
export const STAT_FEATURES = 2;
/** log1p(impressions) is scaled by this so that the features are of one order (a popular id has ~1e4). */
const LOG_COUNT_SCALE = 0.25;
/** Rates are clamped into [EPS, 1 - EPS] before the logit. */
const EPS = 1e-4;

/** Settings the statistics read. */
export interface StatSettings {
  fields: readonly string[];
  buckets: number;
  /** 'auto': every key whose fields are among `fields`. */
  stats: 'auto' | readonly StatKey[];
  statsHalfLifeMs: number;
}

/** The keys the settings keep statistics for. */
export function statKeys(s: Pick<StatSettings, 'fields' | 'stats'>): readonly StatKey[] {
  return s.stats === 'auto' ? STAT_KEYS.filter((k) => STAT_KEY_FIELDS[k].every((f) => s.fields.includes(f))) : s.stats;
}

/** The counter tables of the keys and the totals (zeros, counter rule, decayed when a half-life is set). */
export function statTables(s: StatSettings): TableSpec[] {
  const keys = statKeys(s);
  if (keys.length === 0) return [];
  const optimizer = s.statsHalfLifeMs > 0 ? { rule: 'counter' as const, halfLifeMs: s.statsHalfLifeMs } : 'counter' as const;
  return [
    ...keys.map((k) => ({ name: statTable(k), dim: 2, rows: s.buckets, init: { kind: 'zeros' as const }, optimizer })),
    { name: STAT_TOTALS_TABLE, dim: 2, rows: 1, init: { kind: 'zeros' as const }, optimizer },
  ];
}

/** Row of a crossed key from its fields' rows (a multiplicative hash: the pair's rows are < 2^30). */
export function crossRow(a: number, b: number, buckets: number): number {
  return ((Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 0) % buckets;
}

/** What one batch reads from the statistics and what it adds to them. */
export interface StatInputs {
  /** size x (keys x STAT_FEATURES) features, example-major. */
  x: Float32Array;
  /** Per counter table the batch's [impressions, positives] per touched row (only with labels). */
  counts?: Map<string, TableGrad>;
}

export class StatFeatures {
  /** Per key, the field positions it reads. */
  private readonly columns: number[][];
  readonly keys: readonly StatKey[];
  readonly width: number;

  constructor(private readonly s: StatSettings) {
    this.keys = statKeys(s);
    this.columns = this.keys.map((k, i) => STAT_KEY_FIELDS[k].map((f) => {
      const c = s.fields.indexOf(f);
      if (c < 0) throw new ConfigError(`stats.${i}`, `statistic "${k}" needs field "${f}" in fields`);
      return c;
    }));
    this.width = this.keys.length * STAT_FEATURES;
  }

  /** Features of every example from the counters as they are now; with the 0/1 targets, the counts to push. */
  build(b: Pick<Batch, 'size' | 'ids'>, w: WeightSource, targets?: Float32Array): StatInputs {
    const B = b.size;
    const F = this.s.fields.length;
    const K = this.keys.length;
    const x = new Float32Array(B * this.width);
    const totals = new Float32Array(2);
    w.readRows(STAT_TOTALS_TABLE, Int32Array.of(0), totals);
    const g = (totals[1] + 1) / (totals[0] + 2);
    const logitG = Math.log(g / (1 - g));
    const counts = targets ? new Map<string, TableGrad>() : undefined;
    const keyRows = new Int32Array(B);
    for (let k = 0; k < K; k++) {
      const cols = this.columns[k];
      for (let i = 0; i < B; i++) {
        keyRows[i] = cols.length === 1 ? b.ids[i * F + cols[0]] : crossRow(b.ids[i * F + cols[0]], b.ids[i * F + cols[1]], this.s.buckets);
      }
      const fr = uniqueRows(keyRows, B, 1, 0, this.s.buckets);
      const U = fr.rows.length;
      const cur = new Float32Array(U * 2);
      w.readRows(statTable(this.keys[k]), fr.rows, cur);
      for (let i = 0; i < B; i++) {
        const r = fr.slot[i];
        const n = Math.max(0, cur[2 * r]);
        const rate = Math.min(1 - EPS, Math.max(EPS, (Math.max(0, cur[2 * r + 1]) + RATE_PRIOR * g) / (n + RATE_PRIOR)));
        x[i * this.width + k * STAT_FEATURES] = Math.log(rate / (1 - rate)) - logitG;
        x[i * this.width + k * STAT_FEATURES + 1] = Math.log1p(n) * LOG_COUNT_SCALE;
      }
      if (counts && targets) {
        const add = new Float32Array(U * 2);
        for (let i = 0; i < B; i++) {
          add[2 * fr.slot[i]] += 1;
          add[2 * fr.slot[i] + 1] += targets[i];
        }
        counts.set(statTable(this.keys[k]), { rows: fr.rows, grads: add });
      }
    }
    if (counts && targets) {
      let pos = 0;
      for (let i = 0; i < B; i++) pos += targets[i];
      counts.set(STAT_TOTALS_TABLE, { rows: Int32Array.of(0), grads: Float32Array.of(B, pos) });
    }
    return { x, counts };
  }
}

// The yardsticks of the CTR kind, scored by the worker on the same examples as the model
// (predict a batch, then learn from it). All three read the batch's hashed ids, one column per
// settings.fields entry, and keep their state in typed arrays sized by the buckets per field.
//   counts      mean of the user's and the item's smoothed positive rates
//   popularity  the item's smoothed positive rate
//   ftrl-lr     logistic regression on the same hashed ids, FTRL-Proximal per coordinate
import { ConfigError, WrongShapeError } from '../../errors.ts';
import type { Batch } from '../batch.ts';
import type { Baseline } from '../types.ts';
import type { CtrModelConfig } from './config.ts';
import { RATE_PRIOR } from './stats.ts';


/** Refuses a batch that does not have `fields` id columns of rows in [0, buckets): nothing is read or learnt from it. */
function checkBatch(name: string, b: Batch, fields: number, buckets: number): void {
  if (b.idWidth !== fields || b.ids.length < b.size * fields || b.targets.length < b.size * b.targetWidth) {
    throw new WrongShapeError(`baseline ${name}: batch of ${b.size} examples x ${b.idWidth} ids, expected ${fields} id columns`);
  }
  for (let k = 0; k < b.size * fields; k++) {
    const r = b.ids[k];
    if (!(r >= 0 && r < buckets)) throw new WrongShapeError(`baseline ${name}: row id ${r} outside [0, ${buckets})`);
  }
}

/** Impressions and positives per row of some id columns (side by side: 2r, 2r+1), and over all examples. */
class RateTable {
  readonly counts: Float64Array[];
  totalN = 0;
  totalPos = 0;

  constructor(readonly columns: readonly number[], buckets: number) {
    this.counts = columns.map(() => new Float64Array(2 * buckets));
  }

  /** The global positive rate so far (0 before any example). */
  get globalRate(): number {
    return this.totalN ? this.totalPos / this.totalN : 0;
  }

  /** Mean over the columns of (pos + RATE_PRIOR * g) / (n + RATE_PRIOR) for example i. */
  meanRate(b: Batch, i: number, g: number): number {
    let s = 0;
    for (let c = 0; c < this.columns.length; c++) {
      const r = b.ids[i * b.idWidth + this.columns[c]];
      const k = this.counts[c];
      s += (k[2 * r + 1] + RATE_PRIOR * g) / (k[2 * r] + RATE_PRIOR);
    }
    return s / this.columns.length;
  }

  learn(b: Batch): void {
    for (let i = 0; i < b.size; i++) {
      const y = b.targets[i * b.targetWidth];
      if (Number.isNaN(y)) continue; // scored now, labelled later
      for (let c = 0; c < this.columns.length; c++) {
        const r = b.ids[i * b.idWidth + this.columns[c]];
        this.counts[c][2 * r] += 1;
        this.counts[c][2 * r + 1] += y;
      }
      this.totalN += 1;
      this.totalPos += y;
    }
  }
}

/**
 * Smoothed positive rates per id, averaged over some id columns: "counts" over user and item,
 * "popularity" over the item alone. Learns nothing but counts; the global rate g it shrinks
 * towards is the one before the batch, like every other figure it predicts with.
 */
export class SmoothedRates implements Baseline {
  private readonly table: RateTable;

  constructor(readonly name: string, columns: readonly number[], private readonly fields: number, private readonly buckets: number) {
    if (columns.length === 0) throw new ConfigError('fields', `baseline ${name} needs at least one id column`);
    this.table = new RateTable(columns, buckets);
  }

  predict(b: Batch): Float32Array {
    checkBatch(this.name, b, this.fields, this.buckets);
    const out = new Float32Array(b.size);
    const g = this.table.globalRate;
    for (let i = 0; i < b.size; i++) out[i] = this.table.meanRate(b, i, g);
    return out;
  }

  learn(b: Batch): void {
    checkBatch(this.name, b, this.fields, this.buckets);
    this.table.learn(b);
  }
}

export interface FtrlOptions {
  /** Per-coordinate learning rate scale. */
  alpha: number;
  /** Added to sqrt(n) in the rate's denominator: > 0 keeps the first step finite. */
  beta: number;
  l1: number;
  l2: number;
}

/** Chosen on the first 30% of Taobao, MovieLens and Online Retail (docs/MODELS.md): alpha 0.5 and 1
 *  within 0.005 AUC of each other (1 slightly ahead on two, with a worse logloss), 0.1 and 0.03
 *  behind by 0.01-0.08; L1 = L2 = 1 cost up to 0.02 AUC. No L1: the tables are dense arrays anyway. */
export const FTRL_DEFAULTS: FtrlOptions = { alpha: 0.5, beta: 1, l1: 0, l2: 0 };

/**
 * Logistic regression over one weight per (field, row id) and a bias, trained example by
 * example with FTRL-Proximal (McMahan et al. 2013, Algorithm 1):
 *   p = sigmoid(sum_i w_i), g = p - y; per touched coordinate i:
 *   sigma = (sqrt(n_i + g^2) - sqrt(n_i)) / alpha; z_i += g - sigma * w_i; n_i += g^2
 *   w_i = |z_i| <= l1 ? 0 : -(z_i - sign(z_i) * l1) / ((beta + sqrt(n_i)) / alpha + l2)
 * Coordinate i (field f's row r is f * buckets + r; the bias last) keeps z, n and w side by
 * side in one Float64Array at 3i, 3i+1, 3i+2: one cache line per touched coordinate, and w
 * kept (the paper computes it lazily) so that scoring reads one number. The
 * PS's `ftrl` rule (shared/update-rules/ftrl.ts) is the same update applied to pushed mean
 * gradients; this one is sequential per example.
 */
export class FtrlLogisticRegression implements Baseline {
  readonly name = 'ftrl-lr';
  /** z, n, w per coordinate, interleaved. */
  private readonly s: Float64Array;
  private readonly bias: number;
  private readonly alpha: number;
  private readonly beta: number;
  private readonly l1: number;
  private readonly l2: number;

  constructor(private readonly fields: number, private readonly buckets: number, options: Partial<FtrlOptions> = {}) {
    const o = { ...FTRL_DEFAULTS, ...options };
    // alpha and beta divide (beta 0 would make the first step's rate infinite); l1, l2 may be 0.
    for (const [k, v, zeroOk] of [['alpha', o.alpha, false], ['beta', o.beta, false], ['l1', o.l1, true], ['l2', o.l2, true]] as const) {
      if (!Number.isFinite(v) || v < 0 || (v === 0 && !zeroOk)) {
        throw new ConfigError(`ftrl-lr.${k}`, `must be a finite number ${zeroOk ? '>= 0' : '> 0'}, got ${v}`);
      }
    }
    if (!(fields >= 1 && buckets >= 1)) throw new ConfigError('fields', 'ftrl-lr needs at least one field and one bucket');
    ({ alpha: this.alpha, beta: this.beta, l1: this.l1, l2: this.l2 } = o);
    this.bias = fields * buckets;
    this.s = new Float64Array(3 * (this.bias + 1));
  }

  /** The current weight of coordinate i (its row of field f is f * buckets + row; the bias last). */
  weight(i: number): number {
    return this.s[3 * i + 2];
  }

  predict(b: Batch): Float32Array {
    checkBatch(this.name, b, this.fields, this.buckets);
    const out = new Float32Array(b.size);
    for (let i = 0; i < b.size; i++) out[i] = sigmoid(this.logit(b, i));
    return out;
  }

  learn(b: Batch): void {
    checkBatch(this.name, b, this.fields, this.buckets);
    const F = this.fields;
    for (let i = 0; i < b.size; i++) {
      const y = b.targets[i * b.targetWidth];
      if (Number.isNaN(y)) continue; // scored now, labelled later
      const g = sigmoid(this.logit(b, i)) - y;
      for (let f = 0; f < F; f++) this.update(f * this.buckets + b.ids[i * b.idWidth + f], g);
      this.update(this.bias, g);
    }
  }

  private logit(b: Batch, i: number): number {
    const s = this.s;
    let x = s[3 * this.bias + 2];
    for (let f = 0, at = i * b.idWidth; f < this.fields; f++) x += s[3 * (f * this.buckets + b.ids[at + f]) + 2];
    return x;
  }

  private update(i: number, g: number): void {
    const s = this.s;
    const k = 3 * i;
    const n0 = s[k + 1];
    const n1 = n0 + g * g;
    const sqrtN1 = Math.sqrt(n1);
    const z = s[k] + g - ((sqrtN1 - Math.sqrt(n0)) / this.alpha) * s[k + 2];
    s[k] = z;
    s[k + 1] = n1;
    const l1 = this.l1;
    s[k + 2] = z <= l1 && z >= -l1 ? 0 : -(z - (z > 0 ? l1 : -l1)) / ((this.beta + sqrtN1) / this.alpha + this.l2);
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * The CTR kind's baselines for its settings: counts needs a user or an item field, popularity
 * an item field; the logistic regression reads every field.
 */
export function ctrBaselines(settings: CtrModelConfig): Baseline[] {
  const F = settings.fields.length;
  const B = settings.buckets;
  const user = settings.fields.indexOf('user');
  const item = settings.fields.indexOf('item');
  const out: Baseline[] = [];
  const countColumns = [user, item].filter((c) => c >= 0);
  if (countColumns.length) out.push(new SmoothedRates('counts', countColumns, F, B));
  if (item >= 0) out.push(new SmoothedRates('popularity', [item], F, B));
  out.push(new FtrlLogisticRegression(F, B));
  return out;
}

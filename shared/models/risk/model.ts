// The risk kind's model in plain typed-array loops: a logistic regression on hashed features
// plus field-aware factorisation (FFM) over every pair of fields, on standardised numerics.
// Loss per trained row (targets[1] known), dL/dz = weight * (p - y):
//   weight = positiveWeight for a positive, 1 for a negative; in fake-negative mode, for rows
//   that came through the joiner, Ktena et al.'s importance weights on top (p held constant):
//   positive (1 + p), negative (1 - p)(1 + p) — the model then estimates the true rate, not the
//   rate of its biased stream (every positive also arrives once as a negative).
// Gradients are the mean over the trained examples touching each row (as the other kinds do).
import { WrongShapeError } from '../../errors.ts';
import type { Batch } from '../batch.ts';
import type { StepResult, TableGrad, TrainableModel, WeightSource } from '../types.ts';
import { uniqueRows, type FieldRows } from '../unique-rows.ts';
import type { RiskModelConfig } from './config.ts';
import { TABLES, riskFields } from './spec.ts';

const Z_MAX = 30;

/**
 * One row's loss at probability p = sigmoid(z) and its derivative in z: logloss (dz = p - y),
 * or with gamma > 0 the focal loss -(1 - p_t)^gamma log p_t (p_t = p for a positive, 1 - p for
 * a negative; dp_t/dz = +-p_t (1 - p_t)).
 */
export function rowLoss(p: number, y: 0 | 1, gamma: number): { loss: number; dz: number } {
  const q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
  if (!(gamma > 0)) return { loss: -(y === 1 ? Math.log(q) : Math.log(1 - q)), dz: p - y };
  const pt = y === 1 ? q : 1 - q;
  const m = (1 - pt) ** gamma;
  const d = m * (gamma * pt * Math.log(pt) - (1 - pt));
  return { loss: -m * Math.log(pt), dz: y === 1 ? d : -d };
}
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

interface Forward {
  z: Float32Array;
  rows: FieldRows;
  lin: Float32Array;
  /** rows x F*K factors (empty without factors). */
  v: Float32Array;
  num: Float32Array;
}

export class RiskModel implements TrainableModel {
  readonly predictionWidth = 1;
  private readonly F: number;
  private readonly N: number;
  private readonly K: number;
  private readonly one = new Int32Array([0]);

  constructor(private readonly cfg: RiskModelConfig) {
    this.F = riskFields(cfg).length;
    this.N = cfg.numeric.length;
    this.K = cfg.factors > 0 && this.F > 1 ? cfg.factors : 0;
  }

  predict(b: Batch, w: WeightSource): Float32Array {
    const f = this.forward(b, w);
    return f.z.map(sigmoid);
  }

  trainStep(b: Batch, w: WeightSource): StepResult {
    const { F, N, K } = this;
    const f = this.forward(b, w);
    const n = b.size;
    const fn = this.cfg.labels.mode === 'fake-negative';
    const gz = new Float32Array(n);
    const p = f.z.map(sigmoid);
    let loss = 0;
    let trained = 0;
    for (let i = 0; i < n; i++) {
      const y = b.targets[i * 2 + 1];
      if (Number.isNaN(y)) continue;
      if (y !== 0 && y !== 1) throw new WrongShapeError(`example ${i}: trained label ${y} is not 0 or 1`);
      let weight = y === 1 ? this.cfg.positiveWeight : 1;
      if (fn && b.refs && b.refs[i] >= 0) weight *= y === 1 ? 1 + p[i] : (1 - p[i]) * (1 + p[i]);
      const lg = rowLoss(p[i], y, this.cfg.focalGamma);
      loss += weight * lg.loss;
      gz[i] = weight * lg.dz;
      trained++;
    }
    const r = f.rows;
    const R = r.rows.length;
    const gLin = new Float32Array(R);
    const FK = F * K;
    const gV = new Float32Array(R * FK);
    const gNum = new Float32Array(N + 1);
    for (let i = 0; i < n; i++) {
      const g = gz[i];
      if (g === 0) continue;
      const at = i * F;
      for (let a = 0; a < F; a++) gLin[r.slot[at + a]] += g;
      for (let j = 0; j < N; j++) gNum[j] += g * b.dense[i * N + j];
      gNum[N] += g;
      for (let a = 0; K && a < F; a++) {
        const sa = r.slot[at + a];
        for (let c = a + 1; c < F; c++) {
          const sc = r.slot[at + c];
          for (let k = 0; k < K; k++) {
            gV[sa * FK + c * K + k] += g * f.v[sc * FK + a * K + k];
            gV[sc * FK + a * K + k] += g * f.v[sa * FK + c * K + k];
          }
        }
      }
    }
    // Per row, the mean over the trained examples that touch it (an example only scored now —
    // its label comes later — adds nothing and must not dilute the others).
    const touched = new Float32Array(R);
    for (let i = 0; i < n; i++) if (!Number.isNaN(b.targets[i * 2 + 1])) for (let a = 0; a < F; a++) touched[r.slot[i * F + a]]++;
    for (let s = 0; s < R; s++) {
      const c = touched[s] || 1;
      gLin[s] /= c;
      for (let k = 0; k < FK; k++) gV[s * FK + k] /= c;
    }
    if (trained) for (let j = 0; j <= N; j++) gNum[j] /= trained;
    const sparse = new Map<string, TableGrad>([
      [TABLES.linear, { rows: r.rows, grads: gLin }],
      [TABLES.numeric, { rows: this.one, grads: gNum }],
    ]);
    if (K) sparse.set(TABLES.factors, { rows: r.rows, grads: gV });
    return { predictions: p, loss: trained ? loss / trained : 0, dense: new Map(), sparse };
  }

  /**
   * Per example, each field's share of the logit (F values, then N numeric terms): its own
   * weight plus half of each interaction it takes part in. They sum to logit - bias.
   */
  contributions(b: Batch, w: WeightSource): { logit: Float32Array; bias: number; parts: Float32Array } {
    const { F, N, K } = this;
    const f = this.forward(b, w);
    const W = F + N;
    const parts = new Float32Array(b.size * W);
    const FK = F * K;
    for (let i = 0; i < b.size; i++) {
      const at = i * F;
      for (let a = 0; a < F; a++) parts[i * W + a] += f.lin[f.rows.slot[at + a]];
      for (let j = 0; j < N; j++) parts[i * W + F + j] = f.num[j] * b.dense[i * N + j];
      for (let a = 0; K && a < F; a++) {
        const sa = f.rows.slot[at + a];
        for (let c = a + 1; c < F; c++) {
          const sc = f.rows.slot[at + c];
          let d = 0;
          for (let k = 0; k < K; k++) d += f.v[sa * FK + c * K + k] * f.v[sc * FK + a * K + k];
          parts[i * W + a] += d / 2;
          parts[i * W + c] += d / 2;
        }
      }
    }
    return { logit: f.z, bias: f.num[N], parts };
  }

  private forward(b: Batch, w: WeightSource): Forward {
    const { F, N, K } = this;
    if (b.idWidth !== F || b.denseWidth !== N || b.targetWidth !== 2 || b.ids.length < b.size * F || b.dense.length < b.size * N) {
      throw new WrongShapeError(`risk batch needs ${F} ids, ${N} numeric features and 2 targets per example`);
    }
    // Every (example, field) id is a row of the same tables: one unique pass over all of them.
    const rows = uniqueRows(b.ids, b.size * F, 1, 0, this.cfg.buckets);
    const R = rows.rows.length;
    const lin = new Float32Array(R);
    w.readRows(TABLES.linear, rows.rows, lin);
    const num = new Float32Array(N + 1);
    w.readRows(TABLES.numeric, this.one, num);
    const FK = F * K;
    const v = new Float32Array(R * FK);
    if (K) w.readRows(TABLES.factors, rows.rows, v);
    const z = new Float32Array(b.size);
    for (let i = 0; i < b.size; i++) {
      const at = i * F;
      let s = num[N];
      for (let a = 0; a < F; a++) s += lin[rows.slot[at + a]];
      for (let j = 0; j < N; j++) s += num[j] * b.dense[i * N + j];
      for (let a = 0; K && a < F; a++) {
        const sa = rows.slot[at + a];
        for (let c = a + 1; c < F; c++) {
          const sc = rows.slot[at + c];
          for (let k = 0; k < K; k++) s += v[sa * FK + c * K + k] * v[sc * FK + a * K + k];
        }
      }
      if (!Number.isFinite(s)) throw new WrongShapeError(`example ${i}: non-finite score (a NaN feature?)`);
      z[i] = Math.max(-Z_MAX, Math.min(Z_MAX, s));
    }
    return { z, rows, lin, v, num };
  }
}

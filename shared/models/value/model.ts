// The value kind's model in plain typed-array loops (no tensors needed for a linear model):
// squared error 0.5 * (prediction - target)^2, gradients per dense weight (batch mean) and per
// touched bias row (mean over the examples touching it, as the CTR kind does).
import { WrongShapeError } from '../../errors.ts';
import { uniqueRows, type FieldRows } from '../unique-rows.ts';
import type { Batch } from '../batch.ts';
import type { StepResult, TableGrad, TrainableModel, WeightSource } from '../types.ts';
import type { ValueModelConfig } from './config.ts';
import { VALUE_DENSE_FEATURES, VALUE_GLOBAL_TABLE, valueBiasTable } from './spec.ts';

export class ValueModel implements TrainableModel {
  readonly predictionWidth = 1;
  private readonly F: number;
  private readonly D = VALUE_DENSE_FEATURES.length;

  constructor(private readonly cfg: ValueModelConfig) {
    this.F = cfg.fields.length;
  }

  predict(b: Batch, w: WeightSource): Float32Array {
    return this.forward(b, w).pred;
  }

  trainStep(b: Batch, w: WeightSource): StepResult {
    const { pred, rows } = this.forward(b, w);
    const n = b.size;
    const D = this.D;
    const gb = new Float32Array(1);
    const gw = new Float32Array(D);
    let loss = 0;
    const err = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const e = pred[i] - b.targets[i];
      if (!Number.isFinite(e)) throw new WrongShapeError(`example ${i}: non-finite prediction or target`);
      err[i] = e;
      loss += 0.5 * e * e;
      gb[0] += e / n;
      for (let d = 0; d < D; d++) gw[d] += (e * b.dense[i * D + d]) / n;
    }
    const sparse = new Map<string, TableGrad>();
    this.cfg.fields.forEach((f, k) => {
      const r = rows[k];
      const g = new Float32Array(r.rows.length);
      for (let i = 0; i < n; i++) g[r.slot[i]] += err[i];
      for (let s = 0; s < g.length; s++) g[s] /= r.counts[s];
      sparse.set(valueBiasTable(f), { rows: r.rows, grads: g });
    });
    sparse.set(VALUE_GLOBAL_TABLE, { rows: new Int32Array([0]), grads: gb });
    return { predictions: pred, loss: n ? loss / n : 0, dense: new Map([['v.w', gw]]), sparse };
  }

  private forward(b: Batch, w: WeightSource): { pred: Float32Array; rows: FieldRows[] } {
    const F = this.F;
    const D = this.D;
    if (b.idWidth !== F || b.denseWidth !== D || b.ids.length !== b.size * F || b.dense.length !== b.size * D) {
      throw new WrongShapeError(`value batch needs ${F} ids and ${D} dense features per example`);
    }
    const global = new Float32Array(1);
    w.readRows(VALUE_GLOBAL_TABLE, new Int32Array([0]), global);
    const bias = global[0];
    const wd = w.dense('v.w');
    const pred = new Float32Array(b.size);
    for (let i = 0; i < b.size; i++) {
      let p = bias;
      for (let d = 0; d < D; d++) p += wd[d] * b.dense[i * D + d];
      pred[i] = p;
    }
    const rows = this.cfg.fields.map((f, k) => {
      const r = uniqueRows(b.ids, b.size, F, k, this.cfg.buckets);
      const vals = new Float32Array(r.rows.length);
      w.readRows(valueBiasTable(f), r.rows, vals);
      for (let i = 0; i < b.size; i++) pred[i] += vals[r.slot[i]];
      return r;
    });
    return { pred, rows };
  }
}


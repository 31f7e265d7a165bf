// A WeightSource in plain Maps, for checking a model's gradients without the parameter plane.
import { initDense, initRow, type ParamSpec, type TableSpec } from '../../shared/param-spec.ts';
import type { StepResult, WeightSource } from '../../shared/models/types.ts';

/** A WeightSource in Maps; rows start at their spec-initial values on first touch. */
export class MapWeights implements WeightSource {
  readonly denseValues = new Map<string, Float32Array>();
  private readonly rows = new Map<string, Map<number, Float32Array>>();
  constructor(private readonly spec: ParamSpec) {
    for (const d of spec.dense) this.denseValues.set(d.name, initDense(d, spec.seed));
  }
  dense(name: string): Float32Array {
    return this.denseValues.get(name)!;
  }
  row(table: string, id: number): Float32Array {
    let rows = this.rows.get(table);
    if (!rows) this.rows.set(table, (rows = new Map()));
    let r = rows.get(id);
    if (!r) {
      const spec = this.spec.tables.find((x) => x.name === table) as TableSpec;
      r = new Float32Array(spec.dim);
      initRow(spec, id, this.spec.seed, r, 0);
      rows.set(id, r);
    }
    return r;
  }
  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    for (let i = 0; i < rowIds.length; i++) {
      const r = this.row(table, rowIds[i]);
      out.set(r, i * r.length);
    }
  }
  /** Plain SGD with the step's gradients. */
  apply(step: StepResult, lr: number): void {
    for (const [name, g] of step.dense) {
      const w = this.dense(name);
      for (let i = 0; i < w.length; i++) w[i] -= lr * g[i];
    }
    for (const [table, { rows, grads }] of step.sparse) {
      for (let i = 0; i < rows.length; i++) {
        const r = this.row(table, rows[i]);
        for (let j = 0; j < r.length; j++) r[j] -= lr * grads[i * r.length + j];
      }
    }
  }
}

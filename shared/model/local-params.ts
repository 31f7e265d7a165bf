// The whole model's parameters and optimizer state in one process, updated with exactly the
// PS shards' rules (lazy per-row momentum, per-table learning rates). Used where training runs
// without the servers: offline baselines (frozen, periodic retrain), pretraining, tuning.
import { applyUpdate, type UpdateParams } from '../optimizer.ts';
import { initDense, type ParamSpec } from '../param-spec.ts';
import { SparseArena } from '../sparse-arena.ts';
import type { PsConfig } from '../config.ts';

export interface Gradients {
  dense: Map<string, Float32Array>;
  sparse: Map<string, { rows: Int32Array; grads: Float32Array }>;
}

export class LocalParams {
  private readonly denseW = new Map<string, { w: Float32Array; slot: Float32Array }>();
  private readonly tables = new Map<string, { arena: SparseArena; rule: UpdateParams }>();
  private readonly denseRule: UpdateParams;

  constructor(readonly spec: ParamSpec, readonly ps: PsConfig) {
    const rule = (lrScale: number, adagrad: boolean): UpdateParams => ({
      rule: adagrad ? 'adagrad' : ps.nesterov ? 'nesterov' : 'momentum', lr: ps.learningRate * lrScale, mu: ps.momentum, eps: 1e-8,
    });
    this.denseRule = rule(1, false);
    for (const d of spec.dense) {
      const w = initDense(d, spec.seed);
      this.denseW.set(d.name, { w, slot: new Float32Array(w.length) });
    }
    for (const t of spec.tables) {
      this.tables.set(t.name, { arena: new SparseArena(t, spec.seed, true), rule: rule(t.lrScale ?? 1, t.optimizer === 'adagrad') });
    }
  }

  dense(name: string): Float32Array {
    return this.denseW.get(name)!.w;
  }

  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    const a = this.tables.get(table)!.arena;
    for (let i = 0; i < rowIds.length; i++) a.readRow(rowIds[i], out, i * a.dim);
  }

  apply(g: Gradients): void {
    for (const [name, v] of g.dense) {
      const p = this.denseW.get(name)!;
      applyUpdate(this.denseRule, p.w, p.slot, 0, v, 0, v.length, 1);
    }
    for (const [name, s] of g.sparse) {
      const t = this.tables.get(name)!;
      const a = t.arena;
      for (let i = 0; i < s.rows.length; i++) {
        const slot = a.slotOf(s.rows[i]);
        applyUpdate(t.rule, a.weights, a.slot, slot * a.dim, s.grads, i * a.dim, a.dim, 1);
      }
    }
  }
}

// The whole model's parameters and optimizer state in one process, updated through the same
// Updater as the PS shards (clip, per-table rules and rates, lazy per-row slots), so in-process
// training cannot drift from the servers' (test/unit/updater-parity.test.ts). Used where
// training runs without the servers: offline baselines (frozen, periodic retrain), pretraining,
// tuning. With one PS shard the two are bit-identical; with K shards each shard clips its own
// part of a push by that part's norm, which one process cannot mirror.
import type { ParamSpec } from '../param-spec.ts';
import type { DenseState, RowsState } from '../store/types.ts';
import { readCounterAt, readRowSlots } from '../update-rules/read-slots.ts';
import { Updater, type UpdaterConfig } from '../update-rules/updater.ts';

export interface Gradients {
  dense: Map<string, Float32Array>;
  sparse: Map<string, { rows: Int32Array; grads: Float32Array }>;
  /** Newest event time of the batch (ms), for counter tables with decay. */
  eventTimeMs?: number;
}

export class LocalParams {

  readonly updater: Updater;
  constructor(readonly spec: ParamSpec, readonly ps: UpdaterConfig) {
    this.updater = new Updater(spec, ps);
  }

  dense(name: string): Float32Array {
    return this.updater.dense.get(name)!.weights;
  }

  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    const a = this.updater.tables.get(table)!.arena;
    for (let i = 0; i < rowIds.length; i++) a.readRow(rowIds[i], out, i * a.dim);
  }

  /** The rows of `table` held, in arena order (a view). */
  heldRows(table: string): Int32Array {
    const a = this.updater.tables.get(table)!.arena;
    return a.rowIds.subarray(0, a.count);
  }

  /** Slot `slot` of rows of a table (every slot is kept here). */
  readSlots(table: string, slot: string, rowIds: Int32Array, out: Float32Array): void {
    const t = this.updater.tables.get(table)!;
    readRowSlots(t.arena, t, slot, rowIds, out);
  }

  /** Rows of a counter table decayed to `nowMs`, as a Replica reads them. */
  readAt(table: string, rowIds: Int32Array, nowMs: number, out: Float32Array): void {
    const t = this.updater.tables.get(table)!;
    readCounterAt(t.arena, t, rowIds, nowMs, out);
  }

  /** One training step's gradients, clipped and applied as a single-shard PS would (lr factor 1, no staleness). */
  apply(g: Gradients): void {
    this.updater.apply({
      dense: [...g.dense].map(([name, values]) => ({ name, values })),
      sparse: [...g.sparse].map(([table, s]) => ({ table, rows: s.rows, grads: s.grads })),
      eventTimeMs: g.eventTimeMs,
    }, 1);
  }

  /** Every weight and slot held, copied, in the store's shapes (rows in arena order). */
  snapshot(): { dense: DenseState[]; sparse: RowsState[] } {
    const dense = [...this.updater.dense.values()].map((d) => ({ name: d.name, weights: d.weights.slice(), slot: d.slot.slice() }));
    const sparse = [...this.updater.tables.values()].map((t) => {
      const a = t.arena;
      return { table: t.name, rows: a.rowIds.slice(0, a.count), weights: a.weights.slice(0, a.count * a.dim), slot: a.slot.slice(0, a.count * a.slotWidth) };
    });
    return { dense, sparse };
  }
}


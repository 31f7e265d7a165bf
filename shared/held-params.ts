// The values a reader holds (Replica, FrozenWeights): dense tensors and sparse arenas, with
// the optimizer slots it keeps. 'readable' keeps only the slots a reader needs to interpret the
// weights (UpdateRule.readableSlots: the counter's last-update time); 'full' keeps every slot,
// for the replica whose checkpoints a rollback restores as the whole training state.
import type { CheckpointBlob } from './checkpoint.ts';
import { BadMessageError, ConfigError } from './errors.ts';
import { initDense, initRow, type ParamSpec } from './param-spec.ts';
import { SparseArena } from './sparse-arena.ts';
import { readCounterAt, readRowSlots } from './update-rules/read-slots.ts';
import type { ResolvedRule } from './update-rules/registry.ts';
import { resolveDenseRule, resolveTableRule, type UpdaterConfig } from './update-rules/updater.ts';

export type SlotsKept = 'readable' | 'full';

/** Rates only scale steps; a reader resolves rules for their slot layout, which they do not change. */
const LAYOUT_RATES: UpdaterConfig = { learningRate: 1, momentum: 0, nesterov: false, clipNorm: 0 };

export class HeldParams {
  readonly dense = new Map<string, Float32Array>();
  /** Slots of the dense tensors whose slots are kept (rule layout: slot k at k*size). */
  readonly denseSlots = new Map<string, Float32Array>();
  readonly tables = new Map<string, SparseArena>();
  /** Every parameter's rule, as the PS resolves it. */
  readonly rules = new Map<string, ResolvedRule>();

  /** `ps`: the PS settings (the dense tensors' rule); required to keep 'full' state. */
  constructor(readonly spec: ParamSpec, readonly kept: SlotsKept, ps?: UpdaterConfig) {
    if (kept === 'full' && !ps) throw new ConfigError('ps', 'a reader keeping every optimizer slot needs the PS settings (the dense rule)');
    const rates = ps ?? LAYOUT_RATES;
    const dr = resolveDenseRule(rates);
    for (const d of spec.dense) {
      const w = initDense(d, spec.seed);
      this.dense.set(d.name, w);
      this.rules.set(d.name, dr);
      if (this.keeps(dr)) {
        const s = new Float32Array(w.length * dr.hp.slotCount);
        dr.rule.initSlots(w, s, 0, w.length, dr.hp);
        this.denseSlots.set(d.name, s);
      }
    }
    for (const t of spec.tables) {
      const r = resolveTableRule(t, rates);
      this.rules.set(t.name, r);
      this.tables.set(t.name, new SparseArena(t, spec.seed, this.keeps(r) ? r.hp.slotCount : 0));
    }
  }

  private keeps(r: ResolvedRule): boolean {
    return r.hp.slotCount > 0 && (this.kept === 'full' || r.rule.readableSlots);
  }

  /** Whether the slots of parameter `name` are kept here. */
  keepsSlotsOf(name: string): boolean {
    const r = this.rules.get(name);
    return r !== undefined && this.keeps(r);
  }

  /** Floats of slots expected for `count` rows of table `name` (or the dense tensor `name`). */
  slotFloats(name: string, count = 1): number {
    const a = this.tables.get(name);
    if (a) return a.slotWidth * count;
    return this.denseSlots.get(name)?.length ?? 0;
  }

  /** Why a dense tensor's or a table's shipped slots do not fit, or undefined. Slots this
   *  reader does not keep are ignored, so they cannot be wrong. */
  slotError(name: string, slot: Float32Array | undefined, count = 1): string | undefined {
    if (!slot || !this.keepsSlotsOf(name)) return undefined;
    const want = this.slotFloats(name, count);
    return slot.length === want ? undefined : `slots of ${name} have ${slot.length} floats, expected ${want}`;
  }

  /** Sets a dense tensor (checked by the caller); slots absent are reset to agree with it. */
  setDense(name: string, values: Float32Array, slot?: Float32Array): void {
    const w = this.dense.get(name)!;
    w.set(values);
    const s = this.denseSlots.get(name);
    if (!s) return;
    if (slot && slot.length === s.length) s.set(slot);
    else { const r = this.rules.get(name)!; r.rule.initSlots(w, s, 0, w.length, r.hp); }
  }

  /** Sets rows (checked by the caller); kept slots absent or of another width are reset. */
  setRows(table: string, rows: Int32Array, values: Float32Array, slot?: Float32Array): void {
    const a = this.tables.get(table)!;
    if (a.setRows(rows, values, slot) || a.slotWidth === 0) return;
    const r = this.rules.get(table)!;
    for (let i = 0; i < rows.length; i++) r.rule.initSlots(a.weights, a.slot, a.slotOf(rows[i]) * a.dim, a.dim, r.hp);
  }

  /** Drops rows (a forgotten user's): they read as initial values again. Tables not held here are skipped. Returns how many were held. */
  removeRows(tables: readonly { table: string; rows: Int32Array | readonly number[] }[]): number {
    let n = 0;
    for (const x of tables) n += this.tables.get(x.table)?.removeRows(x.rows) ?? 0;
    return n;
  }

  /** Puts a held row back to its initial value and slots. */
  resetRow(a: SparseArena, s: number): void {
    initRow(a.table, a.rowIds[s], this.spec.seed, a.weights, s * a.dim);
    if (a.slotWidth) { const r = this.rules.get(a.table.name)!; r.rule.initSlots(a.weights, a.slot, s * a.dim, a.dim, r.hp); }
  }

  /** Puts a dense tensor back to its initial value and slots. */
  resetDense(name: string): void {
    const d = this.spec.dense.find((x) => x.name === name)!;
    this.setDense(name, initDense(d, this.spec.seed));
  }

  tensor(name: string): Float32Array {
    const d = this.dense.get(name);
    if (!d) throw new BadMessageError(`unknown dense tensor ${name}`);
    return d;
  }

  private arena(table: string): SparseArena {
    const a = this.tables.get(table);
    if (!a) throw new BadMessageError(`unknown table ${table}`);
    return a;
  }

  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    const a = this.arena(table);
    for (let i = 0; i < rowIds.length; i++) a.readRow(rowIds[i], out, i * a.dim);
  }

  /** The rows of `table` held, in arena order (a view). */
  heldRows(table: string): Int32Array {
    const a = this.arena(table);
    return a.rowIds.subarray(0, a.count);
  }

  /** Slot `slot` of rows of `table` (kept slots only), row after row. */
  readSlots(table: string, slot: string, rowIds: Int32Array, out: Float32Array): void {
    readRowSlots(this.arena(table), this.rules.get(table)!, slot, rowIds, out);
  }

  /** A counter table's rows decayed to `nowMs`. */
  readAt(table: string, rowIds: Int32Array, nowMs: number, out: Float32Array): void {
    readCounterAt(this.arena(table), this.rules.get(table)!, rowIds, nowMs, out);
  }

  /** Loads a checkpoint's values and the slots kept here that it carries under the same rule. */
  load(blob: CheckpointBlob): void {
    const rules = blob.rules ?? {};
    const slotOf = (name: string, slot: Float32Array | undefined) => (rules[name] === this.rules.get(name)?.rule.name ? slot ?? undefined : undefined);
    for (const d of blob.dense) {
      const w = this.dense.get(d.name);
      if (!w) continue;
      if (d.values.length !== w.length) throw new BadMessageError(`checkpoint tensor ${d.name} has ${d.values.length} values, expected ${w.length}`);
      this.setDense(d.name, d.values, slotOf(d.name, d.slot));
    }
    for (const x of blob.tables) {
      const a = this.tables.get(x.table);
      if (!a) throw new BadMessageError(`checkpoint names unknown table ${x.table}`);
      if (x.values.length !== x.rows.length * a.dim) throw new BadMessageError(`checkpoint table ${x.table} has a wrong number of values`);
      for (let i = 0; i < x.rows.length; i++) if (x.rows[i] < 0 || x.rows[i] >= a.table.rows) throw new BadMessageError(`checkpoint row id out of range in ${x.table}`);
      this.setRows(x.table, x.rows, x.values, slotOf(x.table, x.slot));
    }
  }

  /** A copy of every value and kept slot, as a checkpoint at `versions`. */
  toBlob(versions: number[]): CheckpointBlob {
    const rules: Record<string, string> = {};
    const dense = [...this.dense].map(([name, v]) => {
      const s = this.denseSlots.get(name);
      if (s) rules[name] = this.rules.get(name)!.rule.name;
      return { name, values: v.slice(), ...(s ? { slot: s.slice() } : {}) };
    });
    const tables = [...this.tables].map(([table, a]) => {
      const x = a.exportRows();
      if (a.slotWidth) rules[table] = this.rules.get(table)!.rule.name;
      return { table, rows: x.rows, values: x.weights, ...(a.slotWidth ? { slot: a.slot.slice(0, a.count * a.slotWidth) } : {}) };
    });
    return { versions: versions.slice(), dense, tables, rules, createdAtMs: Date.now() };
  }

  bytes(): number {
    let n = 0;
    for (const d of this.dense.values()) n += d.byteLength;
    for (const s of this.denseSlots.values()) n += s.byteLength;
    for (const a of this.tables.values()) n += a.bytes;
    return n;
  }
}

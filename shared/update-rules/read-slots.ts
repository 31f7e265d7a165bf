// Reads of a table's slots by readers (Replica, FrozenWeights, LocalParams): one named slot of
// some rows, or a counter's value decayed to a given time. Rows the arena does not hold read
// as a new row would start: initial weights, slots from the rule's initSlots.
import { BadMessageError } from '../errors.ts';
import { initRow } from '../param-spec.ts';
import type { SparseArena } from '../sparse-arena.ts';
import { counterValueAt } from './counter.ts';
import type { ResolvedRule } from './registry.ts';

/** Writes slot `slot` of rows `rowIds` into out[0 .. rowIds.length * dim), row after row. */
export function readRowSlots(a: SparseArena, r: ResolvedRule, slot: string, rowIds: Int32Array, out: Float32Array): void {
  const name = a.table.name;
  const k = r.rule.slotsOf(r.hp).indexOf(slot);
  if (k < 0) throw new BadMessageError(`table ${name} (${r.rule.name}) has no slot ${slot}; it has: ${r.rule.slotsOf(r.hp).join(', ') || 'none'}`);
  const dim = a.dim;
  const sw = a.slotWidth;
  if (sw !== dim * r.hp.slotCount) throw new BadMessageError(`the slots of table ${name} are not kept here`);
  if (out.length < rowIds.length * dim) throw new BadMessageError(`out holds ${out.length} floats, ${rowIds.length * dim} needed`);
  let fresh: { w: Float32Array; s: Float32Array } | undefined;
  for (let i = 0; i < rowIds.length; i++) {
    const s = a.index.get(rowIds[i]);
    if (s >= 0) {
      out.set(a.slot.subarray(s * sw + k * dim, s * sw + (k + 1) * dim), i * dim);
      continue;
    }
    fresh ??= { w: new Float32Array(dim), s: new Float32Array(sw) };
    initRow(a.table, rowIds[i], a.seed, fresh.w, 0);
    r.rule.initSlots(fresh.w, fresh.s, 0, dim, r.hp);
    out.set(fresh.s.subarray(k * dim, (k + 1) * dim), i * dim);
  }
}

/** A counter table's rows decayed to `nowMs` (ms event time) into out, row after row. */
export function readCounterAt(a: SparseArena, r: ResolvedRule, rowIds: Int32Array, nowMs: number, out: Float32Array): void {
  const name = a.table.name;
  if (r.rule.name !== 'counter') throw new BadMessageError(`table ${name} is not a counter (${r.rule.name})`);
  if (!Number.isFinite(nowMs)) throw new BadMessageError('nowMs must be a finite time in ms');
  const dim = a.dim;
  if (out.length < rowIds.length * dim) throw new BadMessageError(`out holds ${out.length} floats, ${rowIds.length * dim} needed`);
  const decays = r.hp.tauMs > 0;
  if (decays && a.slotWidth !== dim * r.hp.slotCount) throw new BadMessageError(`the last-update times of table ${name} are not kept here`);
  for (let i = 0; i < rowIds.length; i++) {
    const s = a.index.get(rowIds[i]);
    // Counter tables start at zeros: an absent row is 0 at any time.
    if (s < 0) out.fill(0, i * dim, (i + 1) * dim);
    else if (!decays) out.set(a.weights.subarray(s * dim, (s + 1) * dim), i * dim);
    else counterValueAt(a.weights, a.slot, s * dim, dim, r.hp, nowMs, out, i * dim);
  }
}

// A fixed copy of the whole model at a known set of shard versions: what the validation gate
// evaluates and what inference serves when a serving pointer exists. It travels as one
// checkpoint blob (shared/checkpoint.ts). Inference keeps the readable slots only (a counter's
// last-update time); the gate's copy of its replica keeps every slot, so that the checkpoint it
// saves is the whole training state a rollback restores.
import type { CheckpointBlob } from './checkpoint.ts';
import { BadMessageError } from './errors.ts';
import { HeldParams, type SlotsKept } from './held-params.ts';
import type { ParamSpec } from './param-spec.ts';
import type { Replica } from './replica.ts';
import type { UpdaterConfig } from './update-rules/updater.ts';

export { decodeCheckpoint, encodeCheckpoint, CHECKPOINT_FORMAT, type CheckpointBlob } from './checkpoint.ts';

export class FrozenWeights {
  private readonly held: HeldParams;
  readonly versions: number[];

  /** `slots`/`ps` as for a Replica: 'readable' by default; 'full' needs the PS settings. */
  constructor(readonly spec: ParamSpec, blob: CheckpointBlob, slots: SlotsKept = 'readable', ps?: UpdaterConfig) {
    this.versions = blob.versions.slice();
    this.held = new HeldParams(spec, slots, ps);
    const named = new Set(blob.dense.map((d) => d.name));
    for (const d of spec.dense) if (!named.has(d.name)) throw new BadMessageError(`checkpoint lacks tensor ${d.name}`);
    this.held.load(blob);
  }

  dense(name: string): Float32Array {
    return this.held.tensor(name);
  }

  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    this.held.readRows(table, rowIds, out);
  }

  heldRows(table: string): Int32Array {
    return this.held.heldRows(table);
  }

  readSlots(table: string, slot: string, rowIds: Int32Array, out: Float32Array): void {
    this.held.readSlots(table, slot, rowIds, out);
  }

  readAt(table: string, rowIds: Int32Array, nowMs: number, out: Float32Array): void {
    this.held.readAt(table, rowIds, nowMs, out);
  }

  /** A copy of the replica with the slots it keeps (all of them for a 'full' replica). */
  static fromReplica(r: Replica): FrozenWeights {
    return new FrozenWeights(r.spec, r.checkpoint(), r.held.kept, r.held.kept === 'full' ? r.ps : undefined);
  }

  /** Drops a forgotten user's rows from this copy (see HeldParams.removeRows). */
  removeRows(tables: readonly { table: string; rows: Int32Array | readonly number[] }[]): number {
    return this.held.removeRows(tables);
  }

  toBlob(): CheckpointBlob {
    return this.held.toBlob(this.versions);
  }
}

// The checkpoint blob: a copy of the whole model at a known set of shard versions, as it is
// stored (Redis) and sent (msgpack, typed arrays as raw bytes). Its own module, so that the
// Replica that makes one and FrozenWeights that reads one do not import each other.
// Format 2 adds the optimizer slots: a rollback restores the training state, not only the
// weights, so a shard continues exactly as it would have from the checkpoint's versions.
import { decode, encode } from './codec.ts';
import { BadMessageError } from './errors.ts';

/** The format this code writes and the newest it reads; absent = 1 (weights only). */
export const CHECKPOINT_FORMAT = 2;

export interface CheckpointBlob {
  format?: number;
  versions: number[];
  /** `slot`: the tensor's slots in the rule's layout (shared/update-rules/types.ts). */
  dense: { name: string; values: Float32Array; slot?: Float32Array }[];
  /** `slot`: dim x slotCount floats per row, in row order. */
  tables: { table: string; rows: Int32Array; values: Float32Array; slot?: Float32Array }[];
  /** The update rule that wrote the slots of each parameter that carries some: a restore
   *  under another rule resets them instead of misreading them. */
  rules?: Record<string, string>;
  /**
   * Per event shard, the stream sequence at or below which every message was acked before the
   * blob was taken (so its updates are in it): where a shard restored from this checkpoint
   * after a store loss has the events since trained again. Absent in older checkpoints.
   */
  eventFloors?: number[];
  createdAtMs: number;
}

export const encodeCheckpoint = (b: CheckpointBlob): Uint8Array => encode({ ...b, format: CHECKPOINT_FORMAT });

function bad(what: string): never {
  throw new BadMessageError(`not a checkpoint: ${what}`);
}

/** Decodes and checks the shape (types, not the model: FrozenWeights and the PS check names). */
export function decodeCheckpoint(bytes: Uint8Array): CheckpointBlob {
  let o: CheckpointBlob;
  try {
    o = decode(bytes) as CheckpointBlob;
  } catch {
    bad('undecodable');
  }
  if (!o || typeof o !== 'object' || !Array.isArray(o.versions) || !Array.isArray(o.dense) || !Array.isArray(o.tables)) bad('versions, dense and tables must be arrays');
  const format = o.format ?? 1;
  if (!Number.isInteger(format) || format < 1 || format > CHECKPOINT_FORMAT) bad(`format ${String(o.format)} is not one this reader knows (1..${CHECKPOINT_FORMAT})`);
  const slotOk = (s: unknown) => s === undefined || s === null || s instanceof Float32Array;
  for (const d of o.dense) {
    if (!d || typeof d.name !== 'string' || !(d.values instanceof Float32Array) || !slotOk(d.slot)) bad('a dense entry needs a name, Float32Array values and an optional Float32Array slot');
  }
  for (const x of o.tables) {
    if (!x || typeof x.table !== 'string' || !(x.rows instanceof Int32Array) || !(x.values instanceof Float32Array) || !slotOk(x.slot)) {
      bad('a table entry needs a table name, Int32Array rows, Float32Array values and an optional Float32Array slot');
    }
  }
  if (o.eventFloors !== undefined && (!Array.isArray(o.eventFloors) || o.eventFloors.some((x) => !Number.isSafeInteger(x) || x < 0))) bad('eventFloors must be stream sequences');
  if (o.rules !== undefined && (o.rules === null || typeof o.rules !== 'object' || Object.values(o.rules).some((r) => typeof r !== 'string'))) bad('rules must map parameter names to rule names');
  return o;
}

// The checkpoint blob: a copy of the whole model at a known set of shard versions, as it is
// stored (Redis) and sent (msgpack, typed arrays as raw bytes). Its own module, so that the
// Replica that makes one and FrozenWeights that reads one do not import each other.
import { decode, encode } from './codec.ts';
import { BadMessageError } from './errors.ts';

export interface CheckpointBlob {
  versions: number[];
  dense: { name: string; values: Float32Array }[];
  tables: { table: string; rows: Int32Array; values: Float32Array }[];
  createdAtMs: number;
}

export const encodeCheckpoint = (b: CheckpointBlob): Uint8Array => encode(b);

export function decodeCheckpoint(bytes: Uint8Array): CheckpointBlob {
  const o = decode(bytes) as CheckpointBlob;
  if (!o || !Array.isArray(o.versions) || !Array.isArray(o.dense) || !Array.isArray(o.tables)) {
    throw new BadMessageError('not a checkpoint');
  }
  return o;
}

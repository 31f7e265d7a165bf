// The wire codec. msgpackr packs a Float32Array as garbage bytes unless moreTypes is set (no
// error, no warning): every message goes through this one Packr so that can't happen.
import { Packr } from 'msgpackr';
import { BadMessageError } from './errors.ts';

const packr = new Packr({ moreTypes: true, useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes bytes, turning any msgpack failure into a BadMessageError the caller can count. */
export function decode(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new BadMessageError(`undecodable message (${bytes.length} bytes): ${(err as Error).message}`, err);
  }
}

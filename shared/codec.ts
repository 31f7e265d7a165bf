// The wire codec. msgpackr packs a Float32Array as garbage bytes unless moreTypes is set (no
// error, no warning): every message goes through this one Packr so that can't happen.
import { Packr, addExtension } from 'msgpackr';
import { BadMessageError } from './errors.ts';

const packr = new Packr({ moreTypes: true, useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

// msgpackr's typed arrays (ext 0x74: a type code, then the elements' bytes), by type code.
export const TYPED = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;
export type TypedArrayClass = (typeof TYPED)[number];

/**
 * A typed array as it came on the wire, not copied: `bytes` views the message it was decoded
 * from (its elements' bytes, at any alignment). decodeViews gives these instead of typed arrays.
 */
export class WireArray {
  constructor(readonly type: TypedArrayClass, readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.length / this.type.BYTES_PER_ELEMENT;
  }

  /** Copies the elements into `dst` (a typed array of `length` elements) and returns it. */
  into<T extends Float32Array | Int32Array>(dst: T): T {
    new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(this.bytes);
    return dst;
  }
}

let views = false;
// Replaces msgpackr's own ext 0x74 reader (the same result unless decodeViews is running): that
// one copies every typed array into a new buffer, a copy and an allocation per array of a push.
addExtension({
  type: 0x74,
  unpack: (data: Uint8Array) => {
    const code = data[0];
    const T = TYPED[code];
    if (views && T) {
      const bytes = data.subarray(1);
      if (bytes.length % T.BYTES_PER_ELEMENT !== 0) throw new RangeError(`byte length of ${T.name} should be a multiple of ${T.BYTES_PER_ELEMENT}`);
      return new WireArray(T, bytes);
    }
    // A new, aligned buffer
    const buffer = Uint8Array.prototype.slice.call(data, 1).buffer;
    if (T) return new T(buffer);
    if (code === 16) return buffer;
    if (code === 17) return new DataView(buffer);
    throw new Error(`Could not find typed array for code ${code}`);
  },
});

/** Decodes bytes, turning any msgpack failure into a BadMessageError the caller can count. */
export function decode(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new BadMessageError(`undecodable message (${bytes.length} bytes): ${(err as Error).message}`, err);
  }
}

/**
 * decode, but every typed array comes as a WireArray viewing `bytes`: nothing is copied until
 * the caller puts the elements where they are needed (parsePush).
 */
export function decodeViews(bytes: Uint8Array): unknown {
  views = true;
  try {
    return decode(bytes);
  } finally {
    views = false;
  }
}

// A worker's gradient push written as msgpack by hand: its size computed first, one buffer
// allocated, the typed arrays copied in once. The same message msgpackr writes (the same types
// and values decoded; test/unit/push-encode.test.ts), at a fraction of the cost: msgpackr's
// generic packer took ~60-100 us for a push of 500 rows x 16 (most of it walking the 26 tables'
// objects and matching each typed array against its extension classes) and grew its buffer by
// copying. A push of any other shape (a field of the wrong type, as the bad-input tests send)
// returns null, for msgpackr to write as it is.
import type { GradientPush } from './push-types.ts';

const F32 = 7, I32 = 5; // msgpackr's typed-array codes (ext 0x74)

/** Own enumerable keys, counted without the array Object.keys makes. */
function keyCount(o: object): number {
  let n = 0;
  for (const k in o) if (Object.hasOwn(o, k)) n++;
  return n;
}

const isPlain = (o: unknown): o is Record<string, unknown> => o !== null && typeof o === 'object' && Object.getPrototypeOf(o) === Object.prototype;

/** Bytes of s in UTF-8: counted in JavaScript for short ASCII (keys, names), a native call costs more. */
function utf8Bytes(s: string): number {
  if (s.length < 64) {
    let ascii = true;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) { ascii = false; break; }
    if (ascii) return s.length;
  }
  return Buffer.byteLength(s, 'utf8');
}

/** Bytes of a string's header and UTF-8. */
function strSize(s: string): number {
  const n = utf8Bytes(s);
  return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

function numSize(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  return 9;
}

const lenSize = (n: number) => (n < 0x10 ? 1 : n < 0x10000 ? 3 : 5);

function extSize(a: Float32Array | Int32Array): number {
  const n = a.byteLength + 1;
  return n + (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + 1;
}

class Writer {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Buffer) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  str(s: string): void {
    const n = utf8Bytes(s);
    const b = this.buf;
    if (n < 0x20) b[this.pos++] = 0xa0 | n;
    else if (n < 0x100) { b[this.pos++] = 0xd9; b[this.pos++] = n; }
    else if (n < 0x10000) { b[this.pos++] = 0xda; this.view.setUint16(this.pos, n); this.pos += 2; }
    else { b[this.pos++] = 0xdb; this.view.setUint32(this.pos, n); this.pos += 4; }
    if (n === s.length && n < 64) {
      for (let i = 0; i < n; i++) b[this.pos++] = s.charCodeAt(i);
    } else {
      this.pos += b.write(s, this.pos, 'utf8');
    }
  }

  num(v: number): void {
    const b = this.buf;
    if (v >>> 0 === v) {
      if (v < 0x80) b[this.pos++] = v;
      else if (v < 0x100) { b[this.pos++] = 0xcc; b[this.pos++] = v; }
      else if (v < 0x10000) { b[this.pos++] = 0xcd; this.view.setUint16(this.pos, v); this.pos += 2; }
      else { b[this.pos++] = 0xce; this.view.setUint32(this.pos, v); this.pos += 4; }
    } else if (v >> 0 === v) {
      if (v >= -0x20) b[this.pos++] = v & 0xff;
      else if (v >= -0x80) { b[this.pos++] = 0xd0; b[this.pos++] = v & 0xff; }
      else if (v >= -0x8000) { b[this.pos++] = 0xd1; this.view.setInt16(this.pos, v); this.pos += 2; }
      else { b[this.pos++] = 0xd2; this.view.setInt32(this.pos, v); this.pos += 4; }
    } else {
      b[this.pos++] = 0xcb;
      this.view.setFloat64(this.pos, v);
      this.pos += 8;
    }
  }

  /** A key: its fixstr bytes, made once. */
  key(k: Uint8Array): void {
    const b = this.buf;
    for (let i = 0; i < k.length; i++) b[this.pos++] = k[i];
  }

  /** A map (0x80) or array (0x90) header of n entries. */
  head(fix: 0x80 | 0x90, n: number): void {
    const b = this.buf;
    if (n < 0x10) b[this.pos++] = fix | n;
    else if (n < 0x10000) { b[this.pos++] = fix === 0x80 ? 0xde : 0xdc; this.view.setUint16(this.pos, n); this.pos += 2; }
    else { b[this.pos++] = fix === 0x80 ? 0xdf : 0xdd; this.view.setUint32(this.pos, n); this.pos += 4; }
  }

  typed(a: Float32Array | Int32Array, code: number): void {
    const b = this.buf;
    const n = a.byteLength + 1;
    if (n < 0x100) { b[this.pos++] = 0xc7; b[this.pos++] = n; }
    else if (n < 0x10000) { b[this.pos++] = 0xc8; this.view.setUint16(this.pos, n); this.pos += 2; }
    else { b[this.pos++] = 0xc9; this.view.setUint32(this.pos, n); this.pos += 4; }
    b[this.pos++] = 0x74;
    b[this.pos++] = code;
    b.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), this.pos);
    this.pos += a.byteLength;
  }
}

// The keys, each as its fixstr bytes.
const fixstr = (k: string) => Uint8Array.from([0xa0 | k.length, ...Array.from(k, (c) => c.charCodeAt(0))]);
const K = {
  worker: fixstr('worker'), seq: fixstr('seq'), baseVersion: fixstr('baseVersion'), dense: fixstr('dense'), sparse: fixstr('sparse'),
  examples: fixstr('examples'), newest: fixstr('newestAcceptedAtMs'), mean: fixstr('meanAcceptedAtMs'), eventTime: fixstr('eventTimeMs'),
  name: fixstr('name'), values: fixstr('values'), table: fixstr('table'), rows: fixstr('rows'), grads: fixstr('grads'),
};
const KEY_BYTES = (k: Uint8Array) => k.length;

// Messages are cut from a slab, as msgpackr does: a new ArrayBuffer per push of 0.5 MB cost
// more than the encoding (allocation and the collections it triggers). A slab is never written
// again once a message is cut from it, so each message stays valid for as long as it is held.
let slab = Buffer.allocUnsafeSlow(0);
let slabUsed = 0;
function take(size: number): Buffer {
  if (slabUsed + size > slab.length) {
    slab = Buffer.allocUnsafeSlow(Math.max(1 << 20, 4 * size));
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed = (slabUsed + size + 7) & ~7;
  return out;
}

/**
 * Encode buffers to use again, for a sender that knows when a message is done with: fresh
 * memory cost more than the copy into it (~0.1 ms of page faults per push of 8,000 x 16 here,
 * the copy itself 20-30 us). The worker's GradientPusher gives a push's bytes back once the
 * shard has replied to it: by then every send of them (retries included) has been flushed, and
 * the shard has decoded it. A message the sender gives up on is never given back.
 */
export class PushBuffers {
  private free: ArrayBuffer[] = [];
  private readonly owned = new WeakSet<ArrayBuffer>();

  constructor(private readonly keep = 4) {}

  /** A Buffer of `size` bytes over a free buffer of this pool, or a new one. */
  take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].byteLength >= size && (best < 0 || this.free[i].byteLength < this.free[best].byteLength)) best = i;
    }
    let ab: ArrayBuffer;
    if (best >= 0) ab = this.free.splice(best, 1)[0];
    else {
      ab = new ArrayBuffer(Math.max(4096, Math.ceil(size * 1.25)));
      this.owned.add(ab);
    }
    return Buffer.from(ab, 0, size);
  }

  /** Takes back the bytes of a message take() gave (others are ignored): they may be written again. */
  give(bytes: Uint8Array): void {
    const ab = bytes.buffer as ArrayBuffer;
    if (!this.owned.has(ab) || this.free.includes(ab)) return;
    this.free.push(ab);
    if (this.free.length > this.keep) {
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i].byteLength < this.free[smallest].byteLength) smallest = i;
      this.free.splice(smallest, 1);
    }
  }
}

/**
 * The push as msgpack, or null when it is not of the plain shape (then msgpackr writes it). Its
 * bytes are cut from a slab never written again, or taken from `buffers` when given.
 */
export function encodePushFast(p: GradientPush, buffers?: PushBuffers): Uint8Array | null {
  if (!isPlain(p) || typeof p.worker !== 'string' || typeof p.seq !== 'number' || typeof p.baseVersion !== 'number'
    || typeof p.examples !== 'number' || typeof p.newestAcceptedAtMs !== 'number' || typeof p.meanAcceptedAtMs !== 'number'
    || (p.eventTimeMs !== undefined && typeof p.eventTimeMs !== 'number') || !Array.isArray(p.dense) || !Array.isArray(p.sparse)) return null;
  const withTime = p.eventTimeMs !== undefined;
  // Any other key (or an eventTimeMs present but undefined) is left to msgpackr.
  if (keyCount(p) !== (withTime ? 9 : 8)) return null;
  let size = 1 + KEY_BYTES(K.worker) + strSize(p.worker) + KEY_BYTES(K.seq) + numSize(p.seq) + KEY_BYTES(K.baseVersion) + numSize(p.baseVersion)
    + KEY_BYTES(K.dense) + lenSize(p.dense.length) + KEY_BYTES(K.sparse) + lenSize(p.sparse.length)
    + KEY_BYTES(K.examples) + numSize(p.examples) + KEY_BYTES(K.newest) + numSize(p.newestAcceptedAtMs) + KEY_BYTES(K.mean) + numSize(p.meanAcceptedAtMs)
    + (withTime ? KEY_BYTES(K.eventTime) + numSize(p.eventTimeMs!) : 0);
  for (const d of p.dense) {
    if (!isPlain(d) || typeof d.name !== 'string' || !(d.values instanceof Float32Array) || keyCount(d) !== 2) return null;
    size += 1 + KEY_BYTES(K.name) + strSize(d.name) + KEY_BYTES(K.values) + extSize(d.values);
  }
  for (const s of p.sparse) {
    if (!isPlain(s) || typeof s.table !== 'string' || !(s.rows instanceof Int32Array) || !(s.grads instanceof Float32Array) || keyCount(s) !== 3) return null;
    size += 1 + KEY_BYTES(K.table) + strSize(s.table) + KEY_BYTES(K.rows) + extSize(s.rows) + KEY_BYTES(K.grads) + extSize(s.grads);
  }
  const w = new Writer(buffers ? buffers.take(size) : take(size));
  w.head(0x80, withTime ? 9 : 8);
  w.key(K.worker); w.str(p.worker);
  w.key(K.seq); w.num(p.seq);
  w.key(K.baseVersion); w.num(p.baseVersion);
  w.key(K.dense); w.head(0x90, p.dense.length);
  for (const d of p.dense) {
    w.head(0x80, 2);
    w.key(K.name); w.str(d.name);
    w.key(K.values); w.typed(d.values, F32);
  }
  w.key(K.sparse); w.head(0x90, p.sparse.length);
  for (const s of p.sparse) {
    w.head(0x80, 3);
    w.key(K.table); w.str(s.table);
    w.key(K.rows); w.typed(s.rows, I32);
    w.key(K.grads); w.typed(s.grads, F32);
  }
  w.key(K.examples); w.num(p.examples);
  w.key(K.newest); w.num(p.newestAcceptedAtMs);
  w.key(K.mean); w.num(p.meanAcceptedAtMs);
  if (withTime) { w.key(K.eventTime); w.num(p.eventTimeMs!); }
  if (w.pos !== size) throw new Error(`encodePush wrote ${w.pos} bytes where it counted ${size}`);
  return w.buf;
}

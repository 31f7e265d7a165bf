// A gradient push decoded by hand when it is of the shape a worker writes (push-encode.ts, or
// msgpackr's encoding of the same push): the known keys, ASCII strings, integer and float64
// numbers, typed arrays as views of the message (WireArray). msgpackr's generic reader (its
// string extraction, and an extension call and two Buffer views per typed array) took ~40 us of
// a push of 500 rows x 16 in bench/push.ts. The result is exactly what decodeViews returns for
// the same bytes (test/unit/push-decode.test.ts compares them over the corpus and mutated pushes);
// at anything else (another key, type or format, a byte out of place) it returns null and
// decodeViews reads the message, so every error stays msgpackr's and parsePush's.
import { TYPED, WireArray } from './codec.ts';

// The keys, matched on their bytes (a fixstr each, as msgpackr and encodePush write them).
const KEYS = [
  'worker', 'seq', 'baseVersion', 'dense', 'sparse', 'examples', 'newestAcceptedAtMs', 'meanAcceptedAtMs', 'eventTimeMs',
  'name', 'values', 'table', 'rows', 'grads',
] as const;
type Key = (typeof KEYS)[number];
const K = Object.fromEntries(KEYS.map((k, i) => [k, i])) as Record<Key, number>;
const hashBytes = (b: ArrayLike<number>, at: number, n: number) => {
  let h = n;
  for (let i = at; i < at + n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h;
};
const KEY_BYTES = KEYS.map((k) => Uint8Array.from(k, (c) => c.charCodeAt(0)));
const KEY_HASH = Int32Array.from(KEY_BYTES, (k) => hashBytes(k, 0, k.length));
const TOP_KEYS = (1 << K.name) - 1;
const DENSE_KEYS = (1 << K.name) | (1 << K.values);
const SPARSE_KEYS = (1 << K.table) | (1 << K.rows) | (1 << K.grads);

// Names seen before, by a hash of their bytes: a push names the same tables every time, so they
// are neither built nor hashed again (msgpackr keeps such a cache for keys).
const CACHE = 1024;
const names: (string | undefined)[] = new Array(CACHE);

/** Thrown inside to give up: the message is left to msgpackr. */
const GIVE_UP = Symbol('give up');

class Reader {
  pos = 0;
  private readonly view: DataView;
  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  get end(): number {
    return this.b.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.b.length) throw GIVE_UP;
  }

  private u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** A map's entry count; gives up at anything but a map. */
  mapHead(): number {
    const c = this.u8();
    if (c >= 0x80 && c <= 0x8f) return c & 0x0f;
    if (c === 0xde) return this.u16();
    if (c === 0xdf) return this.u32();
    throw GIVE_UP;
  }

  arrayHead(): number {
    const c = this.u8();
    let n: number;
    if (c >= 0x90 && c <= 0x9f) n = c & 0x0f;
    else if (c === 0xdc) n = this.u16();
    else if (c === 0xdd) n = this.u32();
    else throw GIVE_UP;
    // Each entry takes a byte at least: a longer count is a broken message.
    if (n > this.b.length - this.pos) throw GIVE_UP;
    return n;
  }

  /** An ASCII string (any str format); gives up at anything else. */
  str(): string {
    const c = this.u8();
    let n: number;
    if (c >= 0xa0 && c <= 0xbf) n = c & 0x1f;
    else if (c === 0xd9) n = this.u8();
    else if (c === 0xda) n = this.u16();
    else if (c === 0xdb) n = this.u32();
    else throw GIVE_UP;
    this.need(n);
    const b = this.b, at = this.pos;
    this.pos = at + n;
    let h = n;
    for (let i = at; i < at + n; i++) {
      if (b[i] >= 0x80) throw GIVE_UP;
      h = Math.imul(h ^ b[i], 0x01000193);
    }
    const slot = (h >>> 0) % CACHE;
    const held = names[slot];
    if (held !== undefined && held.length === n && sameAscii(held, b, at)) return held;
    let s = '';
    for (let i = at; i < at + n; i++) s += String.fromCharCode(b[i]);
    if (n <= 64) names[slot] = s;
    return s;
  }

  /** The index in KEYS of the fixstr key here; gives up at any other. */
  key(): number {
    const c = this.u8();
    if (c < 0xa0 || c > 0xbf) throw GIVE_UP;
    const n = c & 0x1f;
    this.need(n);
    const b = this.b, at = this.pos;
    this.pos = at + n;
    const h = hashBytes(b, at, n);
    for (let k = 0; k < KEY_HASH.length; k++) {
      if (KEY_HASH[k] !== h) continue;
      const kb = KEY_BYTES[k];
      if (kb.length !== n) break;
      for (let i = 0; i < n; i++) if (kb[i] !== b[at + i]) throw GIVE_UP;
      return k;
    }
    throw GIVE_UP;
  }

  /** An integer of up to 32 bits or a float64; nil too when `nil`. */
  num(nil: boolean): number | null {
    const c = this.u8();
    if (c <= 0x7f) return c;
    if (c >= 0xe0) return c - 0x100;
    switch (c) {
      case 0xc0: if (nil) return null; throw GIVE_UP;
      case 0xcc: return this.u8();
      case 0xcd: return this.u16();
      case 0xce: return this.u32();
      case 0xd0: { const v = this.u8(); return v >= 0x80 ? v - 0x100 : v; }
      case 0xd1: { this.need(2); const v = this.view.getInt16(this.pos); this.pos += 2; return v; }
      case 0xd2: { this.need(4); const v = this.view.getInt32(this.pos); this.pos += 4; return v; }
      case 0xcb: { this.need(8); const v = this.view.getFloat64(this.pos); this.pos += 8; return v; }
      default: throw GIVE_UP;
    }
  }

  /** msgpackr's typed array (ext 0x74: its type code, then the elements' bytes), as a view. */
  typed(): WireArray {
    const c = this.u8();
    let n: number;
    if (c === 0xc7) n = this.u8();
    else if (c === 0xc8) n = this.u16();
    else if (c === 0xc9) n = this.u32();
    else if (c === 0xd4) n = 1;
    else throw GIVE_UP;
    // type, code, elements
    this.need(1 + n);
    if (this.b[this.pos] !== 0x74 || n < 1) throw GIVE_UP;
    const T = TYPED[this.b[this.pos + 1]];
    const at = this.pos + 2, bytes = n - 1;
    if (!T || bytes % T.BYTES_PER_ELEMENT !== 0) throw GIVE_UP;
    this.pos = at + bytes;
    // (a plain view: cheaper to make than a Buffer's subarray)
    return new WireArray(T, new Uint8Array(this.b.buffer, this.b.byteOffset + at, bytes));
  }
}

function sameAscii(s: string, b: Uint8Array, at: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[at + i]) return false;
  return true;
}

/** A dense or sparse entry: a map of the `allowed` keys (a bit each), each at most once. */
function entry(r: Reader, allowed: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  let seen = 0;
  for (let n = r.mapHead(); n > 0; n--) {
    const k = r.key();
    if (!(allowed & (1 << k)) || seen & (1 << k)) throw GIVE_UP;
    seen |= 1 << k;
    switch (k) {
      case K.name: o.name = r.str(); break;
      case K.values: o.values = r.typed(); break;
      case K.table: o.table = r.str(); break;
      case K.rows: o.rows = r.typed(); break;
      default: o.grads = r.typed(); break;
    }
  }
  return o;
}

/** The push's fields as decodeViews gives them, or null: then decodeViews must read it. */
export function decodePushFast(bytes: Uint8Array): Record<string, unknown> | null {
  const r = new Reader(bytes);
  try {
    const o: Record<string, unknown> = {};
    let seen = 0;
    for (let n = r.mapHead(); n > 0; n--) {
      const k = r.key();
      if (!(TOP_KEYS & (1 << k)) || seen & (1 << k)) throw GIVE_UP;
      seen |= 1 << k;
      if (k === K.worker) o.worker = r.str();
      else if (k === K.dense || k === K.sparse) {
        const allowed = k === K.dense ? DENSE_KEYS : SPARSE_KEYS;
        const list: Record<string, unknown>[] = [];
        for (let m = r.arrayHead(); m > 0; m--) list.push(entry(r, allowed));
        o[KEYS[k]] = list;
      } else {
        o[KEYS[k]] = r.num(k === K.eventTimeMs);
      }
    }
    return r.pos === r.end ? o : null;
  } catch (err) {
    if (err === GIVE_UP) return null;
    throw err;
  }
}

// Turns corpus JSON into the values a case sends. JSON has no typed arrays, NaN or raw bytes,
// so the corpus spells them as one-key objects:
//   {"$f32": [1, "NaN", "Infinity"]}  {"$f64": [...]}  {"$i32": [...]}  {"$u32": [...]}  {"$u8": [...]}
//   {"$f32fill": [n, value]}  {"$num": "NaN" | "Infinity" | "-Infinity"}  {"$repeat": ["ab", n]}
//   {"$array": [n, value]} (a plain array of n copies)
// and, for a whole message only: {"$hex": "c1ff"}, {"$zeros": n}, {"$truncate": [value, n]}.
import { readFileSync } from 'node:fs';
import { encode } from '../../shared/index.ts';

export interface CorpusFile<C> { description: string; config?: Record<string, unknown>; cases: C[] }

export function loadCorpus<C>(name: string): CorpusFile<C> {
  return JSON.parse(readFileSync(new URL(name, import.meta.url), 'utf8')) as CorpusFile<C>;
}

const numOf = (x: unknown): number => (typeof x === 'string' ? Number(x) : (x as number));

/** JSON value -> JS value (typed arrays, non-finite numbers, long strings). */
export function revive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revive);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0].startsWith('$')) {
    const a = o[keys[0]] as unknown[];
    switch (keys[0]) {
      case '$f32': return Float32Array.from(a.map(numOf));
      case '$f64': return Float64Array.from(a.map(numOf));
      case '$i32': return Int32Array.from(a.map(numOf));
      case '$u32': return Uint32Array.from(a.map(numOf));
      case '$u8': return Uint8Array.from(a.map(numOf));
      case '$f32fill': return new Float32Array(a[0] as number).fill(numOf(a[1]));
      case '$num': return Number(o.$num);
      case '$repeat': return (a[0] as string).repeat(a[1] as number);
      case '$array': return Array.from({ length: a[0] as number }, () => revive(a[1]));
      default: break;
    }
  }
  const out: Record<string, unknown> = {};
  // defineProperty: a "__proto__" key must stay an own key, not become the prototype.
  for (const k of keys) Object.defineProperty(out, k, { value: revive(o[k]), enumerable: true, writable: true, configurable: true });
  return out;
}

/** A whole wire message: raw bytes, or a value encoded with the project's codec. */
export function messageBytes(input: unknown): Uint8Array {
  const o = input as Record<string, unknown>;
  if (o && typeof o === 'object' && '$hex' in o) return Uint8Array.from(Buffer.from(o.$hex as string, 'hex'));
  if (o && typeof o === 'object' && '$zeros' in o) return new Uint8Array(o.$zeros as number);
  if (o && typeof o === 'object' && '$truncate' in o) {
    const [value, n] = o.$truncate as [unknown, number];
    return encode(revive(value)).slice(0, n);
  }
  return encode(revive(input));
}

/** The body bytes of an HTTP case: `json` (stringified), `body` (text), `bodyHex`, or `bodyRepeat`. */
export interface HttpInput {
  method?: string;
  path?: string;
  contentType?: string;
  /** Sent with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  /** Further request headers, e.g. Idempotency-Key. */
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
  bodyHex?: string;
  bodyRepeat?: { prefix?: string; unit: string; times: number; suffix?: string };
}

export function httpBody(i: HttpInput): Buffer {
  if (i.json !== undefined) return Buffer.from(JSON.stringify(revive(i.json)));
  if (i.bodyHex !== undefined) return Buffer.from(i.bodyHex, 'hex');
  if (i.bodyRepeat) return Buffer.from(`${i.bodyRepeat.prefix ?? ''}${i.bodyRepeat.unit.repeat(i.bodyRepeat.times)}${i.bodyRepeat.suffix ?? ''}`);
  return Buffer.from(i.body ?? '');
}

// Messages between workers, PS shards and replicas, and their checks on receipt. A parse
// function either returns a well-typed message or throws BadMessageError: nothing downstream
// ever sees a field of the wrong type. Checks against the model (names, shapes, ownership)
// are the receiver's, since only it knows the ParamSpec and its shard.
import { WireArray, decode, decodeViews, encode } from './codec.ts';
import { encodePushFast, type PushBuffers } from './push-encode.ts';
import { decodePushFast } from './push-decode.ts';
import { BadMessageError, NonFiniteError, PayloadTooLargeError, type WireError } from './errors.ts';

/** Bounds on messages, checked before anything is decoded. */
export const WIRE_LIMITS = {
  /** Largest push or delta accepted (the chunk reassembler allows 256 MiB). Default 64 MiB. */
  maxMessageBytes: 64 * 1024 * 1024,
} as const;

export type { DenseGrad, SparseGrad, GradientPush } from './push-types.ts';
import type { GradientPush } from './push-types.ts';

export type PushReply =
  | { ok: true; version: number; epoch: number; duplicate: boolean }
  | { ok: false; error: WireError };

/** `slot`: the update rule's slots of the tensor (slot k at [k*size, (k+1)*size)), when shipped. */
export interface DenseValues { name: string; values: Float32Array; slot?: Float32Array }
/** `slot`: the rows' slots, dim x slotCount floats per row in row order (the store's layout). */
export interface RowValues {
  table: string;
  rows: Int32Array;
  values: Float32Array;
  slot?: Float32Array;
  /** Tombstones (wire 3): rows the shard evicted since the last delta, to drop before `rows` apply. */
  removed?: Int32Array;
}

/**
 * The delta wire version this code writes and the newest it reads. 1 (or absent): weights
 * only. 2: rows and tensors may carry `slot`. 3: rows may carry `removed` (tombstones). A
 * version-1 reader ignores the new field (the weights apply as before); a reader refuses a
 * version newer than its own, since a newer writer may have changed what a field means. A
 * shard writes 3 only on a delta with tombstones, which an older reader must not apply as if
 * the rows were still there: it refuses it and resyncs from the store, which has them deleted.
 */
export const DELTA_WIRE_VERSION = 3;
/** The wire version of a delta without tombstones. */
export const DELTA_WIRE_NO_TOMBSTONES = 2;

/** What changed on a shard between two versions: absolute values, so applying twice is harmless. */
export interface WeightDelta {
  /** DELTA_WIRE_VERSION of the writer; absent = 1. */
  wire?: number;
  shard: number;
  epoch: number;
  /** The version this epoch of the shard started from (restored from the store). */
  epochStartVersion: number;
  /**
   * The epoch that wrote the snapshot this epoch restored; 0 when it restored none (a new
   * model, or a store that had lost the shard's state). Epoch B continues epoch A's updates
   * up to epochStartVersion exactly when B.restoredEpoch === A.
   */
  restoredEpoch: number;
  fromVersion: number;
  toVersion: number;
  /** The newest version written to the store: pushes up to it survive a shard crash. */
  persistedVersion: number;
  dense: DenseValues[];
  sparse: RowValues[];
  newestAcceptedAtMs: number;
  /** Per applied push: mean accept time of its events and their count (freshness figures). */
  pushAcceptedAtMs: Float64Array;
  pushExamples: Int32Array;
  publishedAtMs: number;
}

/**
 * Written by hand when of the plain shape (push-encode.ts), else by msgpackr: the same message.
 * With `buffers`, into one of them (give the bytes back when the shard has replied).
 */
export const encodePush = (p: GradientPush, buffers?: PushBuffers): Uint8Array => encodePushFast(p, buffers) ?? encode(p);
export const encodeReply = (r: PushReply): Uint8Array => encode(r);
export const encodeDelta = (d: WeightDelta): Uint8Array => encode(d);

function obj(v: unknown, what: string): Record<string, unknown> {
  // Plain objects only: msgpack also decodes to typed arrays, Buffers and marker objects (0xc1).
  const proto = v !== null && typeof v === 'object' ? Object.getPrototypeOf(v) : undefined;
  if (proto !== Object.prototype && proto !== null) throw new BadMessageError(`${what} must be a map`);
  return v as Record<string, unknown>;
}
function num(v: unknown, what: string, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v))) {
    throw new BadMessageError(`${what} must be a finite ${integer ? 'integer' : 'number'}`);
  }
  return v;
}
/** Versions, sequence numbers, epochs, counts: integers >= 0. */
function nat(v: unknown, what: string): number {
  const n = num(v, what, true);
  if (n < 0) throw new BadMessageError(`${what} must be an integer >= 0, got ${n}`);
  return n;
}
function sized(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length > maxBytes) throw new PayloadTooLargeError(bytes.length, maxBytes);
  return bytes;
}
function finite(v: Float32Array, what: string): Float32Array {
  for (let i = 0; i < v.length; i++) if (v[i] - v[i] !== 0) throw new NonFiniteError(what);
  return v;
}
function str(v: unknown, what: string, max = 256): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new BadMessageError(`${what} must be a string of 1..${max} chars`);
  return v;
}
function f32(v: unknown, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new BadMessageError(`${what} must be a Float32Array`);
  return v;
}
function i32(v: unknown, what: string): Int32Array {
  if (!(v instanceof Int32Array)) throw new BadMessageError(`${what} must be an Int32Array`);
  return v;
}
function optF32(v: unknown, what: string, name: string): Float32Array | undefined {
  return v === undefined || v === null ? undefined : finite(f32(v, what), `delta slots of ${name}`);
}
function arr(v: unknown, what: string, max = 4096): unknown[] {
  if (!Array.isArray(v) || v.length > max) throw new BadMessageError(`${what} must be an array of at most ${max}`);
  return v;
}

/**
 * Where parsePush puts a push's arrays. By default each is a new typed array; a PS shard gives
 * its gradient regions in wasm memory (services/ps/push-placement.ts), so a gradient is copied
 * once, from the message to where the update kernel reads it.
 */
export interface PushSink {
  /** Before the push's arrays; `messageBytes` (the push's size) bounds what they hold. */
  begin(messageBytes: number): void;
  /** A Float32Array of n elements for the values of dense tensor (`dense`) or table (`sparse`) `name`. */
  floats(kind: 'dense' | 'sparse', name: string, n: number): Float32Array;
  /** An Int32Array of n elements for a table's row ids. */
  ints(n: number): Int32Array;
}

const NEW_ARRAYS: PushSink = {
  begin: () => undefined,
  floats: (_kind, _name, n) => new Float32Array(n),
  ints: (n) => new Int32Array(n),
};

function placeF32(v: unknown, what: string, sink: PushSink, kind: 'dense' | 'sparse', name: string): Float32Array {
  if (v instanceof WireArray && v.type === Float32Array) return v.into(sink.floats(kind, name, v.length));
  return f32(v, what);
}
function placeI32(v: unknown, what: string, sink: PushSink): Int32Array {
  if (v instanceof WireArray && v.type === Int32Array) return v.into(sink.ints(v.length));
  return i32(v, what);
}

/**
 * The push in `bytes`, checked for types and bounds (not against the model: validate-push.ts).
 * Its typed arrays are decoded as views of `bytes` (by hand when the push has a worker's shape,
 * push-decode.ts, else by msgpackr) and copied once, into the arrays `sink` gives.
 */
export function parsePush(bytes: Uint8Array, maxBytes: number = WIRE_LIMITS.maxMessageBytes, sink: PushSink = NEW_ARRAYS): GradientPush {
  sized(bytes, maxBytes);
  const o = obj(decodePushFast(bytes) ?? decodeViews(bytes), 'push');
  sink.begin(bytes.length);
  return {
    worker: str(o.worker, 'push.worker', 128),
    seq: nat(o.seq, 'push.seq'),
    baseVersion: nat(o.baseVersion, 'push.baseVersion'),
    dense: arr(o.dense, 'push.dense').map((d, i) => {
      const x = obj(d, `push.dense[${i}]`);
      const name = str(x.name, `push.dense[${i}].name`);
      return { name, values: placeF32(x.values, `push.dense[${i}].values`, sink, 'dense', name) };
    }),
    sparse: arr(o.sparse, 'push.sparse').map((s, i) => {
      const x = obj(s, `push.sparse[${i}]`);
      const table = str(x.table, `push.sparse[${i}].table`);
      const rows = placeI32(x.rows, `push.sparse[${i}].rows`, sink);
      return { table, rows, grads: placeF32(x.grads, `push.sparse[${i}].grads`, sink, 'sparse', table) };
    }),
    examples: num(o.examples, 'push.examples', true),
    newestAcceptedAtMs: num(o.newestAcceptedAtMs, 'push.newestAcceptedAtMs'),
    meanAcceptedAtMs: num(o.meanAcceptedAtMs, 'push.meanAcceptedAtMs'),
    ...(o.eventTimeMs === undefined || o.eventTimeMs === null ? {} : { eventTimeMs: nat(o.eventTimeMs, 'push.eventTimeMs') }),
  };
}

export function parseReply(bytes: Uint8Array): PushReply {
  const o = obj(decode(bytes), 'reply');
  if (o.ok === true) {
    return { ok: true, version: num(o.version, 'reply.version', true), epoch: num(o.epoch, 'reply.epoch', true), duplicate: o.duplicate === true };
  }
  const e = obj(o.error, 'reply.error');
  return { ok: false, error: { code: str(e.code, 'error.code', 64) as WireError['code'], message: String(e.message), retryable: e.retryable === true } };
}

/** Weights must be finite: a NaN taken from a corrupt delta would poison every score after it. */
export function parseDelta(bytes: Uint8Array, maxBytes: number = WIRE_LIMITS.maxMessageBytes): WeightDelta {
  const o = obj(decode(sized(bytes, maxBytes)), 'delta');
  const wire = o.wire === undefined || o.wire === null ? 1 : nat(o.wire, 'delta.wire');
  if (wire < 1 || wire > DELTA_WIRE_VERSION) throw new BadMessageError(`delta.wire ${wire} is not a version this reader knows (1..${DELTA_WIRE_VERSION})`);
  const d: WeightDelta = {
    wire,
    shard: nat(o.shard, 'delta.shard'),
    epoch: nat(o.epoch, 'delta.epoch'),
    epochStartVersion: nat(o.epochStartVersion, 'delta.epochStartVersion'),
    // Absent in deltas of shards older than the field: read as "restored nothing known".
    restoredEpoch: o.restoredEpoch === undefined ? 0 : nat(o.restoredEpoch, 'delta.restoredEpoch'),
    fromVersion: nat(o.fromVersion, 'delta.fromVersion'),
    toVersion: nat(o.toVersion, 'delta.toVersion'),
    persistedVersion: nat(o.persistedVersion, 'delta.persistedVersion'),
    dense: arr(o.dense, 'delta.dense').map((x, i) => {
      const y = obj(x, `delta.dense[${i}]`);
      const name = str(y.name, `delta.dense[${i}].name`);
      const slot = optF32(y.slot, `delta.dense[${i}].slot`, name);
      return { name, values: finite(f32(y.values, `delta.dense[${i}].values`), `delta values of ${name}`), ...(slot ? { slot } : {}) };
    }),
    sparse: arr(o.sparse, 'delta.sparse').map((x, i) => {
      const y = obj(x, `delta.sparse[${i}]`);
      const table = str(y.table, `delta.sparse[${i}].table`);
      const slot = optF32(y.slot, `delta.sparse[${i}].slot`, table);
      const removed = y.removed === undefined || y.removed === null ? undefined : i32(y.removed, `delta.sparse[${i}].removed`);
      return {
        table, rows: i32(y.rows, `delta.sparse[${i}].rows`), values: finite(f32(y.values, `delta.sparse[${i}].values`), `delta values of ${table}`),
        ...(slot ? { slot } : {}), ...(removed ? { removed } : {}),
      };
    }),
    newestAcceptedAtMs: num(o.newestAcceptedAtMs, 'delta.newestAcceptedAtMs'),
    pushAcceptedAtMs: o.pushAcceptedAtMs instanceof Float64Array ? o.pushAcceptedAtMs : new Float64Array(0),
    pushExamples: o.pushExamples instanceof Int32Array ? o.pushExamples : new Int32Array(0),
    publishedAtMs: num(o.publishedAtMs, 'delta.publishedAtMs'),
  };
  if (d.toVersion < d.fromVersion) throw new BadMessageError('delta.toVersion is below fromVersion');
  return d;
}

/** The rows of a forgotten user, per table: what a PS shard removes and a reader drops. */
export interface ForgetRows { userId: string; tables: { table: string; rows: Int32Array }[] }

export const encodeForget = (f: ForgetRows): Uint8Array => encode(f);

export function parseForget(bytes: Uint8Array, maxBytes: number = WIRE_LIMITS.maxMessageBytes): ForgetRows {
  const o = obj(decode(sized(bytes, maxBytes)), 'forget');
  return {
    userId: str(o.userId, 'forget.userId', 1024),
    tables: arr(o.tables, 'forget.tables').map((x, i) => {
      const y = obj(x, `forget.tables[${i}]`);
      return { table: str(y.table, `forget.tables[${i}].table`), rows: i32(y.rows, `forget.tables[${i}].rows`) };
    }),
  };
}

export const subjects = {
  /** Event shard s of a stream, sharded by user (the default key) or by another event field. */
  events: (stream: string, s: number | '*', key: 'user' | 'item' = 'user') => (key === 'user' ? `fw.${stream}.events.${s}` : `fw.${stream}.events.${key}.${s}`),
  /** Every event subject of a stream, whatever its shard key. */
  eventsAll: (stream: string) => `fw.${stream}.events.>`,
  push: (model: string, k: number) => `fw.${model}.ps.${k}.push`,
  weights: (model: string, k: number | '*') => `fw.${model}.weights.${k}`,
  /** The same deltas with every optimizer slot (full training state), for the replica that
   *  writes checkpoints. Under weights.> (the same NATS permissions), but a weights.*
   *  subscriber does not receive it. */
  state: (model: string, k: number | '*') => `fw.${model}.weights.state.${k}`,
  metrics: (model: string) => `fw.${model}.metrics`,
  /** Gate decisions and serving-pointer moves. */
  serving: (model: string) => `fw.${model}.serving`,
  /** Each service process says it is alive (and a few of its figures) about once a second. */
  heartbeat: (model: string) => `fw.${model}.heartbeat`,
  /** Control messages to every PS shard of a model (learning-rate factor). */
  psControl: (model: string) => `fw.${model}.ps.control`,
  /** Request to PS shard k: remove a forgotten user's rows (ForgetRows). */
  psForget: (model: string, k: number) => `fw.${model}.ps.${k}.forget`,
  /** A user was forgotten ({ userId, rows }): workers and inference drop what they hold of them. */
  forget: (model: string) => `fw.${model}.forget`,
  control: (what: string) => `fw.ctl.${what}`,
};

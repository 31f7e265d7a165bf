// Bad weight deltas (for a Replica of the unit harness's model, 2 shards, shard 0 at version 1
// epoch 1 after a setup delta) and bad event messages (for the worker's parseEventBatch).
import { OWNED } from './generate-push.ts';

export interface DeltaCase {
  name: string;
  input: unknown;
  /** `code`: refused by parseDelta. `outcome`: what the replica answers (`bad`: counted in stats.bad). */
  expect: { code: string; reason: string } | { outcome: 'old' | 'gap'; bad: boolean; reason?: string };
  /** Through Replica.applyDelta directly: a gap on the wire would start a resync from the store. */
  via?: 'applyDelta';
}

export interface EventMessageCase {
  name: string;
  input: unknown;
  expect: { code: string; reason: string } | { ok: true; events: number };
  /** A bug in a file outside this corpus's reach: reported as a todo until it is fixed. */
  knownBug?: string;
}

const NOW = 1700000000000;
export const SETUP_DELTA = {
  shard: 0, epoch: 1, epochStartVersion: 0, fromVersion: 0, toVersion: 1, persistedVersion: 1,
  dense: [{ name: 'l0.b', values: { $f32: [0.5, -0.5] } }], sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[0]] }, values: { $f32: [1, 2] } }],
  newestAcceptedAtMs: NOW, pushAcceptedAtMs: { $f64: [NOW] }, pushExamples: { $i32: [3] }, publishedAtMs: NOW,
};
/** The next delta after the setup one: cases change one thing about it. */
const NEXT = { ...SETUP_DELTA, fromVersion: 1, toVersion: 2, persistedVersion: 2, dense: [], sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[1]] }, values: { $f32: [3, 4] } }] };
const f32 = (...v: (number | string)[]) => ({ $f32: v });

export function deltaCases(): DeltaCase[] {
  const out: DeltaCase[] = [];
  const refused = (name: string, input: unknown, code: string, reason: string) => out.push({ name, input, expect: { code, reason } });
  const patch = (p: Record<string, unknown>) => Object.fromEntries(Object.entries({ ...NEXT, ...p }).filter(([, v]) => v !== undefined));
  const bm = (name: string, p: Record<string, unknown>, reason: string) => refused(name, patch(p), 'BAD_MESSAGE', reason);
  refused('empty message', { $hex: '' }, 'BAD_MESSAGE', 'undecodable');
  refused('random bytes', { $hex: 'deadbeefc1' }, 'BAD_MESSAGE', 'undecodable');
  refused('random bytes (text)', { $hex: Buffer.from('weights!').toString('hex') }, 'BAD_MESSAGE', 'undecodable');
  for (const n of [2, 30, 90]) refused(`truncated delta (${n} bytes)`, { $truncate: [NEXT, n] }, 'BAD_MESSAGE', 'undecodable');
  refused('msgpack nil', null, 'BAD_MESSAGE', 'delta must be a map');
  refused('msgpack array', [NEXT], 'BAD_MESSAGE', 'delta must be a map');
  refused('oversized message (64 MiB + 1)', { $zeros: 64 * 1024 * 1024 + 1 }, 'PAYLOAD_TOO_LARGE', 'exceeds the limit');
  bm('shard missing', { shard: undefined }, 'delta.shard must be a finite integer');
  bm('shard a string', { shard: '0' }, 'delta.shard must be a finite integer');
  bm('shard negative', { shard: -1 }, 'delta.shard must be an integer >= 0');
  bm('shard a fraction', { shard: 0.5 }, 'delta.shard must be a finite integer');
  bm('epoch negative', { epoch: -1 }, 'delta.epoch must be an integer >= 0');
  bm('fromVersion a string', { fromVersion: 'x' }, 'delta.fromVersion must be a finite integer');
  bm('toVersion NaN', { toVersion: { $num: 'NaN' } }, 'delta.toVersion must be a finite integer');
  bm('toVersion below fromVersion', { fromVersion: 5, toVersion: 4 }, 'delta.toVersion is below fromVersion');
  bm('persistedVersion missing', { persistedVersion: undefined }, 'delta.persistedVersion');
  bm('dense not an array', { dense: { 'l0.b': f32(1, 1) } }, 'delta.dense must be an array');
  bm('dense of 4097 entries', { dense: { $array: [4097, { name: 'l0.b', values: f32(0, 0) }] } }, 'at most 4096');
  bm('dense values a plain array', { dense: [{ name: 'l0.b', values: [1, 1] }] }, 'delta.dense[0].values must be a Float32Array');
  bm('dense values a Float64Array', { dense: [{ name: 'l0.b', values: { $f64: [1, 1] } }] }, 'must be a Float32Array');
  bm('dense name empty', { dense: [{ name: '', values: f32(1, 1) }] }, 'delta.dense[0].name must be a string');
  bm('sparse rows a Float32Array', { sparse: [{ table: 'emb.a', rows: f32(OWNED[1]), values: f32(1, 1) }] }, 'delta.sparse[0].rows must be an Int32Array');
  bm('sparse values an Int32Array', { sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[1]] }, values: { $i32: [1, 1] } }] }, 'delta.sparse[0].values must be a Float32Array');
  bm('sparse table missing', { sparse: [{ rows: { $i32: [OWNED[1]] }, values: f32(1, 1) }] }, 'delta.sparse[0].table must be a string');
  bm('newestAcceptedAtMs a string', { newestAcceptedAtMs: 'now' }, 'delta.newestAcceptedAtMs must be a finite number');
  bm('publishedAtMs missing', { publishedAtMs: undefined }, 'delta.publishedAtMs');
  refused('NaN in dense values', patch({ dense: [{ name: 'l0.b', values: f32('NaN', 0) }] }), 'NON_FINITE', 'non-finite value (NaN or Inf) in delta values of l0.b');
  refused('Infinity in sparse values', patch({ sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[1]] }, values: f32(0, 'Infinity') }] }), 'NON_FINITE', 'delta values of emb.a');
  // Wire version 2: optional slots, and a version field a reader checks.
  bm('wire version from the future', { wire: 4 }, 'delta.wire 4 is not a version this reader knows');
  bm('wire version 0', { wire: 0 }, 'delta.wire 0 is not a version this reader knows');
  bm('wire version a string', { wire: '2' }, 'delta.wire must be a finite integer');
  bm('sparse slot a plain array', { sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[1]] }, values: f32(3, 4), slot: [0, 0] }] }, 'delta.sparse[0].slot must be a Float32Array');
  bm('dense slot an Int32Array', { dense: [{ name: 'l0.b', values: f32(1, 1), slot: { $i32: [0, 0] } }] }, 'delta.dense[0].slot must be a Float32Array');
  refused('NaN in sparse slot', patch({ wire: 2, sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[1]] }, values: f32(3, 4), slot: f32(0, 'NaN') }] }), 'NON_FINITE', 'delta slots of emb.a');
  const check = (name: string, p: Record<string, unknown>, reason: string) => out.push({ name, input: patch(p), expect: { outcome: 'old', bad: true, reason } });
  check('shard unknown to the replica', { shard: 2 }, 'delta for unknown shard 2');
  check('unknown dense tensor', { dense: [{ name: 'nope', values: f32(1) }] }, 'unknown dense tensor nope');
  check('unknown table', { sparse: [{ table: 'emb.nope', rows: { $i32: [1] }, values: f32(1, 1) }] }, 'unknown table emb.nope');
  check('dense wrong length', { dense: [{ name: 'l0.b', values: f32(1, 1, 1) }] }, 'has 3 values, expected 2');
  check('sparse values for the wrong row count', { sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[1]] }, values: f32(1, 1, 1) }] }, 'wrong number of values');
  check('row id -1', { sparse: [{ table: 'emb.a', rows: { $i32: [-1] }, values: f32(1, 1) }] }, 'row id out of range');
  check('row id 64', { sparse: [{ table: 'emb.a', rows: { $i32: [64] }, values: f32(1, 1) }] }, 'row id out of range');
  // Wire version 3: tombstones of evicted rows, checked as row ids are.
  bm('tombstones a plain array', { wire: 3, sparse: [{ table: 'emb.a', rows: { $i32: [] }, values: f32(), removed: [1] }] }, 'delta.sparse[0].removed must be an Int32Array');
  check('tombstone row id -1', { wire: 3, sparse: [{ table: 'emb.a', rows: { $i32: [] }, values: f32(), removed: { $i32: [-1] } }] }, 'tombstone row id out of range');
  check('tombstone row id 64', { wire: 3, sparse: [{ table: 'emb.a', rows: { $i32: [] }, values: f32(), removed: { $i32: [64] } }] }, 'tombstone row id out of range');
  check('row id 2^31-1', { sparse: [{ table: 'emb.a', rows: { $i32: [2 ** 31 - 1] }, values: f32(1, 1) }] }, 'row id out of range');
  out.push({ name: 'replayed delta (the setup delta again)', input: SETUP_DELTA, expect: { outcome: 'old', bad: false } });
  out.push({ name: 'replayed delta with other values', input: { ...SETUP_DELTA, dense: [{ name: 'l0.b', values: f32(9, 9) }] }, expect: { outcome: 'old', bad: false } });
  out.push({ name: 'version from the future', input: patch({ fromVersion: 5, toVersion: 6 }), expect: { outcome: 'gap', bad: false }, via: 'applyDelta' });
  out.push({ name: 'new epoch not starting at our version', input: patch({ epoch: 2, epochStartVersion: 7, fromVersion: 7, toVersion: 8 }), expect: { outcome: 'gap', bad: false }, via: 'applyDelta' });
  return out;
}

const EV = { userId: 'u1', itemId: 'i1', type: 'view', ts: NOW };

export function eventMessageCases(): EventMessageCase[] {
  const out: EventMessageCase[] = [];
  const c = (name: string, input: unknown, code: string, reason: string, knownBug?: string) => out.push({ name, input, expect: { code, reason }, ...(knownBug ? { knownBug } : {}) });
  const msg = (p: Record<string, unknown>) => Object.fromEntries(Object.entries({ acceptedAtMs: NOW, events: [EV], ...p }).filter(([, v]) => v !== undefined));
  const shape = 'event message must be { acceptedAtMs, events[] }';
  c('empty message', { $hex: '' }, 'BAD_MESSAGE', 'undecodable');
  c('random bytes', { $hex: 'c1c1c1' }, 'BAD_MESSAGE', 'undecodable');
  c('JSON text instead of msgpack', { $hex: Buffer.from(JSON.stringify({ acceptedAtMs: NOW, events: [EV] })).toString('hex') }, 'BAD_MESSAGE', 'undecodable');
  for (const n of [1, 12, 40]) c(`truncated (${n} bytes)`, { $truncate: [msg({}), n] }, 'BAD_MESSAGE', 'undecodable');
  c('msgpack nil', null, 'BAD_MESSAGE', shape);
  c('msgpack number', 7, 'BAD_MESSAGE', shape);
  c('msgpack array of events', [EV], 'BAD_MESSAGE', shape);
  c('events missing', msg({ events: undefined }), 'BAD_MESSAGE', shape);
  c('events a map', msg({ events: { 0: EV } }), 'BAD_MESSAGE', shape);
  c('acceptedAtMs missing', msg({ acceptedAtMs: undefined }), 'BAD_MESSAGE', shape);
  c('acceptedAtMs a string', msg({ acceptedAtMs: String(NOW) }), 'BAD_MESSAGE', shape);
  // A non-finite accept time would switch off the future-timestamp check of every event.
  c('acceptedAtMs NaN', msg({ acceptedAtMs: { $num: 'NaN' } }), 'BAD_MESSAGE', 'acceptedAtMs must be a finite time');
  c('acceptedAtMs Infinity', msg({ acceptedAtMs: { $num: 'Infinity' } }), 'BAD_MESSAGE', 'acceptedAtMs must be a finite time');
  c('event null', msg({ events: [null] }), 'BAD_EVENT', 'event must be an object, got null');
  c('event an array', msg({ events: [[EV]] }), 'BAD_EVENT', 'event must be an object, got array');
  c('event missing userId', msg({ events: [{ ...EV, userId: undefined }] }), 'BAD_EVENT', 'userId is missing');
  c('event with an unknown field', msg({ events: [{ ...EV, label: 1 }] }), 'BAD_EVENT', 'unknown field "label"');
  c('event ts in seconds', msg({ events: [{ ...EV, ts: 1700000000 }] }), 'BAD_EVENT', 'before 1990-01-01');
  c('event ts a day after acceptance', msg({ events: [{ ...EV, ts: NOW + 2 * 86_400_000 }] }), 'BAD_EVENT', 'more than a day in the future');
  c('event userId binary', msg({ events: [{ ...EV, userId: { $u8: [1, 2] } }] }), 'BAD_EVENT', 'userId must be a string or a safe integer');
  c('event ts a Float32Array', msg({ events: [{ ...EV, ts: { $f32: [1] } }] }), 'BAD_EVENT', 'ts must be a number');
  c('event type unknown', msg({ events: [{ ...EV, type: 'like' }] }), 'BAD_EVENT', 'type is unknown');
  c('event value NaN', msg({ events: [{ ...EV, value: { $num: 'NaN' } }] }), 'BAD_EVENT', 'value must be a finite number');
  c('event context with a number', msg({ events: [{ ...EV, context: { k: 1 } }] }), 'BAD_EVENT', 'context.k must be a string');
  c('one bad event among good ones', msg({ events: [EV, EV, { ...EV, itemId: '' }] }), 'BAD_EVENT', 'itemId is empty');
  out.push({ name: 'numeric ids are accepted as strings (control)', input: msg({ events: [{ ...EV, userId: 42, itemId: 7 }] }), expect: { ok: true, events: 1 } });
  out.push({ name: 'valid message (control)', input: msg({ events: [EV, EV] }), expect: { ok: true, events: 2 } });
  return out;
}

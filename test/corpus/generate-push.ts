// Bad gradient pushes for PS shard 0 of the unit harness (2 shards, test/helpers/ps-harness.ts).
// Before the cases run, one push (worker "setup", seq 1) is applied, so the shard is at
// version 1. Every case but the replay must be refused with `code`; none may change a weight.
import { denseSize, ownerOfDense, ownerOfRow, tableHash } from '../../shared/index.ts';
import { smallSpec } from '../helpers/ps-harness.ts';

export interface PushCase {
  name: string;
  input: unknown;
  expect: { code: string; reason: string } | { ok: true; duplicate: true };
}

const SHARDS = 2;
const spec = smallSpec();
const h = tableHash('emb.a');
const rows = (k: number) => Array.from({ length: 64 }, (_, r) => r).filter((r) => ownerOfRow(h, r, SHARDS) === k);
/** Rows of emb.a owned by shard 0 and by shard 1. */
export const OWNED = rows(0).slice(0, 2);
const FOREIGN = rows(1)[0];
const denseOf = (k: number) => spec.dense.filter((d) => ownerOfDense(d.name, SHARDS) === k).map((d) => d.name);
const [D0] = denseOf(0); // l0.w.a, 4 values
const [D1] = denseOf(1);
const NOW = 1700000000000;

/** The setup push (applied before the cases) and the base every case changes. */
export const SETUP_PUSH = { worker: 'setup', seq: 1, baseVersion: 0, dense: [], sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[0]] }, grads: { $f32: [0.5, -0.5] } }], examples: 1, newestAcceptedAtMs: NOW, meanAcceptedAtMs: NOW };
const BASE = { worker: 'corpus', seq: 100, baseVersion: 1, dense: [], sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[1]] }, grads: { $f32: [0.1, 0.1] } }], examples: 1, newestAcceptedAtMs: NOW, meanAcceptedAtMs: NOW };
const sp = (table: string, r: unknown, g: unknown) => ({ sparse: [{ table, rows: r, grads: g }] });
const dn = (name: string, values: unknown) => ({ dense: [{ name, values }], sparse: [] });
const f32 = (...v: (number | string)[]) => ({ $f32: v });
const i32 = (...v: number[]) => ({ $i32: v });

export function pushCases(): PushCase[] {
  const out: PushCase[] = [];
  const c = (name: string, patch: Record<string, unknown> | null, code: string, reason: string, raw?: unknown) => {
    const input = raw !== undefined ? raw : Object.fromEntries(Object.entries({ ...BASE, ...patch }).filter(([, v]) => v !== undefined));
    out.push({ name, input, expect: { code, reason } });
  };
  const raw = (name: string, input: unknown, reason: string) => c(name, null, 'BAD_MESSAGE', reason, input);
  // Bytes that are not a push at all.
  raw('empty message', { $hex: '' }, 'undecodable message (0 bytes)');
  raw('reserved msgpack byte 0xc1', { $hex: 'c1' }, 'push must be a map');
  raw('random bytes (ASCII text)', { $hex: Buffer.from('hello, parameter server').toString('hex') }, 'undecodable');
  raw('random bytes (map header, then junk)', { $hex: '8fa1780193c1c1c1' }, 'undecodable');
  raw('random bytes (str8 longer than the message)', { $hex: 'd9ff4142' }, 'undecodable');
  raw('random bytes (ext with bad length)', { $hex: 'c7ff01' }, 'undecodable');
  for (const n of [1, 3, 10, 40, 80]) raw(`truncated push (${n} bytes)`, { $truncate: [BASE, n] }, 'undecodable');
  raw('msgpack nil', null, 'push must be a map');
  raw('msgpack number', 42, 'push must be a map');
  raw('msgpack string', 'push', 'push must be a map');
  raw('msgpack array of a push', [BASE], 'push must be a map');
  raw('msgpack binary', { $u8: [1, 2, 3] }, 'push must be a map');
  c('oversized message (64 MiB + 1)', null, 'PAYLOAD_TOO_LARGE', 'exceeds the limit of 67108864 bytes', { $zeros: 64 * 1024 * 1024 + 1 });
  // Fields of the wrong type or range.
  const bm = (name: string, patch: Record<string, unknown>, reason: string) => c(name, patch, 'BAD_MESSAGE', reason);
  bm('worker missing', { worker: undefined }, 'push.worker must be a string');
  bm('worker a number', { worker: 7 }, 'push.worker must be a string');
  bm('worker empty', { worker: '' }, 'push.worker must be a string of 1..128');
  bm('worker of 129 chars', { worker: 'w'.repeat(129) }, 'push.worker must be a string of 1..128');
  bm('seq missing', { seq: undefined }, 'push.seq must be a finite integer');
  bm('seq a string', { seq: '101' }, 'push.seq must be a finite integer');
  bm('seq a fraction', { seq: 1.5 }, 'push.seq must be a finite integer');
  bm('seq NaN', { seq: { $num: 'NaN' } }, 'push.seq must be a finite integer');
  bm('seq Infinity', { seq: { $num: 'Infinity' } }, 'push.seq must be a finite integer');
  bm('seq negative', { seq: -1 }, 'push.seq must be an integer >= 0');
  bm('seq 2^53 + 2 (unsafe)', { seq: 2 ** 53 + 2 }, 'push.seq must be a finite integer');
  bm('baseVersion negative', { baseVersion: -1 }, 'push.baseVersion must be an integer >= 0');
  bm('baseVersion a string', { baseVersion: '1' }, 'push.baseVersion must be a finite integer');
  bm('dense a map', { dense: { [D0]: f32(1, 1, 1, 1) } }, 'push.dense must be an array');
  bm('dense of 4097 entries', { dense: { $array: [4097, { name: D0, values: f32(0, 0, 0, 0) }] } }, 'push.dense must be an array of at most 4096');
  bm('dense entry a number', { dense: [3] }, 'push.dense[0] must be a map');
  bm('dense name missing', { dense: [{ values: f32(0, 0, 0, 0) }] }, 'push.dense[0].name must be a string');
  bm('dense values a plain array', dn(D0, [1, 2, 3, 4]), 'push.dense[0].values must be a Float32Array');
  bm('dense values a Float64Array', dn(D0, { $f64: [1, 2, 3, 4] }), 'push.dense[0].values must be a Float32Array');
  bm('dense values an Int32Array', dn(D0, i32(1, 2, 3, 4)), 'must be a Float32Array');
  bm('dense values bytes', dn(D0, { $u8: [0, 0, 128, 63] }), 'must be a Float32Array');
  bm('sparse missing', { sparse: undefined }, 'push.sparse must be an array');
  bm('sparse rows a Float32Array', sp('emb.a', f32(OWNED[1]), f32(1, 1)), 'push.sparse[0].rows must be an Int32Array');
  bm('sparse rows a plain array', sp('emb.a', [OWNED[1]], f32(1, 1)), 'push.sparse[0].rows must be an Int32Array');
  bm('sparse rows a Uint32Array', sp('emb.a', { $u32: [OWNED[1]] }, f32(1, 1)), 'must be an Int32Array');
  bm('sparse grads a Float64Array', sp('emb.a', i32(OWNED[1]), { $f64: [1, 1] }), 'push.sparse[0].grads must be a Float32Array');
  bm('sparse grads a plain array', sp('emb.a', i32(OWNED[1]), [1, 1]), 'push.sparse[0].grads must be a Float32Array');
  bm('sparse table empty', sp('', i32(OWNED[1]), f32(1, 1)), 'push.sparse[0].table must be a string');
  bm('examples missing', { examples: undefined }, 'push.examples must be a finite integer');
  bm('examples a fraction', { examples: 1.5 }, 'push.examples must be a finite integer');
  bm('newestAcceptedAtMs a string', { newestAcceptedAtMs: 'now' }, 'push.newestAcceptedAtMs must be a finite number');
  bm('newestAcceptedAtMs NaN', { newestAcceptedAtMs: { $num: 'NaN' } }, 'push.newestAcceptedAtMs must be a finite number');
  bm('meanAcceptedAtMs -Infinity', { meanAcceptedAtMs: { $num: '-Infinity' } }, 'push.meanAcceptedAtMs must be a finite number');
  bm('newestAcceptedAtMs negative', { newestAcceptedAtMs: -5 }, 'push.newestAcceptedAtMs must be >= 0');
  bm('newestAcceptedAtMs in year 2200', { newestAcceptedAtMs: Date.UTC(2200, 0, 1) }, 'push.newestAcceptedAtMs is more than a day in the future');
  // Against the model and the shard.
  const w = (code: string, name: string, patch: Record<string, unknown>, reason: string) => c(name, patch, code, reason);
  w('UNKNOWN_PARAMETER', 'unknown dense tensor', dn('nope', f32(1)), 'unknown parameter "nope"');
  w('UNKNOWN_PARAMETER', 'dense named like a table', dn('emb.a', f32(1, 1)), 'unknown parameter "emb.a"');
  w('UNKNOWN_PARAMETER', 'dense named __proto__', dn('__proto__', f32(1)), 'unknown parameter "__proto__"');
  w('UNKNOWN_PARAMETER', 'unknown table', sp('emb.nope', i32(OWNED[1]), f32(1, 1)), 'unknown parameter "emb.nope"');
  w('UNKNOWN_PARAMETER', 'table named constructor', sp('constructor', i32(OWNED[1]), f32(1, 1)), 'unknown parameter "constructor"');
  w('NOT_OWNER', 'dense tensor of shard 1', dn(D1, f32(...Array(denseSize(spec.dense.find((d) => d.name === D1)!)).fill(0))), `dense tensor "${D1}" is not owned by shard 0`);
  w('NOT_OWNER', 'row of shard 1', sp('emb.a', i32(FOREIGN), f32(1, 1)), `row ${FOREIGN} is not owned by shard 0`);
  w('NOT_OWNER', 'rows of both shards', sp('emb.a', i32(OWNED[1], FOREIGN), f32(1, 1, 1, 1)), 'is not owned by shard 0');
  w('WRONG_SHAPE', 'the same row twice in one push', sp('emb.a', i32(OWNED[1], OWNED[1]), f32(1, 1, 1, 1)), 'appears twice in one push');
  w('WRONG_SHAPE', 'dense 3 values for 4', dn(D0, f32(1, 1, 1)), `dense tensor "${D0}" has 3 values, expected 4`);
  w('WRONG_SHAPE', 'dense 5 values for 4', dn(D0, f32(1, 1, 1, 1, 1)), 'has 5 values, expected 4');
  w('WRONG_SHAPE', 'dense no values', dn(D0, f32()), 'has 0 values, expected 4');
  w('WRONG_SHAPE', 'sparse 3 grads for 1 row of dim 2', sp('emb.a', i32(OWNED[1]), f32(1, 1, 1)), '3 gradient values for 1 rows of dim 2');
  w('WRONG_SHAPE', 'sparse no grads for 1 row', sp('emb.a', i32(OWNED[1]), f32()), '0 gradient values for 1 rows');
  w('WRONG_SHAPE', 'sparse 2 rows, grads for 1', sp('emb.a', i32(OWNED[0], OWNED[1]), f32(1, 1)), '2 gradient values for 2 rows');
  w('WRONG_SHAPE', 'bias table (dim 1) with 2 grads per row', sp('bias.a', i32(OWNED[1]), f32(1, 1)), 'of dim 1');
  w('WRONG_SHAPE', 'row id -1', sp('emb.a', i32(-1), f32(1, 1)), 'row id -1 outside 0..63');
  w('WRONG_SHAPE', 'row id 64 (= rows)', sp('emb.a', i32(64), f32(1, 1)), 'row id 64 outside 0..63');
  w('WRONG_SHAPE', 'row id 2^31-1', sp('emb.a', i32(2 ** 31 - 1), f32(1, 1)), 'row id 2147483647 outside');
  w('WRONG_SHAPE', 'row id -2^31', sp('emb.a', i32(-(2 ** 31)), f32(1, 1)), 'row id -2147483648 outside');
  w('WRONG_SHAPE', 'duplicate dense name', { dense: [{ name: D0, values: f32(0, 0, 0, 0) }, { name: D0, values: f32(1, 1, 1, 1) }] }, `dense tensor "${D0}" appears twice`);
  w('WRONG_SHAPE', 'duplicate table', { sparse: [BASE.sparse[0], BASE.sparse[0]] }, 'table "emb.a" appears twice');
  w('WRONG_SHAPE', 'examples 0', { examples: 0 }, 'push.examples must be >= 1');
  w('WRONG_SHAPE', 'examples negative', { examples: -5 }, 'push.examples must be >= 1');
  w('WRONG_SHAPE', 'examples 2^31 (wraps in an Int32Array)', { examples: 2 ** 31 }, 'push.examples must be <= 2147483647');
  w('NON_FINITE', 'dense NaN', dn(D0, f32(0, 'NaN', 0, 0)), `non-finite value (NaN or Inf) in gradient of ${D0}`);
  w('NON_FINITE', 'dense Infinity', dn(D0, f32('Infinity', 0, 0, 0)), 'non-finite value');
  w('NON_FINITE', 'dense -Infinity', dn(D0, f32(0, 0, 0, '-Infinity')), 'non-finite value');
  w('NON_FINITE', 'dense 1e39 (overflows float32)', dn(D0, f32(1e39, 0, 0, 0)), 'non-finite value');
  w('NON_FINITE', 'sparse NaN', sp('emb.a', i32(OWNED[1]), f32('NaN', 1)), 'non-finite value (NaN or Inf) in gradient of emb.a');
  w('NON_FINITE', 'sparse Infinity in the last value', sp('emb.a', i32(OWNED[0], OWNED[1]), f32(1, 1, 1, 'Infinity')), 'gradient of emb.a');
  w('NON_FINITE', 'NaN in a valid dense tensor next to a valid table', { dense: [{ name: D0, values: f32('NaN', 0, 0, 0) }] }, 'non-finite value');
  w('FUTURE_VERSION', 'baseVersion one ahead', { baseVersion: 2 }, 'baseVersion 2 is ahead of the shard\'s version 1');
  w('FUTURE_VERSION', 'baseVersion 2^53-1', { baseVersion: 2 ** 53 - 1 }, 'is ahead of the shard\'s version 1');
  // A replay of the applied setup push: acknowledged as a duplicate, applied once.
  out.push({ name: 'replayed sequence number (setup push again)', input: SETUP_PUSH, expect: { ok: true, duplicate: true } });
  out.push({ name: 'replayed sequence number with other gradients', input: { ...SETUP_PUSH, sparse: [{ table: 'emb.a', rows: { $i32: [OWNED[0]] }, grads: { $f32: [9, 9] } }] }, expect: { ok: true, duplicate: true } });
  return out;
}

import t from 'tap';
import { Packr } from 'msgpackr';
import { BadMessageError, decode, encode, encodePush, parsePush, parseDelta, encodeDelta, ChunkAssembler, splitIntoChunks } from '../../shared/index.ts';

t.test('typed arrays round-trip bit-exactly, including NaN, -0 and subarrays', async (t) => {
  const f = new Float32Array([1.5, -0, NaN, 3.4e38, -1e-45]);
  const big = new Float32Array(100_000).map((_, i) => Math.sin(i));
  const i32 = new Int32Array([0, -1, 2147483647, -2147483648]);
  const back = decode(encode({ f, big, i32, sub: big.subarray(7, 12) })) as Record<string, unknown>;
  t.ok(back.f instanceof Float32Array && back.i32 instanceof Int32Array);
  t.same(new Uint8Array((back.f as Float32Array).buffer, (back.f as Float32Array).byteOffset, 20), new Uint8Array(f.buffer));
  t.same(Array.from(back.i32 as Int32Array), Array.from(i32));
  t.same(Array.from(back.sub as Float32Array), Array.from(big.subarray(7, 12)));
  t.same(Array.from((back.big as Float32Array).subarray(99_990)), Array.from(big.subarray(99_990)));
});

t.test('a Packr without moreTypes does not return a Float32Array (why the codec sets it)', async (t) => {
  const plain = new Packr({ useRecords: false });
  const back = plain.unpack(plain.pack({ f: new Float32Array([1.5, 2.5]) })) as { f: unknown };
  t.notOk(back.f instanceof Float32Array && (back.f as Float32Array)[0] === 1.5, 'plain msgpackr loses the Float32Array');
});

t.test('push and delta survive encode/parse; bad input gives BadMessageError', async (t) => {
  const push = {
    worker: 'w0', seq: 3, baseVersion: 10, examples: 256, newestAcceptedAtMs: 1, meanAcceptedAtMs: 1,
    dense: [{ name: 'out.b', values: new Float32Array([0.25]) }],
    sparse: [{ table: 'emb.user', rows: new Int32Array([1, 5]), grads: new Float32Array(16) }],
  };
  const back = parsePush(encodePush(push));
  t.same(back.sparse[0].rows, push.sparse[0].rows);
  t.equal(back.dense[0].values[0], 0.25);
  t.throws(() => parsePush(new Uint8Array([0xc1, 0x00])), BadMessageError, 'random bytes');
  t.throws(() => parsePush(encodePush(push).subarray(0, 20)), BadMessageError, 'truncated');
  t.throws(() => parsePush(encode({ ...push, dense: [{ name: 'x', values: [1, 2] }] })), BadMessageError, 'plain array instead of Float32Array');
  t.throws(() => parsePush(encode({ ...push, seq: 'one' })), BadMessageError, 'wrong type');
  const delta = {
    shard: 1, epoch: 2, epochStartVersion: 0, restoredEpoch: 1, fromVersion: 4, toVersion: 6, persistedVersion: 6, dense: [], sparse: [],
    newestAcceptedAtMs: 5, pushAcceptedAtMs: new Float64Array([1, 2]), pushExamples: new Int32Array([3, 4]), publishedAtMs: 9,
  };
  t.same(parseDelta(encodeDelta(delta)).pushExamples, delta.pushExamples);
  t.throws(() => parseDelta(encode({ ...delta, toVersion: 3 })), BadMessageError, 'toVersion < fromVersion');
});

t.test('chunks reassemble in any order; bounded pending', async (t) => {
  const data = new Uint8Array(10_000).map((_, i) => i % 251);
  const parts = splitIntoChunks(data, 3000);
  t.equal(parts.length, 4);
  const asm = new ChunkAssembler(2);
  let whole: Uint8Array | undefined;
  for (const i of [2, 0, 3, 1]) whole = asm.add({ id: 'a', part: i, parts: 4 }, parts[i]) ?? whole;
  t.same(whole, data);
  t.equal(asm.add({ id: 'b', part: 5, parts: 4 }, parts[0]), undefined, 'part index out of range is dropped');
  t.equal(asm.dropped, 1);
});

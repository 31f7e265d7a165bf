// encodePush writes a plain push by hand (shared/push-encode.ts): it must decode to exactly what
// msgpackr's encoding of the same push decodes to, at every boundary of msgpack's formats
// (string, integer, array and ext sizes), for typed arrays that view a larger buffer, with and
// without eventTimeMs; any other shape goes to msgpackr unchanged. Reused encode buffers
// (PushBuffers) are written again only after the shard has replied to the push they held.
import t, { type Test } from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { MemoryBus, MemoryTransport, decode, encode, encodePush, encodeReply, parsePush, subjects, type GradientPush } from '../../shared/index.ts';
import { PushBuffers, encodePushFast } from '../../shared/push-encode.ts';
import { GradientPusher } from '../../services/worker/pusher.ts';

const base = (over: Partial<GradientPush> = {}): GradientPush => ({
  worker: 'w-1', seq: 1, baseVersion: 0, dense: [], sparse: [], examples: 1, newestAcceptedAtMs: 1_700_000_000_000, meanAcceptedAtMs: 1_700_000_000_000.5, ...over,
});

function same(t: Test, p: GradientPush, what: string): void {
  const fast = encodePushFast(p);
  t.ok(fast, `${what}: written by hand`);
  const a = decode(fast!), b = decode(encode(p));
  t.ok(isDeepStrictEqual(a, b), `${what}: decodes as msgpackr's does`);
}

t.test('strings and numbers at every format boundary', async (t) => {
  for (const worker of ['w', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(255), 'x'.repeat(256), 'é'.repeat(20), 'ü'.repeat(200), '日本語', '😀 emoji', 'y'.repeat(70_000)]) {
    same(t, base({ worker }), `worker of ${worker.length} chars`);
  }
  const nums = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, 0.5, -0.25, 1e300, NaN, Infinity, -Infinity, -0];
  for (const n of nums) same(t, base({ seq: n, baseVersion: n, examples: n, newestAcceptedAtMs: n, meanAcceptedAtMs: n, eventTimeMs: n }), `number ${n}`);
});

t.test('arrays and typed arrays at every size boundary, views into larger buffers', async (t) => {
  const backing = new ArrayBuffer(4 * 20_000);
  for (const n of [0, 1, 62, 63, 64, 16382, 16383, 16384]) {
    // byteLength + 1 crosses the ext8 (256) and ext16 (65536) limits here.
    const grads = new Float32Array(backing, 4, n).map((_, i) => i * 0.5 - 3);
    const rows = new Int32Array(backing, 8, n).map((_, i) => i - 5);
    same(t, base({ sparse: [{ table: 'emb.a', rows, grads }] }), `${n} elements`);
  }
  for (const k of [0, 15, 16, 17, 300]) {
    const sparse = Array.from({ length: k }, (_, i) => ({ table: `t${i}`, rows: Int32Array.of(i), grads: Float32Array.of(i, -i) }));
    const dense = Array.from({ length: k }, (_, i) => ({ name: `d${i}`, values: Float32Array.of(i / 3) }));
    same(t, base({ sparse, dense }), `${k} tables and tensors`);
  }
  const p = base({ sparse: [{ table: 'emb.a', rows: Int32Array.of(3, 9), grads: Float32Array.of(1, 2, 3, 4) }], dense: [{ name: 'l0.w', values: Float32Array.of(0.1, NaN) }], eventTimeMs: 42 });
  const back = parsePush(encodePush(p));
  t.same(back.sparse[0].rows, p.sparse[0].rows);
  t.same(back.sparse[0].grads, p.sparse[0].grads);
  t.ok(Number.isNaN(back.dense[0].values[1]) && back.eventTimeMs === 42, 'parsePush reads it back');
});

t.test('a push of another shape is left to msgpackr', async (t) => {
  const odd: unknown[] = [
    { ...base(), extra: 1 },
    { ...base(), eventTimeMs: undefined },
    base({ seq: '1' as unknown as number }),
    base({ dense: [{ name: 'x', values: [1, 2] as unknown as Float32Array }] }),
    base({ sparse: [{ table: 'x', rows: Uint32Array.of(1) as unknown as Int32Array, grads: Float32Array.of(1) }] }),
    base({ sparse: [{ table: 'x', rows: Int32Array.of(1), grads: Float32Array.of(1), more: true } as never] }),
  ];
  for (const [i, p] of odd.entries()) {
    t.equal(encodePushFast(p as GradientPush), null, `shape ${i}: not written by hand`);
    t.same(Buffer.from(encodePush(p as GradientPush)), Buffer.from(encode(p)), `shape ${i}: msgpackr's bytes`);
  }
});

t.test('PushBuffers: a buffer given back is written again, nothing else is taken in', async (t) => {
  const pool = new PushBuffers(2);
  const p = base({ sparse: [{ table: 'emb.a', rows: Int32Array.of(1, 2), grads: Float32Array.of(1, 2, 3, 4) }] });
  const a = encodePush(p, pool);
  t.ok(isDeepStrictEqual(decode(a), decode(encode(p))), 'the same message');
  const b = encodePush(p, pool);
  t.not(b.buffer, a.buffer, 'a buffer not given back is not reused');
  pool.give(a);
  const c = encodePush(base({ seq: 2 }), pool);
  t.equal(c.buffer, a.buffer, 'a given-back buffer is reused');
  pool.give(encode(p));
  pool.give(encodePush(p));
  t.not(encodePush(p, pool).buffer, a.buffer, 'bytes not from the pool are ignored');
});

t.test('GradientPusher gives a push\'s bytes back only once the shard has replied', async (t) => {
  const bus = new MemoryBus();
  const ps = new MemoryTransport(bus);
  const seen: Uint8Array[] = [];
  let answer = true;
  ps.subscribe(subjects.push('m', 0), (m) => {
    seen.push(m.data);
    if (answer) m.respond?.(encodeReply({ ok: true, version: seen.length, epoch: 1, duplicate: false }));
  });
  let stopping = false;
  const pusher = new GradientPusher(new MemoryTransport(bus), 'm', 50, () => stopping);
  const p = base({ sparse: [{ table: 'emb.a', rows: Int32Array.of(1), grads: Float32Array.of(0.5) }] });
  const first = await pusher.push(0, p);
  t.ok(first.ok);
  const second = await pusher.push(0, { ...p, seq: 2 });
  t.ok(second.ok);
  t.equal(decode(seen[0]) && (decode(seen[1]) as { seq: number }).seq, 2, 'the second push arrived whole');
  // No reply: the pusher gives up (stopping) and must not reuse those bytes.
  answer = false;
  stopping = true;
  const lost = await pusher.push(0, { ...p, seq: 3 });
  t.notOk(lost.ok);
  const held = Uint8Array.from(seen[seen.length - 1]);
  answer = true;
  stopping = false;
  t.ok((await pusher.push(0, { ...p, seq: 4, worker: 'another-worker-name' })).ok);
  t.same(Array.from(seen[2]), Array.from(held), 'the unanswered push\'s bytes were not written again');
});

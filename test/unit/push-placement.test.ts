// A push decoded straight into wasm memory (services/ps/push-placement.ts): the gradients land
// in their tensors' and tables' gradient regions (no heap copy), are checked for NaN/Inf there
// by the wasm finiteness kernel, and give the same bits as the Updater on heap arrays; a bad
// push in a region (NaN at any place, a table twice, a wrong shape) is refused with its error
// and changes no state, and the next good push is applied right. What has no region (a table's
// gradient of more than CHUNK_ROWS rows, a bias table, a small tensor) goes through the scratch
// memory, checked the same way.
import t from 'tap';
import {
  BadMessageError, DEFAULT_CONFIG, MemoryBus, MemoryShardStore, MemoryTransport, Registry, Updater, WireArray,
  decode, decodeViews, encode, encodePush, parsePush, parseReply, subjects,
  type GradientPush, type ParamSpec, type PushReply, type SparseGrad,
} from '../../shared/index.ts';
import { FloatScratch } from '../../shared/kernels/finite.ts';
import { CHUNK_ROWS } from '../../shared/kernels/resident-rows.ts';
import { simdAvailable } from '../../shared/kernels/momentum-simd.ts';
import { PsShard } from '../../services/ps/ps-shard.ts';
import { psMetrics } from '../../services/ps/metrics.ts';
import { PushPlacement } from '../../services/ps/push-placement.ts';
import { shardDigest } from '../corpus/shard-digest.ts';

const MODEL = 'placement';
const SPEC: ParamSpec = {
  model: MODEL, seed: 5,
  dense: [
    { name: 'big', shape: [16, 32], init: { kind: 'uniform', scale: 0.1 } }, // 512 floats: resident
    { name: 'small', shape: [8], init: { kind: 'zeros' } }, // below SIMD_MIN_FLOATS: heap
  ],
  tables: [
    { name: 'emb', dim: 16, rows: 1 << 16, init: { kind: 'uniform', scale: 0.05 } },
    { name: 'emb8', dim: 8, rows: 1 << 16, init: { kind: 'uniform', scale: 0.05 }, optimizer: 'adagrad' },
    { name: 'bias', dim: 1, rows: 1 << 16, init: { kind: 'zeros' } },
  ],
};
const PS = { ...DEFAULT_CONFIG.ps, learningRate: 0.05, momentum: 0.9, publishIntervalMs: 3_600_000, clipNorm: 0 };

function rand(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296; };
}

function rowsOf(n: number, seed: number): Int32Array {
  const r = rand(seed);
  const seen = new Set<number>();
  const out = new Int32Array(n);
  for (let i = 0; i < n;) { const id = Math.floor(r() * (1 << 16)); if (!seen.has(id)) { seen.add(id); out[i++] = id; } }
  return out;
}

function grads(n: number, seed: number): Float32Array {
  const r = rand(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

function push(seq: number, baseVersion: number, embRows: number, seed: number): GradientPush {
  const sparse: SparseGrad[] = [
    { table: 'emb', rows: rowsOf(embRows, seed), grads: grads(embRows * 16, seed + 1) },
    { table: 'emb8', rows: rowsOf(300, seed + 2), grads: grads(300 * 8, seed + 3) },
    { table: 'bias', rows: rowsOf(200, seed + 4), grads: grads(200, seed + 5) },
  ];
  return {
    worker: 'w', seq, baseVersion, examples: 4, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0, sparse,
    dense: [{ name: 'big', values: grads(512, seed + 6) }, { name: 'small', values: grads(8, seed + 7) }],
  };
}

async function startShard(): Promise<{ shard: PsShard; send: (b: Uint8Array) => Promise<PushReply>; stop: () => Promise<void> }> {
  const bus = new MemoryBus();
  const shard = new PsShard({
    model: MODEL, spec: SPEC, cfg: PS, shard: 0, shards: 1, transport: new MemoryTransport(bus), store: new MemoryShardStore(),
    storeCheckMs: 0, metrics: psMetrics(new Registry()), log: () => undefined,
  });
  await shard.start();
  await shard.actor.idle();
  const client = new MemoryTransport(bus);
  return {
    shard,
    send: async (b) => parseReply(await client.request(subjects.push(MODEL, 0), b, 2000)),
    stop: () => shard.stop(),
  };
}

interface Inside { updater: Updater }
const updaterOf = (s: PsShard) => (s as unknown as { state: Inside }).state.updater;

/** Every weight and slot of `a` equals `b`'s bitwise (rows compared by id). */
function sameBits(a: Updater, b: Updater): string[] {
  const out: string[] = [];
  const eq = (x: Float32Array, y: Float32Array) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  for (const [name, d] of a.dense) {
    const e = b.dense.get(name)!;
    if (!eq(d.weights, e.weights) || !eq(d.slot, e.slot)) out.push(`dense ${name}`);
  }
  for (const [name, tp] of a.tables) {
    const x = tp.arena, y = b.tables.get(name)!.arena;
    if (x.count !== y.count) { out.push(`${name}: ${x.count} rows vs ${y.count}`); continue; }
    for (let s = 0; s < x.count; s++) {
      const q = y.index.get(x.rowIds[s]);
      const d = x.dim, w = x.slotWidth;
      if (q < 0 || !eq(x.weights.subarray(s * d, (s + 1) * d), y.weights.subarray(q * d, (q + 1) * d))
        || !eq(x.slot.subarray(s * w, (s + 1) * w), y.slot.subarray(q * w, (q + 1) * w))) {
        out.push(`${name} row ${x.rowIds[s]}`);
        break;
      }
    }
  }
  return out;
}

t.test('the wasm finiteness check: every length and place, NaN, both infinities, float32 overflow', async (t) => {
  t.ok(simdAvailable());
  const s = FloatScratch.create()!;
  s.reset(1 << 16);
  let wrong = 0, cases = 0;
  for (let n = 0; n <= 70; n++) {
    // Start at odd offsets too: the kernel reads vectors at any 4-byte alignment.
    s.take(n % 3);
    const a = s.take(n)!;
    const r = rand(n + 1);
    for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * 3e38;
    if (n > 2) { a[0] = -0; a[1] = 1.4e-45; a[2] = 3.4028234e38; }
    // A NaN right after the array must not count.
    const after = s.take(1)!;
    after[0] = NaN;
    cases++;
    if (!s.finite(a)) wrong++;
    for (let i = 0; i < n; i++) {
      for (const bad of [NaN, Infinity, -Infinity, 1e39]) {
        const keep = a[i];
        a[i] = bad;
        cases++;
        if (s.finite(a)) wrong++;
        a[i] = keep;
      }
    }
  }
  t.equal(wrong, 0, `${cases} cases, each answered right`);
});

t.test('decodeViews: typed arrays as views of the message at any alignment; a ragged length is undecodable', async (t) => {
  const f = Float32Array.from([1.5, -2, 3e-8]);
  for (let pad = 0; pad < 4; pad++) {
    const bytes = encode({ s: 'x'.repeat(pad), f });
    const v = (decodeViews(bytes) as { f: WireArray }).f;
    t.ok(v instanceof WireArray && v.type === Float32Array && v.length === 3, `pad ${pad}: a WireArray of 3 floats`);
    t.equal(v.bytes.buffer, bytes.buffer, 'viewing the message');
    t.same(Array.from(v.into(new Float32Array(3))), Array.from(f), 'same values');
    t.same(Array.from((decode(bytes) as { f: Float32Array }).f), Array.from(f), 'decode still gives a Float32Array');
  }
  // ext32 0x74, type Float32 (7), 5 bytes: not a whole number of floats.
  const ragged = new Uint8Array([0x81, 0xa1, 0x66, 0xc7, 6, 0x74, 7, 1, 2, 3, 4, 5]);
  t.throws(() => decode(ragged), BadMessageError);
  t.throws(() => decodeViews(ragged), BadMessageError);
  t.throws(() => parsePush(encode({ ...push(1, 0, 10, 1), dense: [{ name: 'big', values: new WireArray(Float32Array, new Uint8Array(4)) }] })), BadMessageError, 'no WireArray is ever encoded');
});

t.test('the gradients are decoded into the regions in wasm memory, the rest into the scratch', async (t) => {
  const up = new Updater(SPEC, PS);
  const placement = new PushPlacement(up);
  const p = parsePush(encodePush(push(1, 0, 500, 3)), undefined, placement);
  const emb = up.tables.get('emb')!.arena.resident!, emb8 = up.tables.get('emb8')!.arena.resident!;
  t.equal(p.sparse[0].grads.buffer, emb.weights.buffer, 'emb: in its table memory');
  t.equal(p.sparse[1].grads.buffer, emb8.weights.buffer, 'emb8: in its table memory');
  t.equal(p.dense[0].values, up.dense.get('big')!.resident!.grad, 'big: its gradient region itself');
  t.ok(p.sparse[2].grads.buffer instanceof ArrayBuffer && p.sparse[2].grads.buffer !== emb.weights.buffer, 'bias (dim 1): elsewhere');
  t.ok(p.sparse.every((s) => placement.finite(s.grads)) && p.dense.every((d) => placement.finite(d.values)), 'all finite');
  // More rows than a region holds: the scratch.
  const big = parsePush(encodePush(push(2, 0, CHUNK_ROWS + 1, 4)), undefined, placement);
  t.not(big.sparse[0].grads.buffer, emb.weights.buffer, `${CHUNK_ROWS + 1} rows: not in the region`);
  big.sparse[0].grads[big.sparse[0].grads.length - 1] = NaN;
  t.notOk(placement.finite(big.sparse[0].grads), 'a NaN in the scratch is seen');
});

t.test('through a PS shard: the same bits as the Updater on heap arrays; bad pushes change nothing', async (t) => {
  const { shard, send, stop } = await startShard();
  t.teardown(stop);
  const ref = new Updater(SPEC, PS);
  let seq = 0;
  const good = async (embRows: number, what: string) => {
    const p = push(++seq, shard.version, embRows, seq * 10);
    const rep = await send(encodePush(p));
    t.ok(rep.ok && !rep.duplicate, `${what}: applied`);
    ref.apply(p, 1);
  };
  await good(300, 'a push into the regions');
  await good(CHUNK_ROWS + 200, 'a push with more rows than a region');
  await good(1000, 'new rows that grow the arena');
  t.same(sameBits(updaterOf(shard), ref), [], 'every weight and slot equal bitwise');

  const digest = shardDigest(shard);
  const version = shard.version;
  const refuse = async (p: GradientPush | Uint8Array, code: string, reason: string, what: string) => {
    const rep = await send(p instanceof Uint8Array ? p : encodePush(p));
    t.ok(!rep.ok && rep.error.code === code && rep.error.message.includes(reason), `${what}: ${rep.ok ? 'accepted' : `${rep.error.code} ${rep.error.message}`}`);
    t.equal(shard.version, version, `${what}: version unchanged`);
    t.equal(shardDigest(shard), digest, `${what}: memory unchanged`);
  };
  for (const [table, at] of [['emb', 0], ['emb', 'mid'], ['emb', 'last'], ['emb8', 'last'], ['bias', 'last']] as const) {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const p = push(++seq, version, table === 'emb' && at === 'mid' ? CHUNK_ROWS + 5 : 300, seq);
      const g = p.sparse.find((s) => s.table === table)!.grads;
      g[at === 0 ? 0 : at === 'mid' ? g.length >> 1 : g.length - 1] = bad;
      await refuse(p, 'NON_FINITE', `gradient of ${table}`, `${bad} in ${table} (${at})`);
    }
  }
  for (const name of ['big', 'small']) {
    const p = push(++seq, version, 300, seq);
    p.dense.find((d) => d.name === name)!.values[3] = NaN;
    await refuse(p, 'NON_FINITE', `gradient of ${name}`, `NaN in dense ${name}`);
  }
  const twice = push(++seq, version, 300, seq);
  twice.sparse.push({ ...twice.sparse[0], grads: twice.sparse[0].grads.map(() => NaN) });
  await refuse(twice, 'WRONG_SHAPE', 'table "emb" appears twice', 'a table twice');
  const dupRow = push(++seq, version, 300, seq);
  dupRow.sparse[0].rows[7] = dupRow.sparse[0].rows[3];
  await refuse(dupRow, 'WRONG_SHAPE', 'appears twice in one push', 'a row twice');
  const short = push(++seq, version, 300, seq);
  short.sparse[0].grads = short.sparse[0].grads.subarray(1);
  await refuse(short, 'WRONG_SHAPE', '4799 gradient values for 300 rows of dim 16', 'a gradient short of a float');
  const outside = push(++seq, version, 300, seq);
  outside.sparse[0].rows[0] = 1 << 16;
  await refuse(outside, 'WRONG_SHAPE', 'outside 0..65535', 'a row id out of range');
  await refuse(encodePush(push(++seq, version, 300, seq)).subarray(0, 3000), 'BAD_MESSAGE', 'undecodable', 'a truncated push');

  // The regions held the refused gradients: the next good push must not see them.
  await good(300, 'a good push after the refused ones');
  await good(CHUNK_ROWS + 1, 'and a large one');
  t.same(sameBits(updaterOf(shard), ref), [], 'still the same bits as the heap Updater');
});

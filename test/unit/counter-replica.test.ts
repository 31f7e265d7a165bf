// A counter table with decay read away from the PS: the weights deltas carry the rows'
// last-update times (and no other rule's slots), so a replica, a replica resynced from the
// store, and inference's FrozenWeights of a checkpoint all decay a count to a given time to the
// same bits as LocalParams fed the same pushes, and to the PS's count decayed by hand.
import t from 'tap';
import {
  DEFAULT_CONFIG, FrozenWeights, LocalParams, MemoryBus, MemoryShardStore, MemoryTransport, Registry, Replica,
  decodeCheckpoint, encodeCheckpoint, encodePush, parseDelta, parseReply, subjects, waitFor,
  type GradientPush, type ParamSpec, type PsConfig, type Updater, type WeightDelta,
} from '../../shared/index.ts';
import { ShardState } from '../../services/ps/shard-state.ts';
import { psMetrics } from '../../services/ps/metrics.ts';

const MODEL = 'cntrep';
const HALF_LIFE = 3_600_000;
const T0 = 1_764_000_000_000;
const spec: ParamSpec = {
  model: MODEL, seed: 2, dense: [{ name: 'b', shape: [1], init: { kind: 'zeros' } }],
  tables: [
    { name: 'clicks', dim: 2, rows: 32, init: { kind: 'zeros' }, optimizer: { rule: 'counter', halfLifeMs: HALF_LIFE } },
    { name: 'emb', dim: 2, rows: 32, init: { kind: 'uniform', scale: 0.1 }, optimizer: 'adagrad' },
  ],
};
const cfg: PsConfig = { ...DEFAULT_CONFIG.ps, learningRate: 0.1, clipNorm: 1, publishIntervalMs: 3_600_000 };

function rand(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296; };
}

t.test('a decaying counter read through a replica after deltas = the PS value decayed = LocalParams', async (t) => {
  const bus = new MemoryBus();
  const store = new MemoryShardStore();
  const state = new ShardState({
    model: MODEL, spec, cfg, shard: 0, shards: 1, transport: new MemoryTransport(bus), store, metrics: psMetrics(new Registry()), log: () => undefined,
  });
  await state.start();
  const ps = (state as unknown as { updater: Updater }).updater;
  const replica = new Replica(spec, 1, store);
  await replica.start(new MemoryTransport(bus), MODEL);
  t.teardown(() => replica.stop());
  const seen: WeightDelta[] = [];
  new MemoryTransport(bus).subscribe(subjects.weights(MODEL, '*'), (m) => seen.push(parseDelta(m.data)));
  const local = new LocalParams(spec, cfg);

  // Pushes over two days of event time, one in five late by an hour, one in seven without a time.
  const r = rand(7);
  const lastTouch = new Map<number, number>();
  let version = 0;
  for (let seq = 1; seq <= 40; seq++) {
    const rows = Int32Array.from(new Set(Array.from({ length: 1 + Math.floor(r() * 6) }, () => Math.floor(r() * 32))));
    const eventTimeMs = seq % 7 === 0 ? undefined : T0 + seq * 1_200_000 - (seq % 5 === 0 ? HALF_LIFE : 0);
    const p: GradientPush = {
      worker: 'w', seq, baseVersion: version, dense: [{ name: 'b', values: Float32Array.of(r() - 0.5) }],
      sparse: [
        { table: 'clicks', rows, grads: Float32Array.from({ length: rows.length * 2 }, () => 1 + Math.floor(r() * 4)) },
        { table: 'emb', rows, grads: Float32Array.from({ length: rows.length * 2 }, () => r() - 0.5) },
      ],
      examples: 1, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0, ...(eventTimeMs === undefined ? {} : { eventTimeMs }),
    };
    let reply: Uint8Array | undefined;
    await state.handle({ kind: 'push', data: encodePush(p), respond: (d) => { reply = d; }, receivedAtMs: Date.now() });
    const rep = parseReply(reply!);
    if (!rep.ok) throw new Error(rep.error.message);
    version = rep.version;
    local.apply({ dense: new Map([['b', p.dense[0].values]]), sparse: new Map(p.sparse.map((x) => [x.table, { rows: x.rows, grads: x.grads }])), eventTimeMs });
    if (eventTimeMs !== undefined) for (const row of rows) lastTouch.set(row, Math.max(lastTouch.get(row) ?? 0, eventTimeMs));
    if (seq % 8 === 0) await state.handle({ kind: 'publish' });
  }
  await state.handle({ kind: 'publish' });
  await waitFor(() => replica.shards[0].version === version, 2000, 'replica caught up');

  t.ok(seen.length >= 5 && seen.every((d) => d.wire === 2), 'deltas are wire version 2');
  const clickDeltas = seen.flatMap((d) => d.sparse.filter((x) => x.table === 'clicks' && x.rows.length));
  t.ok(clickDeltas.length > 0 && clickDeltas.every((x) => x.slot?.length === x.rows.length * 2 * 2), 'counter rows ship their lastTsHi / lastTsLo');
  t.ok(seen.every((d) => d.sparse.every((x) => x.table !== 'emb' || x.slot === undefined) && d.dense.every((x) => x.slot === undefined)), 'adagrad and momentum slots stay on the PS');

  const ids = Int32Array.from({ length: 32 }, (_, i) => i);
  const at = (src: { readAt?(table: string, rowIds: Int32Array, nowMs: number, out: Float32Array): void }, now: number) => {
    const out = new Float32Array(64);
    src.readAt!('clicks', ids, now, out);
    return out;
  };
  const resynced = new Replica(spec, 1, store);
  await resynced.resync(0);
  const frozen = new FrozenWeights(spec, decodeCheckpoint(encodeCheckpoint(replica.checkpoint())));
  const tau = HALF_LIFE / Math.LN2;
  const a = ps.tables.get('clicks')!.arena;
  for (const now of [T0 + 50 * 1_200_000, T0 + 3 * 86_400_000]) {
    const want = at(local, now);
    t.same(Array.from(at(replica, now)), Array.from(want), `replica = LocalParams at +${(now - T0) / 3_600_000} h`);
    t.same(Array.from(at(resynced, now)), Array.from(want), 'a replica loaded from the store: the same');
    t.same(Array.from(at(frozen, now)), Array.from(want), 'FrozenWeights of the replica\'s checkpoint: the same');
    // The PS's count decayed by hand from the newest event time that touched the row.
    let worst = 0;
    for (let row = 0; row < 32; row++) {
      const s = a.index.get(row);
      for (let j = 0; j < 2; j++) {
        const held = s < 0 ? 0 : a.weights[s * 2 + j];
        const last = lastTouch.get(row);
        const byHand = last === undefined ? held : held * Math.exp(-(now - last) / tau);
        worst = Math.max(worst, Math.abs(byHand - want[row * 2 + j]) / Math.max(1, Math.abs(byHand)));
      }
    }
    t.ok(worst < 1e-6, `the PS value decayed to the time (worst relative error ${worst.toExponential(1)})`);
  }
  // Read before the rows' times (a reader behind): undecayed, never inflated.
  const early = at(replica, T0);
  for (let row = 0; row < 32; row++) {
    const s = a.index.get(row);
    if (s >= 0 && lastTouch.has(row)) t.equal(early[row * 2], a.weights[s * 2], `row ${row} before its time reads as held`);
  }
  const hi = new Float32Array(64), hiPs = new Float32Array(64);
  replica.readSlots('clicks', 'lastTsHi', ids, hi);
  local.readSlots('clicks', 'lastTsHi', ids, hiPs);
  t.same(Array.from(hi), Array.from(hiPs), 'readSlots: the same last-update times');
  t.throws(() => replica.readSlots('emb', 'accum', ids, new Float32Array(64)), /not kept here|has no slot/, 'adagrad slots are not kept by a reader');
  t.throws(() => replica.readAt('emb', ids, T0, new Float32Array(64)), /is not a counter/);
});

t.test('shipped slots are checked: a wrong-length counter slot is a bad delta that changes nothing; a slot not kept is ignored', async (t) => {
  const replica = new Replica(spec, 1, new MemoryShardStore());
  const errors: string[] = [];
  const base = (v: number): WeightDelta => ({
    wire: 2, shard: 0, epoch: 0, epochStartVersion: 0, restoredEpoch: 0, fromVersion: v, toVersion: v + 1, persistedVersion: v + 1, dense: [], sparse: [],
    newestAcceptedAtMs: 0, pushAcceptedAtMs: new Float64Array(0), pushExamples: new Int32Array(0), publishedAtMs: 0,
  });
  const hi = Math.floor(T0 / 2 ** 20), lo = T0 - hi * 2 ** 20;
  t.equal(replica.applyDelta({ ...base(0), sparse: [{ table: 'clicks', rows: Int32Array.of(3), values: Float32Array.of(8, 4), slot: Float32Array.of(hi, hi, lo, lo) }] }), 'applied');
  const read = (now: number) => { const o = new Float32Array(2); replica.readAt('clicks', Int32Array.of(3), now, o); return Array.from(o); };
  t.same(read(T0 + HALF_LIFE), [4, 2], 'one half-life after the shipped time: halved');
  const bad = new Replica(spec, 1, new MemoryShardStore(), { onError: (e) => errors.push((e as Error).message) });
  for (const slot of [Float32Array.of(hi, lo), new Float32Array(0)]) {
    const before = replica.stats.bad;
    t.equal(replica.applyDelta({ ...base(1), sparse: [{ table: 'clicks', rows: Int32Array.of(3), values: Float32Array.of(1, 1), slot }] }), 'old', `${slot.length} slot floats for a row of 4: refused`);
    t.equal(replica.stats.bad, before + 1, 'counted as bad');
    t.same(read(T0 + HALF_LIFE), [4, 2], 'nothing changed');
    t.equal(replica.shards[0].version, 1);
  }
  bad.applyDelta({ ...base(0), dense: [{ name: 'b', values: Float32Array.of(1), slot: Float32Array.of(1, 2) }] });
  t.same(errors, [], 'a momentum slot a reader does not keep is no error');
  t.equal(bad.dense('b')[0], 1, 'and the weights applied');
  // A version-1 delta (no slots) for a counter row: its time is unknown, so it reads undecayed.
  t.equal(replica.applyDelta({ ...base(1), wire: undefined, sparse: [{ table: 'clicks', rows: Int32Array.of(3), values: Float32Array.of(6, 6) }] }), 'applied');
  t.same(read(T0 + 5 * HALF_LIFE), [6, 6], 'a row without a shipped time reads as held');
});

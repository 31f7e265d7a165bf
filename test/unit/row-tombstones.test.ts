// Rows a PS shard evicts (ps.rows) leave every copy: the delta carries them as tombstones
// (wire 3), the store deletes them, a replica following the deltas and one resynced from the
// store both drop them, and agree with the shard on every row. A malformed tombstone is refused.
import t from 'tap';
import {
  DEFAULT_CONFIG, MemoryBus, MemoryShardStore, MemoryTransport, Registry, Replica, encodeDelta, parseDelta, subjects, waitFor,
  type ParamSpec, type PsConfig, type Updater, type WeightDelta,
} from '../../shared/index.ts';
import { ShardState } from '../../services/ps/shard-state.ts';
import { psMetrics } from '../../services/ps/metrics.ts';

const MODEL = 'tomb';
const TTL = 60_000;
const T0 = 1_764_000_000_000;
const spec: ParamSpec = {
  model: MODEL, seed: 4, dense: [],
  tables: [{ name: 'emb', dim: 4, rows: 1000, init: { kind: 'uniform', scale: 0.1 }, optimizer: 'adagrad' }],
};
const cfg: PsConfig = { ...DEFAULT_CONFIG.ps, learningRate: 0.1, clipNorm: 0, publishIntervalMs: 3_600_000, rows: { admitAfter: 1, ttlMs: TTL, budgetBytes: 0 } };

t.test('evicted rows leave the store and every replica, through tombstones', async (t) => {
  const bus = new MemoryBus();
  const store = new MemoryShardStore();
  const registry = new Registry();
  const state = new ShardState({
    model: MODEL, spec, cfg, shard: 0, shards: 1, transport: new MemoryTransport(bus), store, metrics: psMetrics(registry), log: () => undefined,
  });
  await state.start();
  const replica = new Replica(spec, 1, store);
  await replica.start(new MemoryTransport(bus), MODEL);
  t.teardown(() => replica.stop());
  const seen: WeightDelta[] = [];
  new MemoryTransport(bus).subscribe(subjects.weights(MODEL, '*'), (m) => seen.push(parseDelta(m.data)));

  let seq = 0;
  const push = (rows: number[], eventTimeMs: number) => (state as unknown as { applyPush: (p: object, at: number) => unknown }).applyPush({
    worker: 'w', seq: ++seq, baseVersion: state.version, dense: [], examples: 1, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0, eventTimeMs,
    sparse: [{ table: 'emb', rows: Int32Array.from(rows), grads: new Float32Array(rows.length * 4).fill(0.5) }],
  }, Date.now());

  push([1, 2, 3, 4], T0);
  await state.publish();
  await waitFor(() => replica.shards[0].version === state.version, 2000, 'the replica at the shard version');
  t.same([...replica.heldRows('emb')].sort(), [1, 2, 3, 4], 'the replica holds the four rows');
  t.equal(seen.at(-1)!.wire, 2, 'a delta without tombstones stays at wire 2');

  push([2, 4], T0 + TTL / 2);
  push([4, 5], T0 + TTL + 1);
  const ps = (state as unknown as { updater: Updater }).updater;
  t.same([...ps.tables.get('emb')!.arena.rowIds.subarray(0, ps.tables.get('emb')!.arena.count)].sort(), [2, 4, 5], 'rows 1 and 3 (unused for the TTL) are evicted on the shard');
  await state.publish();
  await waitFor(() => replica.shards[0].version === state.version, 2000, 'the replica at the shard version');
  const d = seen.at(-1)!;
  t.equal(d.wire, 3, 'the delta with tombstones is wire 3');
  t.same([...d.sparse[0].removed!].sort(), [1, 3], 'it names the evicted rows');
  t.same([...replica.heldRows('emb')].sort(), [2, 4, 5], 'the replica dropped them');
  t.equal(replica.stats.removed, 2);

  const snap = await store.read(MODEL, 0, ['emb'], true);
  t.same([...snap!.sparse[0].rows].sort(), [2, 4, 5], 'the store deleted them');

  // Same values everywhere: the shard, the replica following deltas, one resynced from the store.
  const fresh = new Replica(spec, 1, store);
  await fresh.start(new MemoryTransport(bus), MODEL);
  t.teardown(() => fresh.stop());
  const ids = Int32Array.from([1, 2, 3, 4, 5, 6]);
  const want = new Float32Array(ids.length * 4);
  for (let i = 0; i < ids.length; i++) ps.tables.get('emb')!.arena.readRow(ids[i], want, i * 4);
  for (const [name, r] of [['following', replica], ['resynced', fresh]] as const) {
    const got = new Float32Array(ids.length * 4);
    r.readRows('emb', ids, got);
    t.same([...got], [...want], `the ${name} replica reads every row as the shard does (evicted ones at their initial value)`);
  }

  // A replica that missed the tombstones (a gap) and resyncs drops the rows the store lacks.
  push([6], T0 + 3 * TTL);
  await state.publish();
  await waitFor(() => replica.shards[0].version === state.version, 2000, 'the replica at the shard version');
  t.same([...replica.heldRows('emb')].sort(), [6], 'after a second eviction only row 6 is left');
  await replica.resync(0);
  t.same([...replica.heldRows('emb')].sort(), [6], 'a resync keeps exactly the stored rows');

  const text = await registry.metrics();
  t.match(text, /fw_ps_rows_evicted_total\{reason="ttl"\} 5/, 'evictions are counted by reason');
  t.match(text, /fw_ps_sparse_rows 1/, 'the rows held are exported');
});

t.test('a tombstone outside the table or of the wrong type is refused and counted, changing nothing', async (t) => {
  const store = new MemoryShardStore();
  const replica = new Replica(spec, 1, store);
  const base = {
    wire: 3, shard: 0, epoch: 1, epochStartVersion: 0, restoredEpoch: 0, fromVersion: 0, toVersion: 1, persistedVersion: 1,
    dense: [], newestAcceptedAtMs: 0, pushAcceptedAtMs: new Float64Array(0), pushExamples: new Int32Array(0), publishedAtMs: 0,
  };
  replica.shards[0].epoch = 1;
  const bad = { ...base, sparse: [{ table: 'emb', rows: new Int32Array(0), values: new Float32Array(0), removed: Int32Array.of(5000) }] };
  t.equal(replica.applyDelta(parseDelta(encodeDelta(bad))), 'old', 'out of range: not applied');
  t.equal(replica.stats.bad, 1, 'and counted');
  t.equal(replica.shards[0].version, 0, 'the version did not move');
  const wrongType = encodeDelta({ ...base, sparse: [{ table: 'emb', rows: new Int32Array(0), values: new Float32Array(0), removed: [1, 2] as unknown as Int32Array }] });
  t.throws(() => parseDelta(wrongType), /removed/, 'a tombstone list that is not an Int32Array is a bad message');
});

import t from 'tap';
import { MemoryTransport, Replica, waitFor, type WeightDelta } from '../../shared/index.ts';
import { PsHarness, MODEL } from '../helpers/ps-harness.ts';

function delta(over: Partial<WeightDelta>): WeightDelta {
  return {
    shard: 0, epoch: 1, epochStartVersion: 0, restoredEpoch: 0, fromVersion: 0, toVersion: 1, persistedVersion: 1, dense: [], sparse: [],
    newestAcceptedAtMs: 0, pushAcceptedAtMs: new Float64Array(0), pushExamples: new Int32Array(0), publishedAtMs: 0, ...over,
  };
}

t.test('deltas apply in order; an old one is ignored; a missing one is a gap', async (t) => {
  const h = new PsHarness(2);
  const r = new Replica(h.spec, 2, h.store);
  const rows = new Int32Array([5]);
  t.equal(r.applyDelta(delta({ epoch: 0, fromVersion: 0, toVersion: 2, sparse: [{ table: 'emb.a', rows, values: new Float32Array([1, 2]) }] })), 'applied');
  t.equal(r.shards[0].version, 2);
  const out = new Float32Array(2);
  r.readRows('emb.a', rows, out);
  t.same(Array.from(out), [1, 2]);
  t.equal(r.applyDelta(delta({ epoch: 0, fromVersion: 1, toVersion: 2 })), 'old', 'already have version 2');
  t.equal(r.applyDelta(delta({ epoch: 0, fromVersion: 3, toVersion: 4 })), 'gap', 'versions 2..3 missing');
  t.equal(r.shards[0].version, 2, 'a gap changes nothing');
  t.equal(r.applyDelta(delta({ epoch: 1, epochStartVersion: 1, fromVersion: 2, toVersion: 3 })), 'gap', 'a restarted shard whose history diverged from ours');
  t.equal(r.applyDelta(delta({ epoch: 0, fromVersion: 2, toVersion: 3, dense: [{ name: 'out.b', values: new Float32Array(7) }] })), 'old', 'wrong shape is refused');
  t.equal(r.stats.bad, 1);
  t.equal(r.shards[0].version, 2);
});

t.test('a replica resyncs from the store after a gap, then follows deltas again', async (t) => {
  const h = await new PsHarness(1).start();
  t.teardown(() => h.stop());
  const replica = new Replica(h.spec, 1, h.store);
  await replica.start(new MemoryTransport(h.bus), MODEL);
  t.teardown(() => replica.stop());
  const row = h.rowOwnedBy('emb.a', 0);
  const g = { sparse: [{ table: 'emb.a', rows: new Int32Array([row]), grads: new Float32Array([1, 1]) }] };
  await h.push(0, { seq: 1, ...g });
  await h.publish(0);
  await waitFor(() => replica.shards[0].version === 1, 2000, 'replica at version 1');
  // Lose the next delta: the replica misses version 2, then sees 3 -> gap -> resync.
  replica.stop();
  await h.push(0, { seq: 2, ...g });
  await h.publish(0);
  await replica.start(new MemoryTransport(h.bus), MODEL);
  await h.push(0, { seq: 3, ...g });
  await h.publish(0);
  await waitFor(() => replica.shards[0].version === 3, 2000, 'replica at version 3');
  t.ok(replica.stats.resyncs >= 2, 'resynced');
  const mine = new Float32Array(2);
  replica.readRows('emb.a', new Int32Array([row]), mine);
  const snap = await h.store.read(MODEL, 0, ['emb.a'], false);
  t.same(Array.from(mine), Array.from(snap!.sparse[0].weights.subarray(0, 2)), 'replica equals the stored snapshot');
});

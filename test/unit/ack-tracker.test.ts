// The worker acks a group of messages only when every update it pushed survives: across a PS
// restart (a new epoch that restored the old one's snapshot) and not across a store that lost
// the shard's state (a new epoch that restored nothing, or an older snapshot).
import t from 'tap';
import { AckTracker, type Persisted } from '../../services/worker/ack-tracker.ts';
import { MemoryShardStore, type EventLogMessage, type WeightDelta } from '../../shared/index.ts';

function msg(): EventLogMessage & { acked: number; naked: number } {
  const m = { data: new Uint8Array(0), seq: 1, redelivered: false, acked: 0, naked: 0, ack() { m.acked++; }, nak() { m.naked++; }, working() {} };
  return m;
}

const nothing: Persisted = { epoch: 0, version: 0, epochStartVersion: 0, restoredEpoch: 0 };

function delta(p: Persisted): WeightDelta {
  return {
    shard: 0, epoch: p.epoch, epochStartVersion: p.epochStartVersion, restoredEpoch: p.restoredEpoch, fromVersion: p.version, toVersion: p.version,
    persistedVersion: p.version, dense: [], sparse: [], newestAcceptedAtMs: 0, pushAcceptedAtMs: new Float64Array(0), pushExamples: new Int32Array(0), publishedAtMs: 0,
  };
}

t.test('a group waits for its version in its epoch', async (t) => {
  const a = new AckTracker();
  const m = msg();
  a.add([m], 10, new Map([[0, [{ epoch: 3, version: 5 }]]]), () => nothing);
  a.onDelta(delta({ epoch: 3, version: 4, epochStartVersion: 0, restoredEpoch: 0 }));
  t.equal(m.acked, 0, 'version 4 does not hold update 5');
  a.onDelta(delta({ epoch: 3, version: 5, epochStartVersion: 0, restoredEpoch: 0 }));
  t.equal(m.acked, 1, 'acked at version 5');
});

t.test('a restart that restored the epoch\'s snapshot past the version holds the update', async (t) => {
  const a = new AckTracker();
  const m = msg();
  a.add([m], 10, new Map([[0, [{ epoch: 3, version: 5 }]]]), () => nothing);
  // Epochs are unique, not consecutive: 9 restored epoch 3's snapshot at version 6.
  a.onDelta(delta({ epoch: 9, version: 6, epochStartVersion: 6, restoredEpoch: 3 }));
  t.equal(m.acked, 1);
});

t.test('a store that lost the shard\'s state: the new epoch restored nothing, the group is trained again', async (t) => {
  const a = new AckTracker();
  const m = msg();
  a.add([m], 10, new Map([[0, [{ epoch: 3, version: 5 }]]]), () => nothing);
  // The shard keeps counting versions from its ledger (7), but restored no snapshot.
  a.onDelta(delta({ epoch: 4, version: 7, epochStartVersion: 7, restoredEpoch: 0 }));
  t.equal(m.acked, 0);
  t.equal(m.naked, 1);
});

t.test('a group whose pushes straddle a restart needs both epochs\' updates', async (t) => {
  // Pushes applied at version 5 of epoch 3, then (after the restart) at version 8 of epoch 4;
  // epoch 4 restored epoch 3's snapshot at version 4, so update 5 is gone.
  const lost = new AckTracker();
  const m = msg();
  lost.add([m], 10, new Map([[0, [{ epoch: 3, version: 5 }, { epoch: 4, version: 8 }]]]), () => nothing);
  lost.onDelta(delta({ epoch: 4, version: 8, epochStartVersion: 4, restoredEpoch: 3 }));
  t.equal(m.acked, 0, 'not acked on epoch 4\'s version alone');
  t.equal(m.naked, 1, 'trained again');
  const kept = new AckTracker();
  const m2 = msg();
  kept.add([m2], 10, new Map([[0, [{ epoch: 3, version: 5 }, { epoch: 4, version: 8 }]]]), () => nothing);
  kept.onDelta(delta({ epoch: 4, version: 8, epochStartVersion: 5, restoredEpoch: 3 }));
  t.equal(m2.acked, 1, 'acked when epoch 4 restored update 5 and persisted 8');
});

t.test('what the replica already shows settles a group at once', async (t) => {
  const a = new AckTracker();
  const ok = msg();
  a.add([ok], 1, new Map([[0, [{ epoch: 2, version: 3 }]]]), () => ({ epoch: 2, version: 3, epochStartVersion: 0, restoredEpoch: 1 }));
  t.equal(ok.acked, 1);
  const gone = msg();
  a.add([gone], 1, new Map([[0, [{ epoch: 2, version: 3 }]]]), () => ({ epoch: 5, version: 9, epochStartVersion: 9, restoredEpoch: 0 }));
  t.equal(gone.naked, 1);
});

t.test('the store never hands out an epoch below the floor, nor one twice', async (t) => {
  const s = new MemoryShardStore();
  t.equal(await s.nextEpoch('m', 0), 1);
  t.equal(await s.nextEpoch('m', 0, 10), 10, 'a store that forgot its counter is floored by the ledger');
  t.equal(await s.nextEpoch('m', 0, 3), 11, 'above the floor it counts on');
});

t.test('touch keeps the ack deadline of every waiting message alive, and only theirs', async (t) => {
  const a = new AckTracker();
  const waiting = [msg(), msg()];
  const settled = msg();
  const worked = new Map<object, number>();
  for (const m of [...waiting, settled]) m.working = () => { worked.set(m, (worked.get(m) ?? 0) + 1); };
  a.add(waiting, 2, new Map([[0, [{ epoch: 1, version: 9 }]]]), () => nothing);
  a.add([settled], 1, new Map([[0, [{ epoch: 1, version: 1 }]]]), () => ({ epoch: 1, version: 1, epochStartVersion: 0, restoredEpoch: 0 }));
  t.equal(settled.acked, 1);
  t.equal(a.touch(), 2, 'two messages still wait');
  t.same(waiting.map((m) => worked.get(m)), [1, 1]);
  t.notOk(worked.get(settled), 'an acked message is left alone');
});

t.test('what is acked was counted first: settlement, then one report, then the acks', async (t) => {
  const order: string[] = [];
  const a = new AckTracker((events, ok) => order.push(`settled ${events} ${ok}`), () => order.push('report'));
  const ms = [msg(), msg(), msg()];
  for (const m of ms) m.ack = () => { order.push('ack'); };
  a.add([ms[0]], 4, new Map([[0, [{ epoch: 1, version: 2 }]]]), () => nothing);
  a.add([ms[1], ms[2]], 6, new Map([[0, [{ epoch: 1, version: 3 }]]]), () => nothing);
  t.same(order, [], 'nothing persisted yet');
  a.onDelta(delta({ epoch: 1, version: 3, epochStartVersion: 0, restoredEpoch: 0 }));
  t.same(order, ['settled 4 true', 'settled 6 true', 'report', 'ack', 'ack', 'ack'], 'both groups settle on one delta, reported once before any ack');
  order.length = 0;
  const lost = msg();
  a.add([lost], 2, new Map([[0, [{ epoch: 1, version: 9 }]]]), () => nothing);
  a.onDelta(delta({ epoch: 5, version: 1, epochStartVersion: 0, restoredEpoch: 0 }));
  t.same(order, ['settled 2 false'], 'a lost group is nak\'ed without a report');
  t.equal(lost.naked, 1);
});

t.test('with retry, a group one shard lost waits for the others, then comes back with the shards that hold it', async (t) => {
  const a = new AckTracker();
  const m = msg();
  const back: Map<number, { epoch: number; version: number }[]>[] = [];
  const at = (shard: number, p: Persisted) => ({ ...delta(p), shard });
  a.add([m], 10, new Map([[0, [{ epoch: 1, version: 4 }]], [1, [{ epoch: 2, version: 7 }]]]), () => nothing, { retry: (held) => back.push(held) });
  // Shard 1 restarted from a snapshot older than update 7: lost there.
  a.onDelta(at(1, { epoch: 3, version: 6, epochStartVersion: 6, restoredEpoch: 2 }));
  t.same(back, [], 'not yet: shard 0 has not persisted its part');
  t.equal(m.naked + m.acked, 0, 'neither nak\'ed nor acked');
  t.equal(a.touch(), 1, 'still waiting (kept alive)');
  a.onDelta(at(0, { epoch: 1, version: 4, epochStartVersion: 0, restoredEpoch: 0 }));
  t.same(back, [new Map([[0, [{ epoch: 1, version: 4 }]]])], 'handed back: shard 0 holds it, at the version it met');
  t.equal(m.naked + m.acked, 0, 'and never nak\'ed (a redelivery would train it into shard 0 again)');
  t.equal(a.pendingGroups, 0);
});

t.test('with retry, a shard that refused holds nothing; one lost too holds nothing; without a failure the group is acked', async (t) => {
  const a = new AckTracker();
  const at = (shard: number, p: Persisted) => ({ ...delta(p), shard });
  const back: number[][] = [];
  const refused = msg();
  // Shard 1 refused one step but took another (its requirement is dropped: it does not hold the whole group).
  a.add([refused], 1, new Map([[0, [{ epoch: 1, version: 2 }]], [1, [{ epoch: 1, version: 3 }]]]), () => nothing, { refused: [1], retry: (held) => back.push([...held.keys()]) });
  const both = msg();
  a.add([both], 1, new Map([[0, [{ epoch: 1, version: 9 }]], [1, [{ epoch: 1, version: 9 }]]]), () => nothing, { retry: (held) => back.push([...held.keys()]) });
  const fine = msg();
  a.add([fine], 1, new Map([[0, [{ epoch: 1, version: 2 }]]]), () => nothing, { retry: () => t.fail('not retried') });
  a.onDelta(at(0, { epoch: 1, version: 2, epochStartVersion: 0, restoredEpoch: 0 }));
  t.same(back, [[0]], 'the refused group comes back once shard 0 persisted its part');
  t.equal(fine.acked, 1, 'a group nothing failed is acked as before');
  a.onDelta(at(0, { epoch: 4, version: 9, epochStartVersion: 9, restoredEpoch: 0 }));
  a.onDelta(at(1, { epoch: 5, version: 9, epochStartVersion: 9, restoredEpoch: 0 }));
  t.same(back, [[0], []], 'both shards lost it: it comes back with none holding it');
  t.equal(refused.naked + both.naked, 0);
});

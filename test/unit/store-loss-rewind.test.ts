// The pieces of a store loss's rewind, in process: the in-process log's ack floor and range
// read, the rewind record's forward-only progress, what a PS shard that restarted asks for
// (from the stream's start, from its checkpoint's floors, or nothing, loudly, when where its
// state ends is unknown), and the checkpoint's recorded floors.
import t from 'tap';
import {
  MemoryEventLog, MemoryLedger, MemoryRewindStore, MemoryServingStore, createRegistry, decodeCheckpoint, encode, encodeCheckpoint, waitFor,
} from '../../shared/index.ts';
import { StoreLossRewind } from '../../services/ps/rewind.ts';

t.test('memory log: the ack floor stops at the first unacked message; a range read acks nothing', async (t) => {
  const log = new MemoryEventLog(2, 10_000);
  for (let i = 1; i <= 5; i++) await log.publish(0, Uint8Array.of(i));
  await log.publish(1, Uint8Array.of(9));
  t.equal(await log.ackFloor(0), 0, 'nothing acked');
  const msgs: { ack(): void; data: Uint8Array }[] = [];
  const c = await log.consume(0, (m) => msgs.push(m), 10);
  await waitFor(() => msgs.length === 5, 2000, 'the five messages delivered', 1);
  for (const m of msgs) if (m.data[0] !== 3) m.ack();
  t.equal(await log.ackFloor(0), 2, 'up to the message before the unacked one (acks above it do not count)');
  const got: number[] = [];
  t.same(await log.readRange(0, 1, 4, (d) => { got.push(d[0]); }), { messages: 3, expiredBelow: 0 });
  t.same(got, [2, 3, 4], 'from < seq <= to, in order');
  t.equal((await log.backlog(0)).ackPending, 1, 'the unacked message is still pending');
  await c.stop();
});

t.test('rewind record: done only moves forward, never past to, and only in its epoch', async (t) => {
  const s = new MemoryRewindStore();
  await s.write('m', 1, { epoch: 3, createdAtMs: 1, ranges: [{ from: 0, to: 10, done: 0 }, { from: 5, to: 8, done: 5 }] });
  t.equal(await s.advance('m', 1, 3, 0, 4), true);
  t.equal(await s.advance('m', 1, 3, 0, 2), true, 'going back changes nothing');
  t.equal(await s.advance('m', 1, 3, 1, 99), true);
  t.same((await s.read('m', 1))!.ranges.map((r) => r.done), [4, 8], 'at most to');
  t.equal(await s.advance('m', 1, 2, 0, 9), false, 'another epoch\'s record is left alone');
  await s.deleteModel('m', 2);
  t.equal(await s.read('m', 1), null);
});

/** A shard's StoreLossRewind over memory stores, with consumers acked up to `floors`. */
function setup(floors: number[], o: { hasSnapshot?: boolean; checkpointFloors?: number[] } = {}) {
  const rewinds = new MemoryRewindStore();
  const ledger = new MemoryLedger();
  const serving = new MemoryServingStore();
  const registry = createRegistry('ps');
  const logs: string[] = [];
  const r = new StoreLossRewind({
    model: 'm', shard: 1, eventShards: floors.length, ledger, rewinds, serving, registry,
    positions: { ackFloor: async (s) => floors[s], readRange: async () => ({ messages: 0, expiredBelow: 0 }) },
    hasSnapshot: async () => o.hasSnapshot ?? false, settleMs: 1, settleRounds: 2,
    log: (level, msg) => logs.push(`${level}: ${msg}`),
  });
  const count = async (outcome: string) => (await registry.getSingleMetric('fw_ps_rewinds_total')!.get()).values.find((v) => v.labels.outcome === outcome)!.value;
  return { r, rewinds, ledger, serving, logs, count };
}

t.test('a shard that lost its store asks for the acked range since what it restored', async (t) => {
  const fresh = setup([7, 9]);
  await fresh.r.after(await fresh.r.before(), { epoch: 1, restoredEpoch: 0, restoredCheckpoint: false });
  t.equal(await fresh.rewinds.read('m', 1), null, 'a new model (no ledger entry) asks for nothing');

  const restarted = setup([7, 9], { hasSnapshot: true });
  await restarted.ledger.record('m', 1, { epoch: 2, version: 40 });
  await restarted.r.after(await restarted.r.before(), { epoch: 3, restoredEpoch: 2, restoredCheckpoint: false });
  t.equal(await restarted.rewinds.read('m', 1), null, 'a shard that restored its own snapshot asks for nothing');

  const wiped = setup([7, 9]);
  await wiped.ledger.record('m', 1, { epoch: 2, version: 40 });
  await wiped.r.after(await wiped.r.before(), { epoch: 3, restoredEpoch: 0, restoredCheckpoint: false });
  const rec = await wiped.rewinds.read('m', 1);
  t.same(rec && { epoch: rec.epoch, ranges: rec.ranges }, { epoch: 3, ranges: [{ from: 0, to: 7, done: 0 }, { from: 0, to: 9, done: 0 }] }, 'initial values: from the stream\'s start to each ack floor');
  t.equal(await wiped.count('requested'), 1);

  const ckpt = setup([7, 9], { hasSnapshot: true });
  await ckpt.ledger.record('m', 1, { epoch: 2, version: 40 });
  await ckpt.serving.setPointer('m', { checkpointId: await ckpt.serving.saveCheckpoint('m', encodeCheckpoint({ versions: [1, 1], dense: [], tables: [], eventFloors: [3, 9], createdAtMs: 1 })), versions: [1, 1], atMs: 1, by: 'gate' }, true);
  await ckpt.r.after(await ckpt.r.before(), { epoch: 3, restoredEpoch: 0, restoredCheckpoint: true });
  t.same((await ckpt.rewinds.read('m', 1))!.ranges, [{ from: 3, to: 7, done: 3 }, { from: 9, to: 9, done: 9 }], 'a checkpoint: from the floors it recorded');

  const stale = setup([7, 9], { hasSnapshot: true });
  await stale.ledger.record('m', 1, { epoch: 2, version: 40 });
  await stale.r.after(await stale.r.before(), { epoch: 3, restoredEpoch: 0, restoredCheckpoint: false });
  t.equal(await stale.rewinds.read('m', 1), null, 'a stale snapshot says nothing of where it ends: nothing asked');
  t.equal(await stale.count('impossible'), 1, 'counted');
  t.match(stale.logs.join('\n'), /error: THE LOST UPDATES CANNOT BE TRAINED AGAIN/, 'and said loudly');
});

t.test('checkpoint: eventFloors round-trip, and a bad one is refused', async (t) => {
  const blob = { versions: [1], dense: [], tables: [], createdAtMs: 1 };
  t.same(decodeCheckpoint(encodeCheckpoint({ ...blob, eventFloors: [4, 0] })).eventFloors, [4, 0]);
  t.equal(decodeCheckpoint(encodeCheckpoint(blob)).eventFloors, undefined, 'absent in an older checkpoint');
  t.throws(() => decodeCheckpoint(encode({ ...blob, format: 2, eventFloors: [-1] })), /eventFloors/);
});

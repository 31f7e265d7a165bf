// The two halves of "epochs stay unique across store loss" on the real servers: the Redis
// epoch counter honours a floor in one step, and the JetStream ledger keeps what a shard
// published when Redis forgets everything. And what a store loss's rewind keeps in JetStream:
// its record, and the range it reads back from the stream.
import t from 'tap';
import {
  JetStreamEventLog, JetStreamLedger, JetStreamPositions, JetStreamRewindStore, RedisShardStore, connectNats, connectRedis, loadConfig, shardKeys, streamName,
} from '../../shared/index.ts';
import { uniqueModel } from '../helpers/integration.ts';

const cfg = loadConfig({});

t.test('redis: nextEpoch counts on, never below the floor it is given', async (t) => {
  const redis = connectRedis(cfg.redisUrl);
  const store = new RedisShardStore(redis);
  const model = uniqueModel('epoch');
  t.teardown(async () => { await redis.del(shardKeys(model, 0).epoch); redis.disconnect(); });
  t.equal(await store.nextEpoch(model, 0), 1);
  t.equal(await store.nextEpoch(model, 0), 2);
  await redis.del(shardKeys(model, 0).epoch); // the store forgot its counter
  t.equal(await store.nextEpoch(model, 0, 3), 3, 'floored above the epochs handed out before');
  t.equal(await store.nextEpoch(model, 0, 3), 4);
});

t.test('jetstream ledger: record, read back, forget', async (t) => {
  const nc = await connectNats(cfg.natsUrl, 'test-ledger');
  const ledger = new JetStreamLedger(nc);
  const model = uniqueModel('ledger');
  t.teardown(async () => { await ledger.deleteModel(model, 2); await nc.close(); });
  t.equal(await ledger.read(model, 0), null, 'a new model has no entry');
  await ledger.record(model, 0, { epoch: 4, version: 357 });
  await ledger.record(model, 1, { epoch: 2, version: 10 });
  await ledger.record(model, 0, { epoch: 5, version: 360 });
  t.same(await ledger.read(model, 0), { epoch: 5, version: 360 }, 'the newest record wins');
  t.same(await ledger.read(model, 1), { epoch: 2, version: 10 }, 'shards are apart');
  await ledger.deleteModel(model, 2);
  t.equal(await ledger.read(model, 0), null, 'forgotten');
});

t.test('jetstream: a rewind record advanced by two writers at once, and a range read back from the stream', async (t) => {
  const nc = await connectNats(cfg.natsUrl, 'test-rewind-store');
  const model = uniqueModel('rwstore');
  const log = new JetStreamEventLog(nc, { model, eventShards: 2 });
  const rewinds = new JetStreamRewindStore(nc);
  t.teardown(async () => { await rewinds.deleteModel(model, 1); await log.destroy(); await nc.close(); });
  await rewinds.write(model, 0, { epoch: 2, createdAtMs: 1, ranges: [{ from: 0, to: 10, done: 0 }, { from: 0, to: 20, done: 0 }] });
  t.same(await Promise.all([rewinds.advance(model, 0, 2, 0, 10), rewinds.advance(model, 0, 2, 1, 15)]), [true, true]);
  t.same((await rewinds.read(model, 0))!.ranges.map((r) => r.done), [10, 15], 'neither update lost (compare and set)');
  t.equal(await rewinds.advance(model, 0, 1, 0, 5), false, 'another epoch\'s record is left alone');

  await log.ensure();
  for (let i = 1; i <= 4; i++) await log.publish(0, Uint8Array.of(i));
  await log.publish(1, Uint8Array.of(9));
  const positions = new JetStreamPositions(nc, { model, eventShards: 2 });
  t.equal(await positions.ackFloor(0), 0, 'nothing acked');
  const got: number[] = [];
  t.same(await positions.readRange(0, 1, 3, (d) => { got.push(d[0]); }), { messages: 2, expiredBelow: 0 });
  t.same(got, [2, 3], 'from < seq <= to, this shard only');
  t.equal((await log.backlog(0)).pending, 4, 'the consumer did not move');
  const jsm = await nc.jetstreamManager();
  await jsm.streams.purge(streamName(model), { seq: 3 });
  got.length = 0;
  t.same(await positions.readRange(0, 0, 10, (d) => { got.push(d[0]); }), { messages: 2, expiredBelow: 3 }, 'what expired is said');
  t.same(got, [3, 4]);
});

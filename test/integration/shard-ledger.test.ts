// The two halves of "epochs stay unique across store loss" on the real servers: the Redis
// epoch counter honours a floor in one step, and the JetStream ledger keeps what a shard
// published when Redis forgets everything.
import t from 'tap';
import { JetStreamLedger, RedisShardStore, connectNats, connectRedis, loadConfig, shardKeys } from '../../shared/index.ts';
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

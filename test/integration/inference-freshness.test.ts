// An inference node over the real NATS and Redis picks up a newer version within a bound,
// and a PS shard restarted from Redis keeps its version and weights.
import t from 'tap';
import {
  NatsTransport, RedisShardStore, Registry, connectNats, connectRedis, paramSpecOf, encodePush, parseReply,
  ownerOfRow, tableHash, subjects, waitFor, type FlywheelConfig,
} from '../../shared/index.ts';
import { PsShard } from '../../services/ps/ps-shard.ts';
import { psMetrics } from '../../services/ps/metrics.ts';
import { ProcessGroup } from '../../cluster/processes.ts';
import { cleanupModel, integrationConfig } from '../helpers/integration.ts';

async function startShard(cfg: FlywheelConfig, transport: NatsTransport, store: RedisShardStore): Promise<PsShard> {
  const s = new PsShard({
    model: cfg.model, spec: paramSpecOf(cfg), cfg: cfg.ps, shard: 0, shards: 1,
    transport, store, metrics: psMetrics(new Registry()), log: () => undefined,
  });
  await s.start();
  return s;
}

t.test('inference serves a newer version within a bound; a restarted shard keeps its state', async (t) => {
  const { cfg, file, dir } = await integrationConfig('fresh', {
    psShards: 1, settings: { fields: ['user', 'item'], buckets: 1024, hidden: [8], embDim: 4 }, ps: { publishIntervalMs: 50 },
  });
  const nc = await connectNats(cfg.natsUrl, 'test-fresh');
  const transport = new NatsTransport(nc);
  const redis = connectRedis(cfg.redisUrl);
  const store = new RedisShardStore(redis);
  const group = new ProcessGroup(dir);
  let shard = await startShard(cfg, transport, store);
  t.teardown(async () => {
    await group.stop();
    await shard.stop();
    await transport.close();
    redis.disconnect();
    await cleanupModel(cfg);
  });
  group.start('inference', 'inference', ['--config', file]);
  const url = `http://127.0.0.1:${cfg.inference.port}`;
  const model = async () => (await fetch(`${url}/v1/model`)).json() as Promise<{ versions: number[]; freshnessMs: number | null }>;
  await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true, 60_000, 'inference up', 100);

  const row = Array.from({ length: 1024 }, (_, i) => i).find((r) => ownerOfRow(tableHash('bias.item'), r, 1) === 0)!;
  const push = async (seq: number) => parseReply(await transport.request(subjects.push(cfg.model, 0), encodePush({
    worker: 'tester', seq, baseVersion: shard.version, examples: 1, newestAcceptedAtMs: Date.now(), meanAcceptedAtMs: Date.now(),
    dense: [], sparse: [{ table: 'bias.item', rows: new Int32Array([row]), grads: new Float32Array([-1]) }],
  }), 2000));
  const before = await (await fetch(`${url}/v1/predict`, { method: 'POST', body: JSON.stringify({ events: [{ userId: 'a', itemId: 'b' }] }) })).json() as { scores: number[] };
  for (let i = 1; i <= 3; i++) t.ok((await push(i)).ok, `push ${i} applied`);
  const target = shard.version;
  const sentAt = Date.now();
  // The bound: a few publish intervals plus delivery, far below the one second the design promises.
  const boundMs = 1000;
  await waitFor(async () => (await model()).versions[0] >= target, boundMs, `inference at version ${target} within ${boundMs} ms`, 10);
  t.pass(`inference served version ${target} ${Date.now() - sentAt} ms after the last push`);
  const m = await model();
  t.ok(m.freshnessMs !== null && m.freshnessMs >= 0, 'freshness is reported');
  t.ok(Array.isArray(before.scores) && before.scores.length === 1, 'predict answers');

  // Restart the shard from Redis: same version, same weights.
  await shard.stop();
  const snapBefore = await store.read(cfg.model, 0, ['bias.item'], true);
  shard = await startShard(cfg, transport, store);
  t.equal(shard.version, target, 'version restored from Redis');
  const snapAfter = await store.read(cfg.model, 0, ['bias.item'], true);
  t.same(snapAfter!.sparse, snapBefore!.sparse, 'weights and momentum unchanged by the restart');
  t.ok((await push(4)).ok, 'training continues after the restart');
  await waitFor(async () => (await model()).versions[0] === target + 1, 5000, 'inference follows the restarted shard', 10);
});

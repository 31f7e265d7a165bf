// A PS shard acks pushes once they are in Redis: on a Redis that keeps nothing on disk it
// refuses to start (naming the option that allows it), on one with an append-only file it
// starts. Private Redis servers, so the machine's own configuration does not decide the test.
import t from 'tap';
import { startPs } from '../../services/ps/service.ts';
import { connectInfra, loadConfig, RedisShardStore, connectRedis } from '../../shared/index.ts';
import { PrivateServer } from '../../tools/chaos/servers.ts';
import { uniqueModel } from '../helpers/integration.ts';

async function withRedis(args: string[], f: (url: string) => Promise<void>): Promise<void> {
  const s = await PrivateServer.redis(args);
  await s.start();
  try {
    await f(s.url);
  } finally {
    await s.stop();
  }
}

t.test('durability as the store reports it', async (t) => {
  await withRedis(['--save', '', '--appendonly', 'no'], async (url) => {
    const r = connectRedis(url);
    t.equal((await new RedisShardStore(r).durability()).level, 'volatile');
    r.disconnect();
  });
  await withRedis(['--save', '3600 1', '--appendonly', 'no'], async (url) => {
    const r = connectRedis(url);
    t.equal((await new RedisShardStore(r).durability()).level, 'snapshots');
    r.disconnect();
  });
});

t.test('a shard refuses a Redis that keeps nothing unless the config allows it', async (t) => {
  await withRedis(['--save', '', '--appendonly', 'no'], async (url) => {
    const cfg = loadConfig({ env: {}, overrides: { model: uniqueModel('volatile'), redisUrl: url, psMetricsBasePort: 0 } });
    const infra = await connectInfra(cfg, 'test-volatile');
    t.teardown(() => infra.close());
    await t.rejects(startPs(cfg, 0, infra), /ps\.volatileStore.*keeps nothing on disk/, 'refused, naming the option');
    const allowed = await startPs({ ...cfg, ps: { ...cfg.ps, volatileStore: 'allow' } }, 0, infra);
    t.ok(allowed.shard.healthy, 'starts when the config says so');
    await allowed.stop();
  });
});

t.test('a shard starts on a Redis with an append-only file', async (t) => {
  await withRedis(['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'], async (url) => {
    const cfg = loadConfig({ env: {}, overrides: { model: uniqueModel('durable'), redisUrl: url, psMetricsBasePort: 0 } });
    const infra = await connectInfra(cfg, 'test-durable');
    t.teardown(() => infra.close());
    const ps = await startPs(cfg, 0, infra);
    t.ok(ps.shard.healthy);
    await ps.stop();
  });
});

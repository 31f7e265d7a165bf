// The cluster options without a cluster: redisUrl's redis+cluster:// form as connectRedis reads
// it, redisWaitReplicas' range, and what an existing stream's settings are told apart by.
import t from 'tap';
import { Cluster } from 'ioredis';
import { ConfigError, connectRedis, eventStreamConfig, parseRedisClusterUrl, streamSettingsDiff, validateConfig } from '../../shared/index.ts';

t.test('redis+cluster:// URLs', async (t) => {
  t.equal(parseRedisClusterUrl('redis://127.0.0.1:6379'), null, 'one server is not a cluster');
  t.same(parseRedisClusterUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001'), { nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }], tls: false });
  t.same(parseRedisClusterUrl('rediss+cluster://flywheel:p%40ss@r1:6379,[::1]:6380/0'), {
    nodes: [{ host: 'r1', port: 6379 }, { host: '::1', port: 6380 }], tls: true, username: 'flywheel', password: 'p@ss',
  }, 'TLS, percent-encoded credentials, IPv6, db 0');
  t.same(parseRedisClusterUrl('redis+cluster://:secret@r1:6379'), { nodes: [{ host: 'r1', port: 6379 }], tls: false, password: 'secret' }, 'a password alone');
  t.throws(() => parseRedisClusterUrl('redis+cluster://r1:6379/2'), /database 0 only/);
  t.throws(() => parseRedisClusterUrl('redis+cluster://r1'), /host:port/);
  t.throws(() => parseRedisClusterUrl('redis+cluster://'), /at least one node/);
  const c = connectRedis('redis+cluster://127.0.0.1:1', { lazyConnect: true }, {});
  t.ok(c instanceof Cluster, 'connectRedis makes an ioredis Cluster of it');
  c.disconnect();
});

t.test('the config takes redis+cluster:// and redisWaitReplicas 0..5', async (t) => {
  t.equal(validateConfig({ redisUrl: 'redis+cluster://a:1,b:2' }).redisUrl, 'redis+cluster://a:1,b:2');
  t.equal(validateConfig({}).redisWaitReplicas, 0, 'no WAIT by default');
  t.equal(validateConfig({ redisWaitReplicas: 2 }).redisWaitReplicas, 2);
  for (const bad of [{ redisUrl: 'cluster://a:1' }, { redisWaitReplicas: 6 }, { redisWaitReplicas: -1 }]) {
    const err = (() => { try { validateConfig(bad); return undefined; } catch (e) { return e as Error; } })();
    t.ok(err instanceof ConfigError, `${JSON.stringify(bad)} refused`);
    t.match(err?.message, /redis(Url|WaitReplicas)/, `naming the option: ${err?.message}`);
  }
});

t.test('an existing stream\'s settings against the config\'s', async (t) => {
  const wants = eventStreamConfig({ model: 'm', replicas: 3, maxAgeMs: 3_600_000 });
  t.same(streamSettingsDiff({ num_replicas: 3, max_age: wants.max_age, storage: wants.storage }, wants), [], 'the same: nothing to say');
  t.same(streamSettingsDiff({ num_replicas: 1, max_age: 2 * wants.max_age, storage: 'memory' }, wants), [
    'replicas 1 (streamReplicas says 3)', 'max age 2 h (streamRetentionHours says 1 h)', 'memory storage (Flywheel creates it with file)',
  ]);
});

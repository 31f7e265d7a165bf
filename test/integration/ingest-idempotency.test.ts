// Idempotency-Key over the real NATS (JetStream) and Redis: records live in Redis with the
// configured TTL and are shared by every ingest of a stream; a retry replays without
// publishing even with JetStream's de-duplication out of the picture (as after its 120 s
// window), and a request that failed halfway is completed by its retry without duplicates
// (the msgId de-duplication, the second line of defence). Counted on the stream itself.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { RedisIdempotencyStore, connectInfra, connectRedis, idempotencyKey, idempotencyKeyPattern, type FlywheelConfig, type Infra } from '../../shared/index.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { resetModel } from '../../cluster/local-cluster.ts';
import { integrationConfig } from '../helpers/integration.ts';
import { pendingMessages } from '../helpers/scrape.ts';

const NOW = Date.now();
const events = (n: number, user = 'u') => Array.from({ length: n }, (_, i) => ({ userId: `${user}${i}`, itemId: `i${i}`, type: 'view', ts: NOW - 1000 }));

t.test('Idempotency-Key with Redis and JetStream', async (t) => {
  const { cfg } = await integrationConfig('idem', { eventShards: 2 });
  const redis = connectRedis(cfg.redisUrl);
  const infras: Infra[] = [];
  const stops: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const stop of stops) await stop();
    for (const i of infras) await i.close();
    await resetModel(cfg).catch(() => undefined);
    redis.disconnect();
  });
  // Each ingest's publishes pass through a hook: counted, failed, held, or stripped of their msgId.
  const hook = { calls: 0, stripMsgId: false, before: async (): Promise<void> => undefined };
  const start = async (c: FlywheelConfig) => {
    const infra = await connectInfra(c, 'test-idempotency');
    infras.push(infra);
    const publish = infra.eventLog.publish.bind(infra.eventLog);
    infra.eventLog.publish = async (shard, data, msgId, key) => {
      hook.calls++;
      await hook.before();
      return publish(shard, data, hook.stripMsgId ? undefined : msgId, key);
    };
    const ingest = await startIngest(c, infra, 0);
    stops.push(() => ingest.stop());
    return `http://127.0.0.1:${ingest.port}/v1/events`;
  };
  const a = await start(cfg);
  const b = await start(cfg);
  const post = async (url: string, body: unknown, key: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: await res.json() as Record<string, unknown> };
  };
  const infra = infras[0];
  const messages = () => pendingMessages(infra.eventLog, cfg.eventShards);

  await t.test('a retry publishes nothing, without JetStream de-duplication, on any ingest', async (t) => {
    hook.stripMsgId = true;
    t.teardown(() => { hook.stripMsgId = false; });
    const body = events(20);
    const first = await post(a, body, 'k-replay');
    t.equal(first.status, 200);
    const msgs = await messages();
    t.equal(msgs, 2, 'one message per event shard');
    const calls = hook.calls;
    const again = await post(a, body, 'k-replay');
    t.same([again.status, again.replayed, again.body], [200, 'true', first.body], 'replayed by the same ingest');
    const elsewhere = await post(b, body, 'k-replay');
    t.same([elsewhere.status, elsewhere.replayed, elsewhere.body], [200, 'true', first.body], 'and by another ingest of the stream');
    t.equal(hook.calls, calls, 'no publish attempted');
    t.equal(await messages(), msgs, 'no message added to the stream');
    const ttl = await redis.pttl(idempotencyKey(cfg.stream, 'shared', 'k-replay'));
    t.ok(ttl > 86_300_000 && ttl <= 86_400_000, `the record is in Redis for ingest.idempotencyTtlSeconds (PTTL ${ttl})`);
  });

  await t.test('the same key with another body: 422, on any ingest, nothing published', async (t) => {
    t.equal((await post(a, events(3, 'x'), 'k-body')).status, 200);
    const msgs = await messages();
    const r = await post(b, events(3, 'y'), 'k-body');
    t.equal(r.status, 422);
    t.equal(r.body.code, 'idempotency_key_reused');
    t.equal(await messages(), msgs);
  });

  await t.test('while a request is in flight its key gets 409 from every ingest', async (t) => {
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    let entered!: () => void;
    const publishing = new Promise<void>((r) => { entered = r; });
    hook.before = () => { entered(); return gate; };
    const body = events(4, 'f');
    const first = post(a, body, 'k-flight');
    await publishing;
    t.equal((await post(b, body, 'k-flight')).status, 409, 'another ingest: 409');
    t.equal((await post(a, body, 'k-flight')).status, 409, 'the same ingest: 409');
    hook.before = async () => undefined;
    open();
    t.equal((await first).status, 200);
    t.equal((await post(b, body, 'k-flight')).replayed, 'true', 'then a replay');
  });

  await t.test('a request that failed halfway: its retry completes it, JetStream drops what it had published', async (t) => {
    const body = events(20, 'h');
    const msgs = await messages();
    let n = 0;
    hook.before = async () => { if (++n === 2) throw new Error('stream hiccup'); };
    const failed = await post(a, body, 'k-half');
    t.equal(failed.status, 503, 'the second publish failed: 503');
    t.equal(await messages(), msgs + 1, 'the first shard\'s message is in the stream');
    t.equal(await redis.exists(idempotencyKey(cfg.stream, 'shared', 'k-half')), 0, 'and no record: the claim was released');
    hook.before = async () => undefined;
    const retry = await post(b, body, 'k-half');
    t.same([retry.status, retry.replayed, retry.body.accepted], [200, null, 20], 'the retry does the work');
    t.equal(await messages(), msgs + 2, 'each shard\'s message once: the repeated one was de-duplicated');
  });

  await t.test('the Redis store: claims expire after their lease, only the claimant records', async (t) => {
    const store = new RedisIdempotencyStore(redis);
    const [t1, t2] = [randomUUID(), randomUUID()];
    t.equal(await store.claim(cfg.stream, 'scope1', 'lease', 'h', t1, 200), null, 'claimed');
    t.same(await store.claim(cfg.stream, 'scope1', 'lease', 'h', t2, 200), { state: 'pending', bodyHash: 'h' }, 'held');
    t.equal(await store.claim(cfg.stream, 'scope2', 'lease', 'h', t2, 200), null, 'another scope is another key');
    // The claim carries its lease as the key's expiry; expiring it now stands for the lease passing.
    const key = idempotencyKey(cfg.stream, 'scope1', 'lease');
    const pttl = await redis.pttl(key);
    t.ok(pttl > 0 && pttl <= 200, `the claim expires with its lease (PTTL ${pttl} ms)`);
    await redis.pexpire(key, 0);
    t.equal(await store.claim(cfg.stream, 'scope1', 'lease', 'h', t2, 10_000), null, 'free again after the lease');
    t.equal(await store.complete(cfg.stream, 'scope1', 'lease', t1, '{}', 10_000), false, 'the expired claimant cannot record');
    await store.release(cfg.stream, 'scope1', 'lease', t1);
    t.equal(await store.complete(cfg.stream, 'scope1', 'lease', t2, '{"accepted":1}', 10_000), true, 'the live one can');
    t.same(await store.claim(cfg.stream, 'scope1', 'lease', 'h', t1, 200), { state: 'done', bodyHash: 'h', response: '{"accepted":1}' });
  });

  await t.test('a fresh run (resetModel) deletes the stream\'s records', async (t) => {
    const count = async () => (await redis.keys(idempotencyKeyPattern(cfg.stream))).length;
    t.ok(await count() > 0, 'records exist');
    await resetModel(cfg);
    t.equal(await count(), 0, 'none left');
  });
});

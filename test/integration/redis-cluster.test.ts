// The Redis stores on a Redis Cluster: a local cluster of 3 masters with a replica each, on
// private ports (test/helpers/local-clusters.ts), reached through a redis+cluster:// URL as
// the config gives it. First every store's behaviour (PS snapshots over several masters,
// epochs, leases, idempotency records spread over every master, checkpoints and the serving
// pointer); then a master is killed -9 while PS-like writers write versioned snapshots, and
// every write that was acknowledged must still be there after the failover.
//
// Redis replication is asynchronous: a write the master acknowledged may not have reached its
// replica when the master dies, and the replica then takes over without it. So the writes that
// must survive are made with redisWaitReplicas 1 (WAIT after the MULTI/EXEC); a second kill
// without WAIT measures what is lost in practice (reported, not asserted).
import t from 'tap';
import { Cluster } from 'ioredis';
import {
  RedisIdempotencyStore, RedisLeaseStore, RedisServingStore, RedisShardStore, UnavailableError,
  clusterKeySlot, connectRedis, idempotencyKey, loadConfig, redisMasters, shardKeys, type RedisClient, type ShardWrite,
} from '../../shared/index.ts';
import { LocalRedisCluster, missingBinaries } from '../helpers/local-clusters.ts';
import { uniqueModel } from '../helpers/integration.ts';

const missing = missingBinaries(['redis-server', 'redis-cli']);

/** A PS-like snapshot: two dense tensors, a sparse table with momentum slots, the dedupe memory. */
function snapshotWrite(version: number, rows: number[], full: boolean): ShardWrite {
  const dim = 4;
  const ids = Int32Array.from(rows);
  const weights = Float32Array.from({ length: rows.length * dim }, (_, i) => version + i / 1000);
  const slot = Float32Array.from({ length: rows.length * dim }, (_, i) => -version - i / 1000);
  return {
    meta: { version, epoch: 3, newestAcceptedAtMs: 1_700_000_000_000 + version, dedupe: Uint8Array.from([1, 2, version & 255]), examplesApplied: version * 256 },
    dense: [{ name: 'mlp.w0', weights: Float32Array.from([version, 2, 3]), slot: Float32Array.from([0.5, 0.25, 0.125]) }, { name: 'mlp.b0', weights: Float32Array.from([version]) }],
    sparse: [{ table: 'emb.user', rows: ids, weights, slot }],
    full,
  };
}

/**
 * A small versioned write: the version in the meta, in a dense tensor and as row `version` of
 * table 'hist'. Rows accumulate, so every write that reached the store leaves its row: an
 * acknowledged version without its row is a lost write, whatever was written after it.
 */
const versionWrite = (version: number): ShardWrite => ({
  meta: { version, epoch: 1, newestAcceptedAtMs: 0 }, dense: [{ name: 'v', weights: Float32Array.from([version]) }],
  sparse: [{ table: 'hist', rows: Int32Array.from([version]), weights: Float32Array.from([version]) }], full: false,
});

t.test('Redis Cluster: the stores, and a master killed -9 mid-writes', { skip: missing ? `${missing}: no local Redis Cluster` : false }, async (t) => {
  const cluster = await LocalRedisCluster.start({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  t.teardown(() => cluster.stop());
  const cfg = loadConfig({ env: {}, overrides: { redisUrl: cluster.url, redisWaitReplicas: 1 } });
  t.equal(cfg.redisUrl, cluster.url, 'the config takes a redis+cluster:// URL');
  const clients: RedisClient[] = [];
  const connect = () => {
    const c = connectRedis(cfg.redisUrl, {}, {});
    c.on('error', () => undefined); // a killed node's connection errors are expected; commands say so
    clients.push(c);
    return c;
  };
  t.teardown(() => { for (const c of clients) c.disconnect(); });

  t.test('the stores behave as on one server', async (t) => {
    const redis = connect();
    t.ok(redis instanceof Cluster, 'connectRedis gives an ioredis Cluster for redis+cluster://');
    t.equal((await redisMasters(redis)).length, 3, 'three masters');
    for (const key of ['fw:{m:0}:meta', 'fw:{m:0}:rows:emb.user', 'fw:s:idem:x:0123', 'plain']) {
      t.equal(clusterKeySlot(key), Number(await redis.cluster('KEYSLOT', key)), `slot of ${key} as the cluster computes it`);
    }

    const store = new RedisShardStore(redis, { waitReplicas: cfg.redisWaitReplicas });
    const model = uniqueModel('rc');
    const shards = 6;
    const masters = new Set(await Promise.all(Array.from({ length: shards }, (_, k) => cluster.masterOf(shardKeys(model, k).meta))));
    t.ok(masters.size >= 2, `the model's ${shards} shards live on ${masters.size} masters`);
    for (let k = 0; k < shards; k++) {
      t.ok((await store.write(model, k, snapshotWrite(10 + k, [1, 5, 9, 1000 + k], true))).storeWasEmpty, `shard ${k}: the first write finds the store empty`);
      await store.write(model, k, { ...snapshotWrite(20 + k, [5, 77], false), dense: [] }); // an incremental write: two rows, the meta
    }
    for (let k = 0; k < shards; k++) {
      const snap = await store.read(model, k, ['emb.user'], true);
      const want = snapshotWrite(10 + k, [1, 5, 9, 1000 + k], true);
      t.equal(snap?.meta.version, 20 + k, `shard ${k}: the newest version`);
      t.same(snap?.meta.dedupe, Uint8Array.from([1, 2, (20 + k) & 255]), 'its dedupe memory');
      t.same(snap?.dense.find((d) => d.name === 'mlp.w0')?.weights, want.dense[0].weights, 'dense weights of the full write');
      t.same(snap?.dense.find((d) => d.name === 'mlp.w0')?.slot, want.dense[0].slot, 'and their slot');
      const rows = snap!.sparse[0];
      const byRow = new Map([...rows.rows].map((r, i) => [r, [...rows.weights.subarray(i * 4, i * 4 + 4)]]));
      t.same([...byRow.keys()].sort((a, b) => a - b), [1, 5, 9, 77, 1000 + k], 'rows of both writes');
      t.same(byRow.get(5), [...snapshotWrite(20 + k, [5, 77], false).sparse[0].weights.subarray(0, 4)], 'a row rewritten by the second write has its newer values');
      t.same(byRow.get(9), [...want.sparse[0].weights.subarray(8, 12)], 'a row only the first wrote keeps its values');
    }
    await store.write(model, 0, snapshotWrite(30, [2], true));
    t.same([...(await store.read(model, 0, ['emb.user'], false))!.sparse[0].rows], [2], 'a full write replaces what was there');
    t.equal(await store.nextEpoch(model, 1), 1);
    t.equal(await store.nextEpoch(model, 1, 7), 7, 'epochs are floored (one script on the shard\'s slot)');
    t.ok(await store.hasSnapshot(model, 2));
    const d = await store.durability();
    t.equal(d.level, 'volatile', `durability of the least durable master: ${d.detail}`);
    await store.deleteModel(model, shards, ['emb.user']);
    for (let k = 0; k < shards; k++) t.equal(await store.read(model, k, ['emb.user'], true), null, `shard ${k} deleted`);

    const tooMany = await new RedisShardStore(redis, { waitReplicas: 2, waitTimeoutMs: 200 }).write(model, 0, versionWrite(1)).then(() => undefined, (e: Error) => e);
    t.ok(tooMany instanceof UnavailableError, 'WAIT for more replicas than a master has fails the write');
    t.match(tooMany?.message, /reached 1 of 2 replicas within 200 ms/, 'saying how many it reached');
    await store.deleteModel(model, 1, []);

    const leases = new RedisLeaseStore(redis);
    t.ok(await leases.acquire(model, 0, 'w1', 5000), 'w1 takes the lease');
    t.notOk(await leases.acquire(model, 0, 'w2', 5000), 'w2 cannot');
    t.ok(await leases.renew(model, 0, 'w1', 5000), 'w1 renews (compare-and-PEXPIRE script)');
    await leases.release(model, 0, 'w2');
    t.notOk(await leases.acquire(model, 0, 'w2', 5000), 'a release by another owner does nothing');
    await leases.release(model, 0, 'w1');
    t.ok(await leases.acquire(model, 0, 'w2', 5000), 'released by its holder, it is free');
    t.same(await leases.heartbeat(model, 'w2', 5000), ['w2']);
    t.same(await leases.heartbeat(model, 'w1', 5000), ['w1', 'w2'], 'workers seen (MULTI on one key)');
    await leases.deleteModel(model, 4);
    t.ok(await leases.acquire(model, 0, 'w3', 5000), 'deleteModel frees the leases (one DEL over one slot)');
    await leases.deleteModel(model, 4);

    const idem = new RedisIdempotencyStore(redis);
    const stream = uniqueModel('rcs');
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
    for (const k of keys) t.equal(await idem.claim(stream, 'scope', k, 'h', `tok-${k}`, 60_000), null, 'claimed', { diagnostic: false });
    t.same(await idem.claim(stream, 'scope', 'key-0', 'h', 'other', 60_000), { state: 'pending', bodyHash: 'h' }, 'a claimed key is pending for another request');
    t.ok(await idem.complete(stream, 'scope', 'key-1', 'tok-key-1', '{"accepted":3}', 60_000));
    t.same(await idem.claim(stream, 'scope', 'key-1', 'h', 'other', 60_000), { state: 'done', bodyHash: 'h', response: '{"accepted":3}' }, 'done: the answer is replayed');
    await idem.release(stream, 'scope', 'key-2', 'tok-key-2');
    t.equal(await idem.claim(stream, 'scope', 'key-2', 'h', 'again', 60_000), null, 'released: the key can be claimed again');
    const holders = new Set(await Promise.all(keys.map((k) => cluster.masterOf(idempotencyKey(stream, 'scope', k)))));
    t.equal(holders.size, 3, 'the records (no hash tag) spread over every master');
    await idem.deleteStream(stream);
    const left = await Promise.all(keys.map((k) => redis.exists(idempotencyKey(stream, 'scope', k))));
    t.equal(left.reduce((a, b) => a + b, 0), 0, 'deleteStream removed every record on every master (SCAN per master)');

    const serving = new RedisServingStore(redis);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await serving.saveCheckpoint(model, Uint8Array.from([i, 1, 2])));
    t.same(ids, [1, 2, 3], 'checkpoint ids count up');
    t.same(await serving.loadCheckpoint(model, 2), Uint8Array.from([1, 1, 2]), 'a checkpoint reads back');
    await serving.setPointer(model, { checkpointId: 2, versions: [5, 6], atMs: 1, by: 'gate' }, true);
    await serving.setPointer(model, { checkpointId: 3, versions: [7, 8], atMs: 2, by: 'gate' }, true);
    t.same(await serving.getPointer(model), { checkpointId: 3, versions: [7, 8], atMs: 2, by: 'gate' });
    t.same(await serving.history(model), [3, 2], 'the history, newest first');
    await serving.deleteModel(model);
    t.equal(await serving.getPointer(model), null, 'deleteModel removes pointer, history and checkpoints');
    t.equal(await serving.loadCheckpoint(model, 1), null);
  });

  /**
   * PS-like writers, one per shard, each writing version 1, 2, 3... and retrying a version until
   * it is acknowledged; a master is killed -9 once `killAfterMs` of writing has gone by; then it
   * is restarted (it rejoins as a replica) and writing goes on until every shard has written
   * `afterRestart` more versions. Returns what was acknowledged, what reads back and the figures.
   */
  async function killMidWrites(store: RedisShardStore, model: string, shards: number, victimShard: number, killAfterMs: number) {
    const acked = new Array<number>(shards).fill(0);
    const failures = new Array<number>(shards).fill(0);
    const firstAckAfterKill = new Array<number>(shards).fill(0);
    const errors = new Map<string, number>();
    let killedAt = 0;
    let stop = false;
    const writers = Array.from({ length: shards }, async (_, k) => {
      for (let v = 1; !stop; v++) {
        for (;;) {
          const sentAt = Date.now();
          try {
            await store.write(model, k, versionWrite(v));
            acked[k] = v;
            if (killedAt && sentAt > killedAt && !firstAckAfterKill[k]) firstAckAfterKill[k] = Date.now() - killedAt;
            break;
          } catch (err) {
            failures[k]++;
            const kind = (err as Error).message.replace(/^.*?(failed: |WAIT failed: |reached)/, '$1').slice(0, 60);
            errors.set(kind, (errors.get(kind) ?? 0) + 1);
            if (stop) return;
            await new Promise((r) => setTimeout(r, 20)); // a PS retries at its next publish tick
          }
        }
      }
    });
    let victim = 0;
    let onVictim: boolean[] = [];
    let ackedAtKill: number[] = [];
    let ackedBeforeRestart: number[] = [];
    let failoverMs = 0;
    let rejoinedMs = 0;
    let target: number[] = [];
    try {
      victim = await cluster.masterOf(shardKeys(model, victimShard).meta);
      onVictim = (await Promise.all(Array.from({ length: shards }, (_, k) => cluster.masterOf(shardKeys(model, k).meta)))).map((p) => p === victim);
      await new Promise((r) => setTimeout(r, killAfterMs));
      ackedAtKill = [...acked];
      killedAt = Date.now();
      await cluster.kill(victim);
      // Failed over: the victim's replica serves its slots (and every other node agrees).
      await cluster.waitHealthy(30_000);
      failoverMs = Date.now() - killedAt;
      ackedBeforeRestart = [...acked];
      await cluster.restart(victim);
      await cluster.waitHealthy(30_000);
      rejoinedMs = Date.now() - killedAt;
      target = [...acked].map((a) => a + 20);
      const deadline = Date.now() + 20_000;
      while (acked.some((a, k) => a < target[k]) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    } finally {
      stop = true; // the writers stop at their next attempt, whatever failed above
      await Promise.all(writers);
    }
    const read = await Promise.all(Array.from({ length: shards }, async (_, k) => {
      const s = await store.read(model, k, ['hist'], false);
      const have = new Set(s?.sparse[0].rows ?? []);
      // Versions 1..acked were each acknowledged (a writer moves on only then).
      const lost: number[] = [];
      for (let v = 1; v <= acked[k]; v++) if (!have.has(v)) lost.push(v);
      return { version: s?.meta.version ?? 0, weight: s?.dense.find((d) => d.name === 'v')?.weights[0] ?? 0, lost };
    }));
    const writesPerSecBeforeKill = Math.round(ackedAtKill.reduce((a, b) => a + b, 0) / (killAfterMs / 1000));
    return {
      acked, ackedAtKill, ackedBeforeRestart, failures, errors: Object.fromEntries(errors), firstAckAfterKill, onVictim,
      read, lost: read.reduce((n, x) => n + x.lost.length, 0), failoverMs, rejoinedMs, target, writesPerSecBeforeKill,
    };
  }

  t.test('a master killed -9 mid-writes: with WAIT, no acknowledged write is lost', async (t) => {
    const redis = connect();
    const store = new RedisShardStore(redis, { waitReplicas: cfg.redisWaitReplicas });
    const model = uniqueModel('rckill');
    const shards = 6;
    const r = await killMidWrites(store, model, shards, 0, 1000);
    t.comment(JSON.stringify({ waitReplicas: 1, ...r, read: r.read.map((x) => ({ ...x, lost: x.lost.length })) }));
    t.ok(r.onVictim.some((x) => !x), 'some shards live on other masters');
    t.equal(r.lost, 0, 'no acknowledged write lost');
    for (let k = 0; k < shards; k++) {
      t.same(r.read[k].lost, [], `shard ${k}: every acknowledged version (1..${r.acked[k]}) is there`);
      t.ok(r.read[k].version >= r.acked[k], `shard ${k}: version ${r.read[k].version} read back, ${r.acked[k]} acknowledged`);
      t.equal(r.read[k].weight, r.read[k].version, `shard ${k}: its tensor agrees with its version`);
      t.ok(r.acked[k] >= r.target[k], `shard ${k} kept writing after the failover (${r.ackedAtKill[k]} at the kill, ${r.acked[k]} at the end)`);
      if (!r.onVictim[k]) t.equal(r.failures[k], 0, `shard ${k}, on a master that stayed up, saw no failed write`);
    }
    t.ok(r.failoverMs < 15_000, `failed over in ${r.failoverMs} ms; the killed node rejoined as a replica ${r.rejoinedMs} ms after the kill`);
    await store.deleteModel(model, shards, []);
  });

  t.test('the same without WAIT: what an asynchronous replica loses, measured', async (t) => {
    const redis = connect();
    const store = new RedisShardStore(redis);
    const model = uniqueModel('rcnowait');
    const shards = 6;
    const r = await killMidWrites(store, model, shards, 0, 1000);
    const lost = r.lost;
    t.comment(JSON.stringify({ waitReplicas: 0, ...r, read: r.read.map((x) => ({ ...x, lost: x.lost.length })) }));
    for (let k = 0; k < shards; k++) t.equal(r.read[k].weight, r.read[k].version, `shard ${k}: its tensor agrees with its version (a MULTI/EXEC is replicated whole)`);
    t.pass(`${lost} acknowledged versions lost over ${r.onVictim.filter(Boolean).length} shards on the killed master (not asserted: replication is asynchronous)`);
    await store.deleteModel(model, shards, []);
  });
});

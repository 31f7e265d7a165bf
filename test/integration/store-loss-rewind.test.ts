// Over the real NATS (JetStream) and Redis: a PS shard goes down and its Redis state is wiped
// while events flow. When it starts again it finds its store behind its ledger, restores what
// it can (initial values here: no checkpoint) and asks for the acked range to be trained
// again; the worker reads that range back from the stream and trains it into that shard
// alone. Afterwards the lost shard's examples cover every event of the replay once (it holds
// each event's update exactly once), the other shard's were not trained again by the rewind,
// and every message is acked.
import t from 'tap';
import {
  connectInfra, connectRedis, mulberry32, rewindStoreOf, waitFor, type FlywheelEvent, type Infra,
} from '../../shared/index.ts';
import { startPs, type RunningPs } from '../../services/ps/service.ts';
import { startWorker } from '../../services/worker/service.ts';
import { publishToEventLog } from '../../cluster/replay-until-trained.ts';
import { cleanupModel, integrationConfig } from '../helpers/integration.ts';

const BEFORE = 4000;
const DURING = 1500;
const AFTER = 1500;

t.test('a PS shard whose store was wiped has the acked range trained again into it', async (t) => {
  const { cfg } = await integrationConfig('rewind', {
    psShards: 2, workers: 1, eventShards: 2, psMetricsBasePort: 0, workerMetricsBasePort: 0,
    settings: { labels: { kind: 'types', positive: ['buy'] }, fields: ['user', 'item'], buckets: 1 << 12, hidden: [4], embDim: 4, stats: [] },
    ps: { publishIntervalMs: 50 },
    worker: { batchSize: 128, leaseTtlMs: 0, pushTimeoutMs: 1000, metricsIntervalMs: 200 },
  });
  const infra = await connectInfra(cfg, 'test-rewind');
  const infras: Infra[] = [infra];
  const stops: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    for (const i of infras) await i.close().catch(() => undefined);
    await cleanupModel(cfg);
  });
  const own = async (name: string) => {
    const i = await connectInfra(cfg, name);
    infras.push(i);
    return i;
  };
  const ps0 = await startPs(cfg, 0, await own('test-rewind-ps0'));
  stops.push(() => ps0.stop());
  let ps1: RunningPs = await startPs(cfg, 1, await own('test-rewind-ps1'));
  stops.push(() => ps1.stop());
  const worker = await startWorker(cfg, 0, await own('test-rewind-worker'));
  stops.push(() => worker.stop());

  const rand = mulberry32(5);
  let ts = Date.UTC(2024, 0, 1);
  const events = (n: number): FlywheelEvent[] => Array.from({ length: n }, () => {
    const it = Math.floor(rand() * 500);
    return { userId: `u${Math.floor(rand() * 500)}`, itemId: `i${it}`, type: it % 3 === 0 ? 'buy' : 'view', ts: ts++ };
  });
  const publish = publishToEventLog(infra.eventLog, cfg.eventShards);
  const stream = async (n: number) => {
    for (const b = events(n); b.length;) { await publish(b.splice(0, 100)); await new Promise((r) => setTimeout(r, 10)); }
  };
  const unacked = async () => (await Promise.all([0, 1].map((s) => infra.eventLog.backlog(s)))).reduce((n, b) => n + b.pending + b.ackPending, 0);
  const allAcked = (what: string) => waitFor(async () => (await unacked()) === 0, 40_000, what, 100);

  await stream(BEFORE);
  await allAcked('the first events acked');

  // The loss, with events flowing: shard 1 goes, its Redis keys with it, and comes back.
  const before = ps1.shard.version;
  const during = stream(DURING);
  // The loss comes while these are being trained: once shard 1 has applied some of them.
  await waitFor(() => ps1.shard.version > before + 2, 20_000, 'shard 1 training the events sent during the loss', 5);
  await ps1.stop();
  const redis = connectRedis(cfg.redisUrl);
  const keys = await redis.keys(`fw:{${cfg.model}:1}:*`);
  t.ok(keys.length > 0, `shard 1's ${keys.length} keys wiped`);
  await redis.del(...keys);
  redis.disconnect();
  const lostAt = Date.now();
  ps1 = await startPs(cfg, 1, await own('test-rewind-ps1-again'));
  await during;
  await stream(AFTER);
  await allAcked('every event acked after the loss');

  const rewinds = rewindStoreOf(infra);
  await waitFor(async () => {
    const r = await rewinds.read(cfg.model, 1);
    return !!r && r.ranges.every((x) => x.done === x.to);
  }, 30_000, 'the lost range trained again', 100);
  const recoveredMs = Date.now() - lostAt;
  const record = (await rewinds.read(cfg.model, 1))!;
  t.ok(record.ranges.every((x) => x.from === 0 && x.to > 0), `asked from the stream's start (no checkpoint): ${JSON.stringify(record.ranges)}`);
  t.equal(await rewinds.read(cfg.model, 0), null, 'shard 0 lost nothing and asked for nothing');

  // What each shard holds, as persisted with its last version: once the store has that version.
  const shards = [ps0, ps1];
  const stored = async (k: number) => (await infra.store.read(cfg.model, k, [], false))?.meta;
  await waitFor(async () => (await Promise.all(shards.map(async (p, k) => (await stored(k))?.version === p.shard.version))).every(Boolean),
    10_000, 'both shards\' last versions in the store', 20);
  const applied = async (k: number) => (await stored(k))?.examplesApplied ?? NaN;
  const total = BEFORE + DURING + AFTER;
  const [on0, on1] = [await applied(0), await applied(1)];
  const stats = worker.rewinder!.stats;
  const retried = worker.trainer.naked;
  t.comment(JSON.stringify({ events: total, retrainedByRewind: stats.events, recoveredMs, examplesOnShard0: on0, examplesOnShard1: on1, messagesNakedAndRetrained: retried }));
  t.ok(stats.events > BEFORE, `the rewind trained ${stats.events} acked events again`);
  t.equal(stats.unretained, 0, 'all of the range was still in the stream');
  t.equal(on1, total, `shard 1 holds every event of the replay once (${on1} examples of ${total})`);
  // Shard 0 never lost anything: it holds every event once (what shard 1 lost of the messages
  // not yet acked is trained again into shard 1 alone, not nak'ed and redelivered to both).
  t.equal(on0, total, `shard 0 was not given the rewind, nor anything twice (${on0} examples of ${total})`);
});

// The real services (ingest, 2 PS shards, 2 workers, as separate processes) on a local Redis
// Cluster (3 masters, a replica each, redis+cluster://, redisWaitReplicas 1) and a 3-server
// NATS cluster (streamReplicas 3), all on private ports. Online Retail events are posted to
// ingest with an Idempotency-Key per request; a third of the way through, the event stream's
// leader (a NATS server) and the Redis master holding PS shard 0 are both killed -9. A request
// answered 503 meanwhile is retried with its key, as a client does. The Redis node is started
// again once its replica has taken over (it rejoins as the new master's replica, so WAIT can be
// met again); the NATS server stays down. Then every accepted event must be acked (an ack
// means the PS persisted an update containing it) and trained, and no PS shard's store may be
// behind what its ledger says it published.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JetStreamEventLog, JetStreamLedger, NatsTransport, RedisShardStore, ReportAggregator, binaryMetric, connectNats, connectRedis, decode,
  eventLogOptions, loadConfig, shardKeys, streamName, subjects, waitFor, type FlywheelEvent, type WorkerReport,
} from '../../shared/index.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { assignPorts } from '../../cluster/local-cluster.ts';
import { ProcessGroup } from '../../cluster/processes.ts';
import { LocalNatsCluster, LocalRedisCluster, missingBinaries } from '../helpers/local-clusters.ts';
import { metricReader } from '../helpers/scrape.ts';
import { uniqueModel } from '../helpers/integration.ts';

const missing = missingBinaries(['redis-server', 'redis-cli', 'nats-server']);
const EVENTS = 12_000;
const PER_REQUEST = 300;

t.test('services on a Redis Cluster and a 3-server NATS cluster: a node of each killed -9 mid-replay', { skip: missing ? `${missing}: no local clusters` : false }, async (t) => {
  const t0 = Date.now();
  const [redis, nats] = await Promise.all([LocalRedisCluster.start({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 }), LocalNatsCluster.start({ nodes: 3 })]);
  t.teardown(() => Promise.all([redis.stop(), nats.stop()]));
  const dir = mkdtempSync(join(tmpdir(), 'fw-clusters-'));
  const cfg = await assignPorts(loadConfig({
    env: {},
    overrides: {
      model: uniqueModel('clu'), natsUrl: nats.url, redisUrl: redis.url, redisWaitReplicas: 1, streamReplicas: 3,
      psShards: 2, workers: 2, eventShards: 4,
      settings: { fields: ['user', 'item'], buckets: 1 << 14, hidden: [8], embDim: 4, labels: { kind: 'implicit', negatives: 2 } },
      ps: { publishIntervalMs: 100, volatileStore: 'allow' },
      worker: { batchSize: 128, metricsIntervalMs: 200, leaseTtlMs: 4000, ackWaitMs: 8000, pushTimeoutMs: 2000 },
    },
  }));
  const cfgFile = join(dir, 'flywheel.json');
  writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  const group = new ProcessGroup(dir);
  t.teardown(async () => { await group.stop(); rmSync(dir, { recursive: true, force: true }); });

  const nc = await connectNats(cfg.natsUrl, 'test-clusters-harness');
  t.teardown(() => nc.close().catch(() => undefined));
  const agg = new ReportAggregator(cfg.worker.evalBucketMs, binaryMetric);
  const transport = new NatsTransport(nc);
  transport.subscribe(subjects.metrics(cfg.model), (m) => agg.add(decode(m.data) as WorkerReport));
  const log = new JetStreamEventLog(nc, eventLogOptions(cfg));

  for (let k = 0; k < cfg.psShards; k++) group.start(`ps-${k}`, 'ps', ['--config', cfgFile, '--shard', String(k)]);
  for (let i = 0; i < cfg.workers; i++) group.start(`worker-${i}`, 'worker', ['--config', cfgFile, '--index', String(i)]);
  group.start('ingest', 'ingest', ['--config', cfgFile]);
  const died = group.watch();
  died.catch(() => undefined);
  const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true;
  const ports = [cfg.ingest.port, ...Array.from({ length: cfg.psShards }, (_, k) => cfg.psMetricsBasePort + k), ...Array.from({ length: cfg.workers }, (_, i) => cfg.workerMetricsBasePort + i)];
  await Promise.race([waitFor(async () => (await Promise.all(ports.map(ready))).every(Boolean), 90_000, 'every service ready', 100), died]);
  const upAtMs = Date.now() - t0;
  const jsm = await nc.jetstreamManager();
  t.equal((await jsm.streams.info(streamName(cfg.stream))).config.num_replicas, 3, 'ingest created the stream with 3 replicas');

  const requests: FlywheelEvent[][] = [];
  let batch: FlywheelEvent[] = [];
  for await (const b of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: EVENTS })) {
    for (const e of b) {
      batch.push(e);
      if (batch.length === PER_REQUEST) { requests.push(batch); batch = []; }
    }
  }
  if (batch.length) requests.push(batch);

  const natsVictim = nats.indexOf((await jsm.streams.info(streamName(cfg.stream))).cluster!.leader!);
  const redisVictim = await redis.masterOf(shardKeys(cfg.model, 0).meta);
  const answers: Record<string, number> = {};
  let killedAt = 0;
  let faults: Promise<{ redisFailoverMs: number; redisRejoinedMs: number }> | undefined;
  let firstOkAfterKill = 0;
  let sent = 0;
  for (let r = 0; r < requests.length; r++) {
    if (r === Math.floor(requests.length / 3)) {
      killedAt = Date.now();
      await Promise.all([nats.kill(natsVictim), redis.kill(redisVictim)]);
      faults = (async () => {
        await redis.waitHealthy(30_000);
        const redisFailoverMs = Date.now() - killedAt;
        await redis.restart(redisVictim);
        await redis.waitHealthy(30_000);
        return { redisFailoverMs, redisRejoinedMs: Date.now() - killedAt };
      })();
      faults.catch(() => undefined);
    }
    const body = JSON.stringify(requests[r]);
    for (const deadline = Date.now() + 60_000; ;) {
      const sentAt = Date.now();
      const res = await fetch(`http://127.0.0.1:${cfg.ingest.port}/v1/events`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `${cfg.model}-${r}` }, body, signal: AbortSignal.timeout(15_000),
      }).catch(() => undefined);
      const status = String(res?.status ?? 'no answer');
      await res?.text().catch(() => '');
      answers[status] = (answers[status] ?? 0) + 1;
      if (res?.status === 200) {
        if (killedAt && sentAt > killedAt && !firstOkAfterKill) firstOkAfterKill = Date.now() - killedAt;
        break;
      }
      if (Date.now() > deadline) throw new Error(`request ${r} not accepted within 60 s (last answer ${status})`);
      await new Promise((res2) => setTimeout(res2, 100)); // Retry-After is 1 s; a client may retry sooner
    }
    sent += requests[r].length;
    await new Promise((res2) => setTimeout(res2, 30)); // a steady pace, so the kill lands in a flowing stream
  }
  const { redisFailoverMs, redisRejoinedMs } = await faults!;
  t.equal(sent, EVENTS, `${EVENTS} events accepted by ingest in ${requests.length} requests`);

  // Every accepted message acked: nothing pending or delivered-unacked on any event shard.
  const backlog = async () => (await Promise.all(Array.from({ length: cfg.eventShards }, (_, s) => log.backlog(s).catch(() => ({ pending: 1, ackPending: 1 })))))
    .reduce((a, b) => a + b.pending + b.ackPending, 0);
  await Promise.race([waitFor(async () => agg.total('eventsTrained') >= EVENTS && await backlog() === 0, 120_000, 'every accepted event trained and acked', 200), died]);
  const drainedMs = Date.now() - killedAt;
  t.equal(await backlog(), 0, '0 accepted events left unacked: each was acked after its update was persisted');
  t.ok(agg.total('eventsTrained') >= EVENTS, `${agg.total('eventsTrained')} events trained (>= ${EVENTS}; redeliveries count again)`);

  // No PS shard's store is behind the version its ledger says it published (WAIT kept every
  // persisted version through the failover), and none counted a store loss.
  const store = new RedisShardStore(connectRedis(cfg.redisUrl, {}, {}));
  t.teardown(() => store.close());
  const ledger = new JetStreamLedger(nc);
  for (let k = 0; k < cfg.psShards; k++) {
    const snap = await store.read(cfg.model, k, [], false);
    const led = await ledger.read(cfg.model, k);
    t.ok(snap && led && snap.meta.version >= led.version, `ps-${k}: store at version ${snap?.meta.version}, ledger ${led?.version}`);
    t.equal(await metricReader(`http://127.0.0.1:${cfg.psMetricsBasePort + k}`)('fw_ps_store_lost_total'), 0, `ps-${k} saw no store loss`);
  }
  const figures = {
    events: EVENTS, requests: requests.length, answers, servicesUpMs: upAtMs, natsKilled: `n${natsVictim + 1}`, redisKilledPort: redisVictim,
    firstAcceptedAfterKillMs: firstOkAfterKill, redisFailoverMs, redisRejoinedMs, allAckedAfterKillMs: drainedMs,
    trained: agg.total('eventsTrained'), totalMs: Date.now() - t0,
  };
  t.comment(JSON.stringify(figures));
});

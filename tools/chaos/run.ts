// The fault harness behind `flywheel chaos`: a whole Flywheel on private NATS and Redis, a
// stream of synthetic events with a planted rule published to JetStream at a steady pace, one
// fault injected part-way, then the checks: every published event acked (an ack means the PS
// persisted an update containing it), the number lost, the recovery time, the final versions.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JetStreamEventLog, NatsTransport, RedisShardStore, ReportAggregator, binaryMetric, connectNats, connectRedis, decode, encode, eventShardOf, loadConfig, mulberry32,
  subjects, waitFor, type FlywheelConfig, type FlywheelEvent, type WorkerReport,
} from '../../shared/index.ts';
import { assignPorts } from '../../cluster/local-cluster.ts';
import { ProcessGroup } from '../../cluster/processes.ts';
import { replayUntilTrained } from '../../cluster/replay-until-trained.ts';
import { PrivateServer } from './servers.ts';
import { SCENARIOS, type ChaosContext } from './scenarios.ts';

export interface ChaosOptions {
  events?: number;
  /** Fraction of the stream published before the fault. Default 0.4. */
  faultAt?: number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  scenario: string;
  eventsPublished: number;
  eventsTrainedAtLeastOnce: number;
  eventsLost: number;
  eventsAckedIncludingRetrains: number;
  recoveryMs: number | null;
  finalVersions: number[];
  /** Per PS shard, the examples behind every update it holds (its persisted examplesApplied). */
  psExamplesApplied: number[];
  /** Events the workers trained again into a shard whose store lost them (a rewind). */
  eventsRetrainedByRewind: number;
  /** Events of nak'ed messages, redelivered and trained again into every PS shard. */
  eventsNaked: number;
  /** Examples trained again for the PS shards that lost or refused their part of a step only (the others had persisted it). */
  examplesForMissingShards: number;
  aucLastWindow: number;
  details: Record<string, unknown>;
  durationMs: number;
}

export async function runChaos(scenario: string, o: ChaosOptions = {}): Promise<ChaosResult> {
  const inject = SCENARIOS[scenario];
  if (!inject) throw new Error(`unknown scenario "${scenario}": one of ${Object.keys(SCENARIOS).join(', ')}`);
  const say = o.log ?? (() => undefined);
  const N = o.events ?? 40_000;
  const t0 = Date.now();
  const nats = await PrivateServer.nats();
  const redis = await PrivateServer.redis();
  await nats.start();
  await redis.start();
  const dir = mkdtempSync(join(tmpdir(), `fw-chaos-${scenario}-`));
  const cfg: FlywheelConfig = await assignPorts(loadConfig({
    env: {},
    overrides: {
      model: `chaos_${scenario.replace(/-/g, '_')}`, natsUrl: nats.url, redisUrl: redis.url, psShards: 2, workers: 2, eventShards: 4,
      settings: { labels: { kind: 'types', positive: ['buy'] }, fields: ['user', 'item'], buckets: 1 << 14, hidden: [8], embDim: 4, embLrScale: 20, biasLrScale: 20 },
      // The private Redis keeps nothing on purpose: losing it is one of the faults.
      ps: { learningRate: 0.03, publishIntervalMs: 100, volatileStore: 'allow' },
      worker: { batchSize: 128, metricsIntervalMs: 200, leaseTtlMs: 4000, ackWaitMs: 8000, evalBucketMs: 1000, pushTimeoutMs: 2000 },
    },
  }));
  const cfgFile = join(dir, 'flywheel.json');
  writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  const group = new ProcessGroup(dir);
  const nc = await connectNats(cfg.natsUrl, 'chaos-harness');
  const transport = new NatsTransport(nc);
  const log = new JetStreamEventLog(nc, { model: cfg.model, eventShards: cfg.eventShards, ackWaitMs: cfg.worker.ackWaitMs });
  try {
    await log.ensure();
    const agg = new ReportAggregator(cfg.worker.evalBucketMs, binaryMetric);
    const trainedAt: [number, number][] = [];
    transport.subscribe(subjects.metrics(cfg.model), (m) => {
      agg.add(decode(m.data) as WorkerReport);
      trainedAt.push([Date.now(), agg.total('eventsTrained')]);
    });
    const ctx: ChaosContext = { cfg, cfgFile, group, nats, redis, say, details: {} };
    for (let k = 0; k < cfg.psShards; k++) group.start(`ps-${k}`, 'ps', ['--config', cfgFile, '--shard', String(k)]);
    for (let i = 0; i < cfg.workers; i++) group.start(`worker-${i}`, 'worker', ['--config', cfgFile, '--index', String(i)]);
    group.start('inference', 'inference', ['--config', cfgFile]);
    const died = group.watch();
    died.catch(() => undefined);
    await Promise.race([waitFor(async () => (await fetch(`http://127.0.0.1:${cfg.inference.port}/healthz`).catch(() => undefined))?.ok === true, 90_000, 'inference up', 100), died]);
    say(`${scenario}: services up; publishing ${N} events`);

    // The planted truth: item ids divisible by 3 are bought.
    function* stream(): Generator<FlywheelEvent> {
      const rand = mulberry32(77);
      let ts = Date.UTC(2024, 0, 1);
      for (let i = 0; i < N; i++) {
        const ev: FlywheelEvent = { userId: `u${Math.floor(rand() * 2000)}`, itemId: `i${Math.floor(rand() * 2000)}`, type: 'view', ts: ts++ };
        if (Number(ev.itemId.slice(1)) % 3 === 0) ev.type = 'buy';
        yield ev;
      }
    }
    let published = 0;
    let faultAtMs = 0;
    let faultDoneMs = 0;
    const faultIndex = Math.floor(N * (o.faultAt ?? 0.4));
    const publish = async (batch: FlywheelEvent[]) => {
      const byShard: FlywheelEvent[][] = Array.from({ length: cfg.eventShards }, () => []);
      for (const ev of batch) byShard[eventShardOf(ev.userId, cfg.eventShards)].push(ev);
      // Publishing retries until JetStream answers (it may be the thing being restarted).
      await Promise.all(byShard.map(async (events, s) => {
        if (!events.length) return;
        const data = encode({ acceptedAtMs: Date.now(), events });
        const id = `${cfg.model}-${published}-${s}`;
        await waitFor(() => log.publish(s, data, id).then(() => true, () => false), 120_000, 'a JetStream publish', 200);
      }));
      published += batch.length;
      if (!faultAtMs && published >= faultIndex) {
        faultAtMs = Date.now();
        say(`${scenario}: injecting the fault after ${published} events`);
        await inject(ctx);
        faultDoneMs = Date.now();
        say(`${scenario}: fault injected (${faultDoneMs - faultAtMs} ms)`);
      }
      // A steady pace, so the fault lands in a stream that is still flowing.
      await new Promise((r) => setTimeout(r, 15));
    };
    const backlog = async () => (await Promise.all(Array.from({ length: cfg.eventShards }, (_, s) => log.backlog(s).catch(() => ({ pending: 1, ackPending: 1 })))))
      .reduce((a, b) => a + b.pending + b.ackPending, 0);
    // Done means every message acked (an ack means the PS persisted an update containing it),
    // not a trained count: retrained events count twice in the workers' reports.
    const drained = await replayUntilTrained({
      events: stream(), to: { publish, batchEvents: 200 }, trained: () => agg.total('eventsTrained'), failed: died,
      onReplayed: () => say(`${scenario}: all ${published} published; waiting until every message is acked`),
      done: async () => (await backlog()) === 0, pollMs: 250, drainTimeoutMs: 240_000, stallTimeoutMs: Infinity,
    });
    if (!drained.caughtUp) throw new Error(`${scenario}: timed out after 240000 ms waiting for every message acked`);
    // Workers report every 200 ms: give the last reports time to arrive (a killed worker's
    // final acks may never be reported, so this is bounded and not an error).
    await waitFor(() => agg.total('eventsTrained') >= published, 5000, 'the last worker reports', 50).catch(() => undefined);
    const trainedAtFault = trainedAt.filter(([t]) => t <= faultDoneMs).pop()?.[1] ?? 0;
    const resumed = trainedAt.find(([t, n]) => t > faultDoneMs && n > trainedAtFault);
    const model = await (await fetch(`http://127.0.0.1:${cfg.inference.port}/v1/model`)).json() as { versions: number[] };
    // The last publish holds every applied push (a publish interval is 100 ms).
    await new Promise((r) => setTimeout(r, 500));
    const rc = connectRedis(cfg.redisUrl);
    const store = new RedisShardStore(rc);
    const psExamplesApplied = await Promise.all(Array.from({ length: cfg.psShards }, async (_, k) => (await store.read(cfg.model, k, [], false))?.meta.examplesApplied ?? 0));
    rc.disconnect();
    const scrape = async (port: number, name: string) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text().catch(() => '') ?? '';
      return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    let eventsRetrainedByRewind = 0;
    let eventsNaked = 0;
    let examplesForMissingShards = 0;
    for (let i = 0; i < cfg.workers; i++) {
      eventsRetrainedByRewind += await scrape(cfg.workerMetricsBasePort + i, 'fw_worker_rewind_events_total');
      eventsNaked += await scrape(cfg.workerMetricsBasePort + i, 'fw_worker_events_retried_total');
      examplesForMissingShards += await scrape(cfg.workerMetricsBasePort + i, 'fw_worker_examples_for_missing_shards_total');
    }
    const w = agg.windows(10);
    return {
      scenario,
      eventsPublished: published,
      eventsTrainedAtLeastOnce: published - (await backlog()),
      eventsLost: await backlog(),
      eventsAckedIncludingRetrains: agg.total('eventsTrained'),
      recoveryMs: resumed ? resumed[0] - faultAtMs : null,
      finalVersions: model.versions,
      psExamplesApplied,
      eventsRetrainedByRewind,
      eventsNaked,
      examplesForMissingShards,
      aucLastWindow: Math.round(w[w.length - 1].figures.auc * 1000) / 1000,
      details: ctx.details,
      durationMs: Date.now() - t0,
    };
  } finally {
    await group.stop();
    await transport.close().catch(() => undefined);
    await nats.stop();
    await redis.stop();
  }
}

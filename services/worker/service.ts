// Starts one training worker over the given infrastructure: the tensor backend, a replica of
// the model, the trainer on this worker's event shards, and the metrics server.
import { randomBytes } from 'node:crypto';
import {
  parseForget, subjects, Replica, closeServer, createLogger, httpAuthOf, createRegistry, positionsOf, rewindStoreOf, startHeartbeat, startHttpServer,
  type FlywheelConfig, type Infra,
} from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { workerMetrics } from './metrics.ts';
import { Trainer } from './trainer.ts';
import { TrainingReport } from './training-report.ts';
import { ShardLeases } from './shard-leases.ts';
import { workerReadiness } from './readiness.ts';
import { Rewinder } from './rewind.ts';

export interface RunningWorker {
  trainer: Trainer;
  replica: Replica;
  backend: string;
  leases?: ShardLeases;
  rewinder?: Rewinder;
  stop(): Promise<void>;
}

/** Event shards of worker `index` among `workers`: s mod workers = index. */
export function eventShardsOf(index: number, workers: number, eventShards: number): number[] {
  const out: number[] = [];
  for (let s = index; s < eventShards; s += workers) out.push(s);
  return out;
}

export async function startWorker(cfg: FlywheelConfig, index: number, infra: Infra): Promise<RunningWorker> {
  const workerId = `w${index}-${randomBytes(3).toString('hex')}`;
  const log = createLogger('worker', { worker: workerId, model: cfg.model });
  const backend = await initTensorBackend((m) => log.info(m));
  log.info({ backend }, `tensor backend: ${backend}`);
  const registry = createRegistry('worker', { worker: String(index), model: cfg.model });
  const metrics = workerMetrics(registry);
  const m = resolveModel(cfg);
  const spec = m.spec;
  const report = new TrainingReport(workerId, backend, cfg.worker.evalBucketMs, m.kind.metric);
  let trainer: Trainer | undefined;
  const replica = new Replica(spec, cfg.psShards, infra.store, {
    onDelta: (d) => trainer?.onDelta(d),
    onError: (err) => log.warn({ err: String(err) }, 'replica'),
  });
  await replica.start(infra.transport, cfg.model);
  await infra.eventLog.ensure();
  const model = m.kind.create(spec, m.settings);
  const examples = m.kind.exampleSource(m.settings, cfg.seed + 7);
  const baselines = m.kind.baselines?.(m.settings) ?? [];
  const useLeases = cfg.worker.leaseTtlMs > 0;
  const shards = useLeases ? [] : eventShardsOf(index, cfg.workers, cfg.eventShards);
  trainer = new Trainer({
    cfg, workerId, eventShards: shards, transport: infra.transport, eventLog: infra.eventLog, replica, model, examples, baselines, metrics, report,
    holdout: m.kind.holdout,
    newExamples: () => m.kind.exampleSource(m.settings, cfg.seed + 7),
    log: (level, msg, extra) => log[level](extra ?? {}, msg),
  });
  await trainer.start();
  const t = trainer;
  // A forgotten user (ingest's DELETE /v1/users/{id}): their held examples and history go, and
  // their rows leave the replica now, before the PS's tombstones arrive.
  const forgetSub = infra.transport.subscribe(subjects.forget(cfg.model), (msg) => {
    try {
      const f = parseForget(msg.data);
      t.forgetUser(f.userId);
      replica.removeRows(f.tables);
    } catch (err) {
      log.warn({ err: String(err) }, 'malformed forget message: ignored');
    }
  });
  // A PS shard that lost its store asks for the acked range since what it restored to be trained again.
  const positions = positionsOf(infra, cfg);
  const rewinder = positions && new Rewinder({
    model: cfg.model, psShards: cfg.psShards, rewinds: rewindStoreOf(infra, cfg.streamReplicas), positions, trainer: t, replica,
    newExamples: () => m.kind.exampleSource(m.settings, cfg.seed + 7), batchEvents: Math.max(1, Math.ceil(cfg.worker.batchSize / examples.examplesPerEvent)),
    metrics, log: (level, msg, extra) => log[level](extra ?? {}, msg),
  });
  const leases = useLeases
    ? new ShardLeases(infra.leases, cfg.model, workerId, cfg.eventShards, cfg.worker.leaseTtlMs, {
      onAcquire: (s) => t.addShard(s),
      onRelease: async (s) => { rewinder?.shardRemoved(s); await t.removeShard(s); },
      log: (level, msg, extra) => log[level](extra ?? {}, msg),
    })
    : undefined;
  await leases?.start();
  rewinder?.start();
  const reportTimer = setInterval(() => {
    report.publish(infra.transport, cfg.model);
    for (const [k, v] of Object.entries(t.sourceCounters())) metrics.sourceCounts.set({ count: k }, v);
  }, cfg.worker.metricsIntervalMs);
  const port = cfg.workerMetricsBasePort ? cfg.workerMetricsBasePort + index : 0;
  const server = port && !infra.embedded
    ? await startHttpServer({ port, registry, ready: () => workerReadiness(t.shards, useLeases ? null : shards), openapi: { title: 'Flywheel worker' }, auth: httpAuthOf(cfg), onWarning: (msg) => log.warn(msg), onError: (e) => log.error({ err: String(e) }, 'http') })
    : undefined;
  log.info({ kind: m.kind.kind, baselines: baselines.map((b) => b.name), eventShards: trainer.shards, leases: useLeases, versions: replica.versions(), metricsPort: port || null }, 'worker running');
  const heartbeat = startHeartbeat(infra.transport, {
    service: 'worker', model: cfg.model, instance: `worker-${index}`,
    notReady: () => (trainer!.shards.length ? undefined : 'holds no event shard'),
    stats: () => ({ eventShards: trainer!.shards.length, eventsTrained: report.eventsTrained }),
  });
  return {
    trainer, replica, backend, leases, rewinder,
    stop: async () => {
      heartbeat.stop();
      forgetSub.unsubscribe();
      await leases?.stop();
      await rewinder?.stop();
      await trainer!.stop();
      clearInterval(reportTimer);
      report.publish(infra.transport, cfg.model);
      await infra.transport.flush().catch(() => undefined);
      replica.stop();
      await closeServer(server);
    },
  };
}

// Starts one PS shard over the given infrastructure, with its /metrics and /healthz server.
import {
  ConfigError, closeServer, createLogger, createRegistry, httpAuthOf, paramSpecOf, positionsOf, rewindStoreOf, startHeartbeat, startHttpServer,
  type FlywheelConfig, type Infra,
} from '../../shared/index.ts';
import { psMetrics } from './metrics.ts';
import { PsShard } from './ps-shard.ts';
import { StoreLossRewind } from './rewind.ts';

export interface RunningPs {
  shard: PsShard;
  stop(): Promise<void>;
}

/**
 * A shard acks pushes once they are in the store: on a store that keeps nothing, a store
 * restart loses every acked update. Refused unless the config allows it; the embedded mode's
 * in-process store dies with the process anyway.
 */
async function checkStoreDurability(cfg: FlywheelConfig, infra: Infra, warn: (msg: string, extra: object) => void): Promise<void> {
  if (infra.embedded) return;
  const d = await infra.store.durability();
  if (d.level === 'volatile' && cfg.ps.volatileStore === 'refuse') {
    throw new ConfigError('ps.volatileStore', `the store keeps nothing on disk (${d.detail}): a Redis restart would lose every acknowledged update. `
      + 'Run Redis with appendonly yes (appendfsync everysec), or set ps.volatileStore to "allow" to accept that');
  }
  if (d.level !== 'durable') warn(`store durability: ${d.level}; a store restart loses ${d.level === 'snapshots' ? 'the updates since its last snapshot' : 'acknowledged updates'} (detected by the shard ledger, not recovered)`, { detail: d.detail });
}

export async function startPs(cfg: FlywheelConfig, shardIndex: number, infra: Infra): Promise<RunningPs> {
  const log = createLogger('ps', { shard: shardIndex, model: cfg.model });
  const registry = createRegistry('ps', { shard: String(shardIndex), model: cfg.model });
  await checkStoreDurability(cfg, infra, (m, extra) => log.warn(extra, m));
  const logTo = (level: 'info' | 'warn' | 'error', msg: string, extra?: object) => log[level](extra ?? {}, msg);
  const positions = positionsOf(infra, cfg);
  const rewind = positions && new StoreLossRewind({
    model: cfg.model, shard: shardIndex, eventShards: cfg.eventShards, ledger: infra.ledger, rewinds: rewindStoreOf(infra, cfg.streamReplicas), positions,
    serving: infra.serving, registry, hasSnapshot: () => infra.store.hasSnapshot(cfg.model, shardIndex), log: logTo,
    settleMs: Math.max(300, 3 * cfg.ps.publishIntervalMs), settleRounds: 10,
  });
  const shard = new PsShard({
    model: cfg.model,
    spec: paramSpecOf(cfg),
    cfg: cfg.ps,
    shard: shardIndex,
    shards: cfg.psShards,
    transport: infra.transport,
    store: infra.store,
    serving: infra.serving,
    ledger: infra.ledger,
    metrics: psMetrics(registry),
    log: logTo,
  }, rewind);
  await shard.start();
  const port = cfg.psMetricsBasePort ? cfg.psMetricsBasePort + shardIndex : 0;
  const server = port && !infra.embedded
    ? await startHttpServer({
      port, registry, healthy: () => shard.healthy, ready: () => shard.readiness(), openapi: { title: 'Flywheel PS shard' },
      auth: httpAuthOf(cfg), onWarning: (msg) => log.warn(msg), onError: (e) => log.error({ err: String(e) }, 'http'),
    })
    : undefined;
  log.info({ version: shard.version, epoch: shard.epoch, metricsPort: port || null }, 'ps shard running');
  const heartbeat = startHeartbeat(infra.transport, {
    service: 'ps', model: cfg.model, instance: `ps-${shardIndex}`,
    notReady: () => (shard.healthy ? undefined : 'not healthy (store or restore failing)'),
    stats: () => ({ shard: shardIndex, version: shard.version, persistedVersion: shard.persistedVersion, epoch: shard.epoch, lrFactor: shard.lrFactor }),
  });
  return {
    shard,
    stop: async () => {
      heartbeat.stop();
      await shard.stop();
      await closeServer(server);
    },
  };
}

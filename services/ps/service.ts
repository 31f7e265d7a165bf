// Starts one PS shard over the given infrastructure, with its /metrics and /healthz server.
import {
  closeServer, createLogger, createRegistry, paramSpecOf, startHttpServer,
  type FlywheelConfig, type Infra,
} from '../../shared/index.ts';
import { psMetrics } from './metrics.ts';
import { PsShard } from './ps-shard.ts';

export interface RunningPs {
  shard: PsShard;
  stop(): Promise<void>;
}

export async function startPs(cfg: FlywheelConfig, shardIndex: number, infra: Infra): Promise<RunningPs> {
  const log = createLogger('ps', { shard: shardIndex, model: cfg.model });
  const registry = createRegistry('ps', { shard: String(shardIndex), model: cfg.model });
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
    log: (level, msg, extra) => log[level](extra ?? {}, msg),
  });
  await shard.start();
  const port = cfg.psMetricsBasePort ? cfg.psMetricsBasePort + shardIndex : 0;
  const server = port && !infra.embedded
    ? await startHttpServer({ port, registry, healthy: () => shard.healthy, onError: (e) => log.error({ err: String(e) }, 'http') })
    : undefined;
  log.info({ version: shard.version, epoch: shard.epoch, metricsPort: port || null }, 'ps shard running');
  return {
    shard,
    stop: async () => {
      await shard.stop();
      await closeServer(server);
    },
  };
}

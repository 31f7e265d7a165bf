// A whole Flywheel on this machine: PS shards, workers, an inference node and ingest, either
// as separate processes over NATS and Redis (the normal case) or all in this process over the
// in-process transport (the embedded mode, when the servers cannot be had).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  EmbeddedInfra, JetStreamEventLog, NatsTransport, RedisLeaseStore, RedisServingStore, RedisShardStore, connectNats, connectRedis, paramSpecOf,
  decode, subjects, waitFor, type FlywheelConfig, type Transport, type WorkerReport,
} from '../shared/index.ts';
import { startIngest } from '../services/ingest/service.ts';
import { startInference } from '../services/inference/service.ts';
import { startPs } from '../services/ps/service.ts';
import { startWorker } from '../services/worker/service.ts';
import { startValidator } from '../services/validator/service.ts';
import { ProcessGroup } from './processes.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Ports that are free now, for a run's services. */
export async function assignPorts(cfg: FlywheelConfig): Promise<FlywheelConfig> {
  const c = structuredClone(cfg);
  c.ingest.port = await freePort();
  c.inference.port = await freePort();
  // Metrics ports are base + index: pick a base with the whole range free.
  const span = c.psShards + c.workers;
  for (let attempt = 0; ; attempt++) {
    const base = await freePort();
    let free = base + span <= 65535;
    for (let p = base + 1; free && p < base + span; p++) free = await portFree(p);
    if (free || attempt >= 20) {
      c.psMetricsBasePort = base;
      c.workerMetricsBasePort = base + c.psShards;
      return c;
    }
  }
}

export interface LocalCluster {
  cfg: FlywheelConfig;
  embedded: boolean;
  ingestUrl: string;
  inferenceUrl: string;
  /** The validator's GET /v1/gate, when the gate is on (gate.holdoutPermille > 0). */
  gateUrl?: string;
  /** Transport for watching the run (worker reports). */
  transport: Transport;
  onReport(fn: (r: WorkerReport) => void): void;
  /** Rejects when a service process dies. */
  failed: Promise<never>;
  logDir: string;
  stop(): Promise<void>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/** Deletes a model's stream and stored weights, so a run starts from scratch. */
export async function resetModel(cfg: FlywheelConfig): Promise<void> {
  const nc = await connectNats(cfg.natsUrl, 'flywheel-reset');
  const redis = connectRedis(cfg.redisUrl);
  try {
    await new JetStreamEventLog(nc, { model: cfg.model, stream: cfg.stream, eventShards: cfg.eventShards }).destroy();
    const spec = paramSpecOf(cfg);
    await new RedisShardStore(redis).deleteModel(cfg.model, cfg.psShards, spec.tables.map((t) => t.name));
    await new RedisServingStore(redis).deleteModel(cfg.model);
    await new RedisLeaseStore(redis).deleteModel(cfg.model, cfg.eventShards);
  } finally {
    await nc.close();
    redis.disconnect();
  }
}

/**
 * Starts the cluster; if a service dies while starting (most often a port that was free when
 * chosen and taken before the service bound it), starts once more on fresh ports.
 */
export async function startLocalCluster(cfg0: FlywheelConfig, opts: { embedded: boolean; logDir: string }): Promise<LocalCluster> {
  try {
    return await startOnce(cfg0, opts);
  } catch (err) {
    if (opts.embedded) throw err;
    process.stderr.write(`a service failed to start (${(err as Error).message.split('\n')[0]}); retrying on fresh ports\n`);
    return startOnce(cfg0, { ...opts, logDir: `${opts.logDir}/retry` });
  }
}

async function startOnce(cfg0: FlywheelConfig, opts: { embedded: boolean; logDir: string }): Promise<LocalCluster> {
  const cfg = await assignPorts(cfg0);
  const gatePort = cfg.gate.holdoutPermille > 0 ? await freePort() : 0;
  mkdirSync(opts.logDir, { recursive: true });
  const reportListeners: ((r: WorkerReport) => void)[] = [];
  const watchReports = (t: Transport) => t.subscribe(subjects.metrics(cfg.model), (m) => {
    try {
      const r = decode(m.data) as WorkerReport;
      for (const fn of reportListeners) fn(r);
    } catch { /* a malformed report is not worth stopping a run for */ }
  });
  const base = {
    cfg, embedded: opts.embedded, logDir: opts.logDir,
    ingestUrl: `http://127.0.0.1:${cfg.ingest.port}`,
    gateUrl: gatePort ? `http://127.0.0.1:${gatePort}` : undefined,
    inferenceUrl: `http://127.0.0.1:${cfg.inference.port}`,
    onReport: (fn: (r: WorkerReport) => void) => { reportListeners.push(fn); },
  };

  if (opts.embedded) {
    const emb = new EmbeddedInfra(cfg);
    const watcher = emb.forService();
    watchReports(watcher.transport);
    const stops: (() => Promise<void>)[] = [];
    for (let k = 0; k < cfg.psShards; k++) stops.push((await startPs(cfg, k, emb.forService())).stop);
    for (let i = 0; i < cfg.workers; i++) stops.push((await startWorker(cfg, i, emb.forService())).stop);
    stops.push((await startInference(cfg, emb.forService())).stop);
    if (gatePort) stops.push((await startValidator(cfg, emb.forService(), gatePort)).stop);
    stops.push((await startIngest(cfg, emb.forService())).stop);
    return {
      ...base, transport: watcher.transport, failed: new Promise<never>(() => undefined),
      stop: async () => { for (const s of stops.reverse()) await s(); await emb.eventLog.destroy(); },
    };
  }

  const cfgFile = join(opts.logDir, 'flywheel.json');
  writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  const group = new ProcessGroup(opts.logDir);
  const nc = await connectNats(cfg.natsUrl, 'flywheel-watch');
  const transport = new NatsTransport(nc);
  watchReports(transport);
  const failed = group.watch();
  failed.catch(() => undefined);
  const ready = async (what: string, url: string) => {
    await Promise.race([waitFor(() => httpOk(url), 120_000, `${what} to answer ${url}`, 100), failed]);
  };
  try {
    await startServices();
  } catch (err) {
    await group.stop();
    await transport.close();
    throw err;
  }
  return {
    ...base, transport, failed,
    stop: async () => {
      await group.stop();
      await transport.close();
    },
  };

  async function startServices(): Promise<void> {
    for (let k = 0; k < cfg.psShards; k++) group.start(`ps-${k}`, 'ps', ['--config', cfgFile, '--shard', String(k)]);
    for (let k = 0; k < cfg.psShards; k++) await ready(`ps-${k}`, `http://127.0.0.1:${cfg.psMetricsBasePort + k}/healthz`);
    for (let i = 0; i < cfg.workers; i++) group.start(`worker-${i}`, 'worker', ['--config', cfgFile, '--index', String(i)]);
    group.start('inference', 'inference', ['--config', cfgFile]);
    if (gatePort) group.start('validator', 'validator', ['--config', cfgFile, '--port', String(gatePort)]);
    group.start('ingest', 'ingest', ['--config', cfgFile]);
    for (let i = 0; i < cfg.workers; i++) await ready(`worker-${i}`, `http://127.0.0.1:${cfg.workerMetricsBasePort + i}/metrics`);
    await ready('inference', `${base.inferenceUrl}/healthz`);
    if (base.gateUrl) await ready('validator', `${base.gateUrl}/healthz`);
    await ready('ingest', `${base.ingestUrl}/healthz`);
  }
}

// A whole Flywheel on this machine: PS shards, workers, an inference node and ingest, either
// as separate processes over NATS and Redis (the normal case) or all in this process over the
// in-process transport (the embedded mode, when the servers cannot be had).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  EmbeddedInfra, JetStreamEventLog, JetStreamLedger, JetStreamRewindStore, forModel, modelDecl, NatsTransport, RedisIdempotencyStore, RedisLeaseStore, RedisServingStore, RedisShardStore, connectNats, connectRedis, paramSpecOf,
  decode, subjects, waitFor, type FlywheelConfig, type Transport, type WorkerReport,
} from '../shared/index.ts';
import { startIngest } from '../services/ingest/service.ts';
import { startInference } from '../services/inference/service.ts';
import { startPs } from '../services/ps/service.ts';
import { startWorker } from '../services/worker/service.ts';
import { startValidator } from '../services/validator/service.ts';
import { startDashboard } from '../services/dashboard/service.ts';
import { ProcessGroup } from './processes.ts';

/** The first port the kernel hands out for outgoing connections (Linux; 32768 elsewhere). */
const EPHEMERAL_LOW = (() => {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
})();

/**
 * A port free now, below the ephemeral range. A port the kernel picked with listen(0) comes
 * from the range it also gives outgoing connections: a process killed and restarted on its
 * port could find it taken, meanwhile, by one of the NATS or Redis connections some process
 * opened (a chaos run's restarted worker once failed with EADDRINUSE so).
 */
export async function freePort(): Promise<number> {
  const high = EPHEMERAL_LOW;
  const low = Math.max(1024, high - 20_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await portFree(port)) return port;
  }
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

/** A free base port with the next `span - 1` ports free too (metrics ports are base + index). */
async function freePortRange(span: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const base = await freePort();
    let free = base + span <= EPHEMERAL_LOW;
    for (let p = base + 1; free && p < base + span; p++) free = await portFree(p);
    if (free || attempt >= 20) return base;
  }
}

/** Ports that are free now, for a run's services (of the model cfg.model serves). */
export async function assignPorts(cfg: FlywheelConfig): Promise<FlywheelConfig> {
  const c = structuredClone(cfg);
  c.ingest.port = await freePort();
  return modelPorts(c);
}

/** cfg with its own inference and metrics ports: each model's processes need theirs on one host. */
async function modelPorts(cfg: FlywheelConfig): Promise<FlywheelConfig> {
  const base = await freePortRange(cfg.psShards + cfg.workers);
  return {
    ...cfg, inference: { ...cfg.inference, port: await freePort() },
    psMetricsBasePort: base, workerMetricsBasePort: base + cfg.psShards,
  };
}

/** One model's services in a cluster: its inference node, its gate, its workers' reports. */
export interface ClusterModel {
  name: string;
  kind: string;
  /** The config its processes run with (cfg.model = name, its own ports). */
  cfg: FlywheelConfig;
  inferenceUrl: string;
  /** The validator's GET /v1/gate, when the gate is on (gate.holdoutPermille > 0). */
  gateUrl?: string;
  onReport(fn: (r: WorkerReport) => void): void;
}

export interface LocalCluster {
  /** The config of the first model's processes (cfg.model); `models` has every model's. */
  cfg: FlywheelConfig;
  embedded: boolean;
  ingestUrl: string;
  /** Every model the cluster runs: each declared model over NATS + Redis, the first only embedded. */
  models: ClusterModel[];
  /** The first model's inference node, gate and reports (the one a single-model run has). */
  inferenceUrl: string;
  gateUrl?: string;
  onReport(fn: (r: WorkerReport) => void): void;
  /** Transport for watching the run (worker reports). */
  transport: Transport;
  /** Rejects when a service process dies. */
  failed: Promise<never>;
  logDir: string;
  /** The live dashboard of every model, when asked for (opts.dashboard). */
  dashboardUrl?: string;
  /** The service processes (not in embedded mode), for fault tests: kill, restart. */
  processes?: ProcessGroup;
  stop(): Promise<void>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/** Deletes every declared model's stored weights and consumers, and the event stream, so a run starts from scratch. */
export async function resetModel(cfg: FlywheelConfig): Promise<void> {
  const nc = await connectNats(cfg.natsUrl, 'flywheel-reset');
  const redis = connectRedis(cfg.redisUrl);
  try {
    for (const m of cfg.models) {
      const mc = forModel(cfg, m.name);
      await new JetStreamEventLog(nc, { model: m.name, stream: cfg.stream, eventShards: cfg.eventShards }).destroy();
      const spec = paramSpecOf(mc);
      await new RedisShardStore(redis).deleteModel(m.name, cfg.psShards, spec.tables.map((t) => t.name));
      await new RedisServingStore(redis).deleteModel(m.name);
      await new RedisLeaseStore(redis).deleteModel(m.name, cfg.eventShards);
      // Else the shards of the fresh run would take the empty store for a lost one.
      await new JetStreamLedger(nc).deleteModel(m.name, cfg.psShards);
      // Else a fresh run's workers would train the last run's lost ranges again.
      await new JetStreamRewindStore(nc).deleteModel(m.name, cfg.psShards);
    }
    // Else a fresh run's requests would be answered from the last run's records and publish nothing.
    await new RedisIdempotencyStore(redis).deleteStream(cfg.stream);
  } finally {
    await nc.close();
    redis.disconnect();
  }
}

/**
 * Starts the cluster; if a service dies while starting (most often a port that was free when
 * chosen and taken before the service bound it), starts once more on fresh ports.
 */
export interface LocalClusterOptions {
  embedded: boolean;
  logDir: string;
  /** Start the live dashboard too: on dashboard.port when that is free, else on any free port. */
  dashboard?: boolean;
}

export async function startLocalCluster(cfg0: FlywheelConfig, opts: LocalClusterOptions): Promise<LocalCluster> {
  try {
    return await startOnce(cfg0, opts);
  } catch (err) {
    if (opts.embedded) throw err;
    process.stderr.write(`a service failed to start (${(err as Error).message.split('\n')[0]}); retrying on fresh ports\n`);
    return startOnce(cfg0, { ...opts, logDir: `${opts.logDir}/retry` });
  }
}

async function startOnce(cfg0: FlywheelConfig, opts: LocalClusterOptions): Promise<LocalCluster> {
  // A cluster on this machine runs on whatever Redis the machine has; the shards warn when it
  // keeps nothing on disk (and the ledger catches a loss) instead of refusing to start.
  const first = await assignPorts({ ...cfg0, ps: { ...cfg0.ps, volatileStore: 'allow' } });
  if (opts.dashboard) first.dashboard = { ...first.dashboard, port: (await portFree(first.dashboard.port)) ? first.dashboard.port : await freePort() };
  // The embedded mode's in-process event log feeds one model (its consumers would split the events).
  const names = opts.embedded ? [first.model] : [first.model, ...first.models.map((m) => m.name).filter((n) => n !== first.model)];
  const cfgs = [first];
  for (const n of names.slice(1)) cfgs.push(await modelPorts(forModel(first, n)));
  const gatePorts = await Promise.all(cfgs.map(async (c) => (c.gate.holdoutPermille > 0 ? freePort() : 0)));
  mkdirSync(opts.logDir, { recursive: true });
  const listeners = new Map<string, ((r: WorkerReport) => void)[]>(names.map((n) => [n, []]));
  const watchReports = (t: Transport) => {
    for (const [name, fns] of listeners) {
      t.subscribe(subjects.metrics(name), (m) => {
        try {
          const r = decode(m.data) as WorkerReport;
          for (const fn of fns) fn(r);
        } catch { /* a malformed report is not worth stopping a run for */ }
      });
    }
  };
  const models: ClusterModel[] = cfgs.map((c, j) => ({
    name: c.model, kind: modelDecl(c).kind, cfg: c,
    inferenceUrl: `http://127.0.0.1:${c.inference.port}`,
    gateUrl: gatePorts[j] ? `http://127.0.0.1:${gatePorts[j]}` : undefined,
    onReport: (fn) => { listeners.get(c.model)!.push(fn); },
  }));
  const base = {
    cfg: first, embedded: opts.embedded, logDir: opts.logDir, models,
    ingestUrl: `http://127.0.0.1:${first.ingest.port}`,
    dashboardUrl: opts.dashboard ? `http://127.0.0.1:${first.dashboard.port}/` : undefined,
    inferenceUrl: models[0].inferenceUrl, gateUrl: models[0].gateUrl, onReport: models[0].onReport,
  };

  if (opts.embedded) {
    const cfg = first;
    const emb = new EmbeddedInfra(cfg);
    const watcher = emb.forService();
    watchReports(watcher.transport);
    const stops: (() => Promise<void>)[] = [];
    for (let k = 0; k < cfg.psShards; k++) stops.push((await startPs(cfg, k, emb.forService())).stop);
    for (let i = 0; i < cfg.workers; i++) stops.push((await startWorker(cfg, i, emb.forService())).stop);
    stops.push((await startInference(cfg, emb.forService())).stop);
    if (gatePorts[0]) stops.push((await startValidator(cfg, emb.forService(), gatePorts[0])).stop);
    stops.push((await startIngest(cfg, emb.forService())).stop);
    if (opts.dashboard) stops.push((await startDashboard(cfg, emb.forService())).stop);
    return {
      ...base, transport: watcher.transport, failed: new Promise<never>(() => undefined),
      stop: async () => { for (const s of stops.reverse()) await s(); await emb.eventLog.destroy(); },
    };
  }

  const files = cfgs.map((c) => {
    const f = join(opts.logDir, cfgs.length === 1 ? 'flywheel.json' : `flywheel-${c.model}.json`);
    writeFileSync(f, JSON.stringify(c, null, 2));
    return f;
  });
  const group = new ProcessGroup(opts.logDir);
  const nc = await connectNats(first.natsUrl, 'flywheel-watch');
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
    ...base, transport, failed, processes: group,
    stop: async () => {
      await group.stop();
      await transport.close();
    },
  };

  async function startServices(): Promise<void> {
    // Process names carry the model when there are several: ps-0 alone, ps-retaildemo_value-0 beside others.
    const tag = (c: FlywheelConfig, what: string) => (cfgs.length === 1 ? what : `${what}-${c.model}`);
    cfgs.forEach((c, j) => {
      for (let k = 0; k < c.psShards; k++) group.start(`${tag(c, 'ps')}-${k}`, 'ps', ['--config', files[j], '--shard', String(k)]);
    });
    for (const c of cfgs) for (let k = 0; k < c.psShards; k++) await ready(`${tag(c, 'ps')}-${k}`, `http://127.0.0.1:${c.psMetricsBasePort + k}/healthz`);
    cfgs.forEach((c, j) => {
      for (let i = 0; i < c.workers; i++) group.start(`${tag(c, 'worker')}-${i}`, 'worker', ['--config', files[j], '--index', String(i)]);
      group.start(tag(c, 'inference'), 'inference', ['--config', files[j]]);
      if (gatePorts[j]) group.start(tag(c, 'validator'), 'validator', ['--config', files[j], '--port', String(gatePorts[j])]);
    });
    group.start('ingest', 'ingest', ['--config', files[0]]);
    // The dashboard reads every model from the first config's model list.
    if (opts.dashboard) group.start('dashboard', 'dashboard', ['--config', files[0]]);
    for (const [j, c] of cfgs.entries()) {
      for (let i = 0; i < c.workers; i++) await ready(`${tag(c, 'worker')}-${i}`, `http://127.0.0.1:${c.workerMetricsBasePort + i}/metrics`);
      await ready(tag(c, 'inference'), `${models[j].inferenceUrl}/healthz`);
      if (models[j].gateUrl) await ready(tag(c, 'validator'), `${models[j].gateUrl}/healthz`);
    }
    await ready('ingest', `${base.ingestUrl}/healthz`);
    if (base.dashboardUrl) await ready('dashboard', `${base.dashboardUrl}healthz`);
  }
}

// The live dashboard: one small service that watches every model of the config over NATS
// (worker reports, heartbeats, gate decisions) and polls the consumer lag of each event shard,
// then serves a page that updates itself once a second over server-sent events, the same
// snapshot as JSON, and the figures as Prometheus gauges. It needs no address of any other
// service, so it runs the same on one machine and in a cluster.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ConfigError, Gauge, closeServer, httpAuthOf, connectInfra, createLogger, createRegistry, decode, forModel, metricsServerOf, parseHeartbeat, startHeartbeat, startHttpServer, subjects,
  type EventLog, type FlywheelConfig, type Infra, type Subscription, type WorkerReport,
} from '../../shared/index.ts';
import { modelDecl } from '../../shared/config.ts';
import { modelKind } from '../../shared/models/registry.ts';
import { DashboardState, type DashboardModel, type DashboardSnapshot } from './state.ts';

export interface RunningDashboard {
  port: number;
  /** The separate /metrics listener's port (dashboard.metricsPort), else null. */
  metricsPort: number | null;
  url: string;
  state: DashboardState;
  stop(): Promise<void>;
}

export interface DashboardOptions {
  port?: number;
  /** How often the page gets a new snapshot and the lag is polled. Default 1000 ms. */
  tickMs?: number;
}

/** How often the windows are merged again (they cost a pass over every bucket). */
const FIGURES_EVERY_MS = 5000;

const here = dirname(new URL(import.meta.url).pathname);
const require = createRequire(import.meta.url);

/** The page's files, read once: the page, its script and the chart library from node_modules. */
function assets(): Record<string, { type: string; body: Buffer }> {
  const uplot = dirname(require.resolve('uplot/package.json'));
  return {
    'GET /': { type: 'text/html; charset=utf-8', body: readFileSync(join(here, 'page', 'index.html')) },
    'GET /dashboard.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(here, 'page', 'dashboard.js')) },
    'GET /dashboard.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(here, 'page', 'dashboard.css')) },
    'GET /vendor/uplot.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(join(uplot, 'dist', 'uPlot.iife.min.js')) },
    'GET /vendor/uplot.css': { type: 'text/css; charset=utf-8', body: readFileSync(join(uplot, 'dist', 'uPlot.min.css')) },
  };
}

export async function startDashboard(cfg: FlywheelConfig, infra: Infra, o: DashboardOptions = {}): Promise<RunningDashboard> {
  const log = createLogger('dashboard', { model: cfg.model });
  const mainPort = o.port ?? cfg.dashboard.port;
  const metricsPort = cfg.dashboard.metricsPort;
  if (metricsPort !== 0 && metricsPort === mainPort) throw new ConfigError('dashboard.metricsPort', `must differ from the dashboard's port (${mainPort})`);
  // The embedded mode runs one model (its in-process log feeds only that one).
  const names = infra.embedded ? [cfg.model] : cfg.models.map((m) => m.name);
  const models: DashboardModel[] = names.map((name) => {
    const c = forModel(cfg, name);
    const kind = modelDecl(c).kind;
    return { name, kind, metric: modelKind(kind).metric, eventShards: c.eventShards, psShards: c.psShards, evalBucketMs: c.worker.evalBucketMs };
  });
  const state = new DashboardState(models, Date.now(), FIGURES_EVERY_MS);

  const subs: Subscription[] = [];
  for (const m of models) {
    subs.push(infra.transport.subscribe(subjects.metrics(m.name), (msg) => {
      try { state.onReport(m.name, decode(msg.data) as WorkerReport); } catch { state.bad.reports++; }
    }));
    subs.push(infra.transport.subscribe(subjects.heartbeat(m.name), (msg) => {
      try { state.onHeartbeat(parseHeartbeat(msg.data)); } catch { state.bad.heartbeats++; }
    }));
    subs.push(infra.transport.subscribe(subjects.serving(m.name), (msg) => {
      try { state.onServing(m.name, decode(msg.data)); } catch { state.bad.serving++; }
    }));
  }

  // Each model's event log reads its own consumers: the first comes with infra, the others
  // need connections of their own (their consumers are named after them).
  const extra: Infra[] = [];
  const logs = new Map<string, EventLog>([[cfg.model, infra.eventLog]]);
  for (const m of models) {
    if (logs.has(m.name)) continue;
    const other = await connectInfra(forModel(cfg, m.name), `dashboard-${m.name}`);
    extra.push(other);
    logs.set(m.name, other.eventLog);
  }
  const pollLag = async () => {
    await Promise.all(models.map(async (m) => {
      const el = logs.get(m.name)!;
      for (let s = 0; s < m.eventShards; s++) {
        // No consumer yet (workers not started) reads as unknown, not as zero.
        const b = await el.backlog(s).catch(() => null);
        state.onBacklog(m.name, s, b ? b.pending + b.ackPending : null);
      }
    }));
  };

  const clients = new Set<ServerResponse>();
  let latest: DashboardSnapshot = state.snapshot();
  let ticking = false;
  const tick = async () => {
    if (ticking) return; // a slow lag poll skips a tick rather than piling up
    ticking = true;
    try {
      await pollLag();
      state.tick();
      latest = state.snapshot();
      const frame = `data: ${JSON.stringify(latest)}\n\n`;
      for (const c of clients) c.write(frame);
    } catch (err) {
      log.warn({ err: String(err) }, 'dashboard tick failed');
    } finally {
      ticking = false;
    }
  };
  await tick();
  const timer = setInterval(() => void tick(), o.tickMs ?? 1000);
  timer.unref();

  const registry = createRegistry('dashboard');
  registerGauges(registry, () => latest);

  const files = assets();
  const raw: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {};
  for (const [key, f] of Object.entries(files)) {
    raw[key] = (_req, res) => {
      res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length, 'cache-control': 'no-cache' });
      res.end(f.body);
    };
  }
  raw['GET /v1/dashboard/stream'] = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // The first frame at once: a page opened between ticks has something to draw.
    res.write(`retry: 2000\n\ndata: ${JSON.stringify(latest)}\n\n`);
    clients.add(res);
    req.on('close', () => clients.delete(res));
  };
  const server = await startHttpServer({
    port: mainPort, registry, raw,
    auth: httpAuthOf(cfg), onWarning: (msg) => log.warn(msg),
    metrics: metricsPort ? { port: metricsPort, host: cfg.http.metricsHost } : undefined,
    routes: { 'GET /v1/dashboard': () => latest },
    onError: (e) => log.error({ err: String(e) }, 'http'),
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  const metricsServer = metricsServerOf(server);
  const actualMetrics = metricsServer ? (metricsServer.address() as import('node:net').AddressInfo).port : null;
  const heartbeat = startHeartbeat(infra.transport, { service: 'dashboard', model: cfg.model, instance: 'dashboard', stats: () => ({ viewers: clients.size }) });
  log.info({ port, metricsPort: actualMetrics, models: names }, 'dashboard running');
  return {
    port, metricsPort: actualMetrics, url, state,
    stop: async () => {
      heartbeat.stop();
      clearInterval(timer);
      for (const s of subs) s.unsubscribe();
      // Open event streams would hold the server's close for its whole drain time.
      for (const c of clients) c.end();
      clients.clear();
      await closeServer(server);
      for (const x of extra) await x.close();
    },
  };
}

/** The snapshot's figures as gauges, read at scrape time (so they are never older than a tick). */
function registerGauges(registry: import('prom-client').Registry, snap: () => DashboardSnapshot): void {
  new Gauge({
    name: 'fw_model_headline', help: 'Prequential headline metric of the latest window (scored before training), the model and each baseline',
    labelNames: ['model', 'kind', 'metric', 'scorer'], registers: [registry],
    collect() {
      this.reset();
      for (const m of snap().models) {
        if (!m.latest) continue;
        if (m.latest.model !== null) this.set({ model: m.name, kind: m.kind, metric: m.metric.headline, scorer: 'model' }, m.latest.model);
        for (const [b, f] of Object.entries(m.latest.baselines)) {
          const v = f[m.metric.headline];
          if (v !== null && v !== undefined) this.set({ model: m.name, kind: m.kind, metric: m.metric.headline, scorer: b }, v);
        }
      }
    },
  });
  new Gauge({
    name: 'fw_model_logloss', help: 'Prequential logloss of the latest window (kinds that have one)', labelNames: ['model', 'scorer'], registers: [registry],
    collect() {
      this.reset();
      for (const m of snap().models) {
        if (!m.latest) continue;
        if (m.latest.logLoss !== null) this.set({ model: m.name, scorer: 'model' }, m.latest.logLoss);
        for (const [b, f] of Object.entries(m.latest.baselines)) if (f.logLoss !== null && f.logLoss !== undefined) this.set({ model: m.name, scorer: b }, f.logLoss);
      }
    },
  });
  new Gauge({
    name: 'fw_eventlog_consumer_lag', help: 'Messages of an event shard not yet acked by the model\'s workers (pending + ack-pending)', labelNames: ['model', 'shard'], registers: [registry],
    collect() {
      this.reset();
      for (const m of snap().models) m.lagByShard.forEach((x, s) => { if (x !== null) this.set({ model: m.name, shard: String(s) }, x); });
    },
  });
  new Gauge({
    name: 'fw_dashboard_process_up', help: '1 while a process\'s heartbeats keep coming, 0 for a minute after they stop', labelNames: ['model', 'service', 'id'], registers: [registry],
    collect() {
      this.reset();
      for (const p of snap().processes) this.set({ model: p.model, service: p.service, id: p.id }, p.alive ? 1 : 0);
    },
  });
}

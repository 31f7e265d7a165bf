// Inference node: a replica of the model kept current from the weight deltas, serving
// predictions and top-K recommendations over HTTP with the versions it used.
import {
  Counter, FrozenWeights, Histogram, Replica, type EventBatchMessage, type EventConsumer, closeServer, decode, decodeCheckpoint, parseForget, subjects, createLogger, createRegistry,
  httpAuthOf, metricsServerOf, startHeartbeat, startHttpServer, type FlywheelConfig, type Infra, type ServingPlugin, type ServingPointer, type WeightDelta,
} from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { FreshnessTracker } from './freshness.ts';
import { ShardMerge } from '../../shared/eventlog/shard-merge.ts';
import { INFERENCE_ROUTE_DOCS } from './route-docs.ts';

export interface RunningInference {
  port: number;
  replica: Replica;
  freshness: FreshnessTracker;
  stop(): Promise<void>;
}

export async function startInference(cfg: FlywheelConfig, infra: Infra, portOverride?: number): Promise<RunningInference> {
  const log = createLogger('inference', { model: cfg.model });
  const backend = await initTensorBackend((m) => log.info(m));
  const registry = createRegistry('inference', { model: cfg.model });
  const freshnessHist = new Histogram({ name: 'fw_inference_freshness_seconds', help: 'Event accepted -> version containing it applied here', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry] });
  const latency = new Histogram({ name: 'fw_inference_request_seconds', help: 'Predict/recommend latency', labelNames: ['route'], buckets: [5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.05, 0.2], registers: [registry] });
  const badEventMessages = new Counter({ name: 'fw_inference_bad_event_messages_total', help: 'Event messages that did not decode (kinds that read events)', registers: [registry] });
  const m = resolveModel(cfg);
  const spec = m.spec;
  const freshness = new FreshnessTracker();
  let plugin: ServingPlugin | undefined;
  const replica = new Replica(spec, cfg.psShards, infra.store, {
    onDelta: (d, outcome) => {
      if (outcome !== 'applied') return;
      for (const ms of freshness.record(d)) freshnessHist.observe(ms / 1000);
      plugin?.onDelta?.(d as WeightDelta);
    },
    onError: (err) => log.warn({ err: String(err) }, 'replica'),
  });
  await replica.start(infra.transport, cfg.model);
  const model = m.kind.create(spec, m.settings);
  // With a validation gate, inference serves the version the serving pointer names (a
  // checkpoint), not simply the newest; without one (no pointer), the live replica.
  let serving: { weights: FrozenWeights; pointer: ServingPointer } | undefined;
  const follow = async (p: ServingPointer) => {
    if (serving && serving.pointer.checkpointId === p.checkpointId && serving.pointer.atMs >= p.atMs) return;
    const bytes = await infra.serving.loadCheckpoint(cfg.model, p.checkpointId);
    if (!bytes) { log.warn({ checkpoint: p.checkpointId }, 'serving pointer names a missing checkpoint: keeping the current version'); return; }
    serving = { weights: new FrozenWeights(spec, decodeCheckpoint(bytes)), pointer: p };
    log.info({ checkpoint: p.checkpointId, versions: p.versions, by: p.by }, 'serving a new version');
  };
  const servingSub = infra.transport.subscribe(subjects.serving(cfg.model), (m) => {
    try {
      const msg = decode(m.data) as { kind?: string; pointer?: ServingPointer };
      if (msg.kind === 'pointer' && msg.pointer) void follow(msg.pointer).catch((e) => log.warn({ err: String(e) }, 'loading a checkpoint failed'));
    } catch (err) {
      log.warn({ err: String(err) }, 'malformed serving message');
    }
  });
  // A forgotten user (ingest's DELETE /v1/users/{id}): their rows leave the served checkpoint's
  // copy and the live replica at once, and the plugin drops their recent items.
  const forgetSub = infra.transport.subscribe(subjects.forget(cfg.model), (msg) => {
    try {
      const f = parseForget(msg.data);
      const removed = replica.removeRows(f.tables) + (serving?.weights.removeRows(f.tables) ?? 0);
      plugin?.forgetUser?.(f.userId);
      log.info({ rows: removed }, 'a forgotten user\'s rows dropped');
    } catch (err) {
      log.warn({ err: String(err) }, 'malformed forget message: ignored');
    }
  });
  const initial = await infra.serving.getPointer(cfg.model);
  if (initial) await follow(initial);
  const versionInfo = () => (serving
    ? { versions: serving.weights.versions, servingCheckpoint: serving.pointer.checkpointId }
    : { versions: replica.versions(), epochs: replica.shards.map((s) => s.epoch) });

  plugin = m.kind.serving?.({
    model: cfg.model, settings: m.settings, spec, predictor: model, maxBatch: cfg.inference.maxBatch,
    weights: () => serving?.weights ?? replica, versionInfo,
  });
  // A kind that answers from the recent events themselves (demand) gets them from every event shard.
  // The shards' events are merged in event-time order first, so that the copy aggregates as
  // one source fed the replay in order would (a day must not close on another shard's news).
  const merge = new ShardMerge(cfg.eventShards);
  const release = () => {
    const ready = merge.drain();
    if (ready.length) plugin!.onEvents!(ready);
  };
  const onShardMessage = (shard: number, data: Uint8Array) => {
    try {
      const batch = decode(data) as EventBatchMessage;
      if (!Array.isArray(batch.events)) throw new Error('no events array');
      merge.push(shard, batch.events);
      release();
    } catch (err) {
      // Ingest validated these; a message that does not decode is counted and skipped.
      badEventMessages.inc();
      log.warn({ err: String(err) }, 'an event message did not decode');
    }
  };
  // From the log: the retained events first (a restarted node rebuilds its copy), then live.
  const tails: EventConsumer[] = [];
  if (plugin?.onEvents) {
    await infra.eventLog.ensure();
    for (let shard = 0; shard < cfg.eventShards; shard++) tails.push(await infra.eventLog.tail(shard, (data) => onShardMessage(shard, data)));
  }
  // A quiet shard stops holding the merge back after a second.
  const mergeTimer = tails.length ? setInterval(release, 500) : undefined;
  // Each kind route is timed under its path's last segment (predict, recommend, forecast...).
  const kindRoutes = Object.fromEntries(Object.entries(plugin?.routes ?? {}).map(([route, handler]) => {
    const name = route.split('/').pop() ?? route;
    return [route, async (req: import('node:http').IncomingMessage, body: Buffer) => {
      const t = latency.startTimer({ route: name });
      const out = await handler(req, body);
      t();
      return out;
    }];
  }));
  const routes = {
    ...kindRoutes,
    'GET /v1/model': () => {
      const now = Date.now();
      const newest = Math.max(...replica.shards.map((s) => s.newestAcceptedAtMs));
      return {
        model: cfg.model, kind: m.kind.kind, routes: Object.keys(kindRoutes), backend, ...versionInfo(),
        liveVersions: replica.versions(),
        serving: serving ? serving.pointer : null,
        persistedVersions: replica.shards.map((s) => s.persistedVersion),
        // How long each shard has been quiet: a shard that is down keeps its last version here,
        // and this says how stale that is (shards publish only when they changed).
        shardQuietMs: replica.shards.map((s) => (s.lastDeltaAtMs ? now - s.lastDeltaAtMs : null)),
        newestEventAcceptedAtMs: newest || null,
        freshnessMs: newest ? now - newest : null,
        freshnessP50Ms: freshness.count ? freshness.quantileMs(0.5) : null,
        freshnessP99Ms: freshness.count ? freshness.quantileMs(0.99) : null,
        freshnessSamples: freshness.count,
        // The same over the last 10 s only: what a user sees now, without the start-up.
        freshnessRecent: (() => {
          const p50 = freshness.recentQuantileMs(0.5, 10_000, now);
          const p99 = freshness.recentQuantileMs(0.99, 10_000, now);
          return { windowMs: 10_000, samples: p50.samples, p50Ms: Number.isFinite(p50.value) ? p50.value : null, p99Ms: Number.isFinite(p99.value) ? p99.value : null };
        })(),
        replica: replica.stats,
      };
    },
  };
  const server = await startHttpServer({
    port: portOverride ?? cfg.inference.port, registry, routes, maxBodyBytes: 4 * 1024 * 1024,
    healthy: () => true, onError: (e) => log.error({ err: String(e) }, 'http'),
    // Every route of an inference node is a query (a kind's serving routes compute answers from
    // the weights and change nothing): under http.authRoutes "writes" none needs a token; under
    // "all" they all do.
    auth: httpAuthOf(cfg), queries: Object.keys(routes),
    metrics: cfg.inference.metricsPort ? { port: cfg.inference.metricsPort, host: cfg.http.metricsHost } : undefined,
    onWarning: (msg) => log.warn(msg),
    // Live at once, but ready only with weights to answer from: a validated checkpoint, or every shard's.
    ready: () => (serving ? true : replica.readiness()),
    docs: { ...plugin?.docs, ...INFERENCE_ROUTE_DOCS }, openapi: { title: `Flywheel inference (kind ${m.kind.kind})` },
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  const metricsServer = metricsServerOf(server);
  log.info({ port, metricsPort: metricsServer ? (metricsServer.address() as import('node:net').AddressInfo).port : null, backend, versions: replica.versions() }, 'inference running');
  const heartbeat = startHeartbeat(infra.transport, {
    service: 'inference', model: cfg.model, instance: 'inference',
    // The same rule as /readyz.
    notReady: () => {
      const r = serving ? true : replica.readiness();
      return r === true ? undefined : r;
    },
    stats: () => {
      const now = Date.now();
      const p50 = freshness.recentQuantileMs(0.5, 10_000, now);
      const p99 = freshness.recentQuantileMs(0.99, 10_000, now);
      const served = versionInfo().versions;
      return {
        freshnessP50Ms: Number.isFinite(p50.value) ? p50.value : null, freshnessP99Ms: Number.isFinite(p99.value) ? p99.value : null,
        freshnessSamples: p50.samples, ...Object.fromEntries(served.map((v, k) => [`servedVersion.${k}`, v])),
      };
    },
  });
  return { port, replica, freshness, stop: async () => { heartbeat.stop(); servingSub.unsubscribe(); forgetSub.unsubscribe(); for (const tail of tails) void tail.stop(); clearInterval(mergeTimer); plugin?.stop?.(); replica.stop(); await closeServer(server); } };
}

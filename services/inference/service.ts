// Inference node: a replica of the model kept current from the weight deltas, serving
// predictions and top-K recommendations over HTTP with the versions it used.
import {
  FrozenWeights, Histogram, HttpError, Replica, closeServer, decode, decodeCheckpoint, subjects, createLogger, createRegistry, ctrParamSpec, featurizeInto,
  startHttpServer, validateEvent, type FlywheelConfig, type Infra, type ServingPointer,
} from '../../shared/index.ts';
import { CtrModel } from '../../shared/model/ctr-model.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { FreshnessTracker } from './freshness.ts';

export interface RunningInference {
  port: number;
  replica: Replica;
  freshness: FreshnessTracker;
  stop(): Promise<void>;
}

function parseJson(body: Buffer): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `malformed JSON: ${(err as Error).message}`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new HttpError(400, 'body must be a JSON object');
  return o as Record<string, unknown>;
}

export async function startInference(cfg: FlywheelConfig, infra: Infra, portOverride?: number): Promise<RunningInference> {
  const log = createLogger('inference', { model: cfg.model });
  const backend = await initTensorBackend((m) => log.info(m));
  const registry = createRegistry('inference', { model: cfg.model });
  const freshnessHist = new Histogram({ name: 'fw_inference_freshness_seconds', help: 'Event accepted -> version containing it applied here', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry] });
  const latency = new Histogram({ name: 'fw_inference_request_seconds', help: 'Predict/recommend latency', labelNames: ['route'], buckets: [5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.05, 0.2], registers: [registry] });
  const spec = ctrParamSpec(cfg.model, cfg.seed, cfg.ctr);
  const freshness = new FreshnessTracker();
  const replica = new Replica(spec, cfg.psShards, infra.store, {
    onDelta: (d, outcome) => {
      if (outcome !== 'applied') return;
      for (const ms of freshness.record(d)) freshnessHist.observe(ms / 1000);
    },
    onError: (err) => log.warn({ err: String(err) }, 'replica'),
  });
  await replica.start(infra.transport, cfg.model);
  const model = new CtrModel(spec, cfg.ctr);
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
  const initial = await infra.serving.getPointer(cfg.model);
  if (initial) await follow(initial);
  const F = cfg.ctr.fields.length;
  const rows = cfg.ctr.fields.map(() => cfg.ctr.buckets);

  function score(rawEvents: unknown[]): Float32Array {
    if (rawEvents.length === 0) throw new HttpError(400, 'no events to score');
    if (rawEvents.length > cfg.inference.maxBatch) throw new HttpError(400, `more than ${cfg.inference.maxBatch} events in one request`);
    const ids = new Int32Array(rawEvents.length * F);
    rawEvents.forEach((raw, i) => {
      const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      let ev;
      try {
        ev = validateEvent({ type: 'view', ts: Date.now(), ...r });
      } catch (err) {
        throw new HttpError(400, `event ${i}: ${(err as Error).message}`);
      }
      featurizeInto(ev, cfg.ctr.fields, rows, ids, i * F);
    });
    return model.predict({ size: rawEvents.length, ids, labels: new Float32Array(rawEvents.length) }, serving?.weights ?? replica);
  }

  const versionInfo = () => (serving
    ? { versions: serving.weights.versions, servingCheckpoint: serving.pointer.checkpointId }
    : { versions: replica.versions(), epochs: replica.shards.map((s) => s.epoch) });

  const routes = {
    'POST /v1/predict': (_req: unknown, body: Buffer) => {
      const t = latency.startTimer({ route: 'predict' });
      const o = parseJson(body);
      if (!Array.isArray(o.events)) throw new HttpError(400, 'body must be { "events": [ ... ] }');
      const scores = score(o.events);
      t();
      return { scores: Array.from(scores), ...versionInfo() };
    },
    'POST /v1/recommend': (_req: unknown, body: Buffer) => {
      const t = latency.startTimer({ route: 'recommend' });
      const o = parseJson(body);
      const k = o.k === undefined ? 10 : Number(o.k);
      if (!Number.isInteger(k) || k < 1 || k > 1000) throw new HttpError(400, 'k must be an integer in 1..1000');
      if (typeof o.userId !== 'string' && typeof o.userId !== 'number') throw new HttpError(400, 'userId is required');
      if (!Array.isArray(o.candidates) || o.candidates.length === 0) throw new HttpError(400, 'candidates must be a non-empty array of item ids or { itemId, categoryId }');
      const evs = o.candidates.map((c) => {
        const cand = (typeof c === 'object' && c !== null ? c : { itemId: c }) as Record<string, unknown>;
        return { userId: o.userId, itemId: cand.itemId, categoryId: cand.categoryId, context: o.context, ts: o.ts ?? Date.now() };
      });
      const scores = score(evs);
      const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, k);
      t();
      return { items: order.map((i) => ({ itemId: String(evs[i].itemId), score: scores[i] })), ...versionInfo() };
    },
    'GET /v1/model': () => {
      const now = Date.now();
      const newest = Math.max(...replica.shards.map((s) => s.newestAcceptedAtMs));
      return {
        model: cfg.model, backend, ...versionInfo(),
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
  });
  const port = (server.address() as import('node:net').AddressInfo).port;
  log.info({ port, backend, versions: replica.versions() }, 'inference running');
  return { port, replica, freshness, stop: async () => { servingSub.unsubscribe(); replica.stop(); await closeServer(server); } };
}

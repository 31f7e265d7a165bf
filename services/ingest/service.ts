// Ingest: HTTP POST /v1/events -> validation -> JetStream, on subject fw.<stream>.events.<s>
// with s = hash(userId) mod S (and, when a model of the config shards by item, once more on
// fw.<stream>.events.item.<s> with s = hash(itemId) mod S: one ingest feeds every model), packing the events of a shard into few messages (an acked
// publish per event tops out near 19k/s; per message of 128 events it is no longer the limit).
// A request is all or nothing: one invalid event and none is published. With an
// Idempotency-Key it is done at most once (idempotency.ts). What request bodies cost in memory
// is bounded twice: every body's shape before it is parsed (json-shape.ts), and the bytes of
// all bodies held at once (ingest.maxInflightBodyBytes, shared/http.ts BodyBudget).
import { createHash } from 'node:crypto';
import {
  BodyBudget, Counter, EVENT_LIMITS, Gauge, Histogram, HttpError, HttpReply, cleanIdString, closeServer, loadApiTokens, pathSegment, presentedTokens, httpAuthOf, metricsServerOf, createLogger, createRegistry, encode, startHeartbeat, startHttpServer, eventShardOf, shardKeyOf,
  type ApiTokens, type EventBatchMessage, type FlywheelConfig, type FlywheelEvent, type Infra,
} from '../../shared/index.ts';
import { IdempotencyGuard, bodyHashOf, clientScope, idempotencyKeyOf, type Claim } from './idempotency.ts';
import { forgetUser } from './forget-user.ts';
import { parseEventsBody } from './parse-events.ts';
import { INGEST_ROUTE_DOCS, eventLogReadiness } from './route-docs.ts';

export interface RunningIngest {
  port: number;
  /** The separate /metrics listener's port (ingest.metricsPort), else null. */
  metricsPort: number | null;
  /** The bytes of request bodies held now (ingest.maxInflightBodyBytes): tests wait on it. */
  bodyBudget: BodyBudget;
  stop(): Promise<void>;
}

/** HTTP deadlines, bind address and API tokens of the ingest server (tests set them). */
export interface IngestHttpOptions {
  /** Default FLYWHEEL_HTTP_HOST, else 127.0.0.1. */
  host?: string;
  /** Default those of FLYWHEEL_API_TOKENS / FLYWHEEL_API_TOKENS_FILE. */
  tokens?: ApiTokens;
  /** Whole-request deadline: a client that has not sent its whole body by then gets 408. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Deadline for the request headers. Default min(requestTimeoutMs, 10000) ms. */
  headersTimeoutMs?: number;
}

export async function startIngest(cfg: FlywheelConfig, infra: Infra, portOverride?: number, http: IngestHttpOptions = {}): Promise<RunningIngest> {
  const log = createLogger('ingest', { model: cfg.model });
  const registry = createRegistry('ingest', { model: cfg.model });
  const accepted = new Counter({ name: 'fw_ingest_events_accepted_total', help: 'Events published to the stream', registers: [registry] });
  const rejected = new Counter({ name: 'fw_ingest_requests_rejected_total', help: 'Requests refused, by reason', labelNames: ['reason'], registers: [registry] });
  const publishSeconds = new Histogram({ name: 'fw_ingest_publish_seconds', help: 'Time to publish one request\'s events', buckets: [1e-3, 5e-3, 0.02, 0.1, 0.5, 2], registers: [registry] });
  const replayed = new Counter({ name: 'fw_ingest_idempotent_replays_total', help: 'Retried requests answered from their Idempotency-Key record, publishing nothing', registers: [registry] });
  const unrecorded = new Counter({ name: 'fw_ingest_idempotency_unrecorded_total', help: 'Requests published whose Idempotency-Key record could not be written (a retry relies on JetStream de-duplication)', registers: [registry] });
  const budget = new BodyBudget(cfg.ingest.maxInflightBodyBytes);
  new Gauge({ name: 'fw_ingest_inflight_body_bytes', help: 'Bytes of request bodies being read or parsed now', registers: [registry], collect() { this.set(budget.heldBytes); } });
  const guard = new IdempotencyGuard(infra.idempotency, cfg.stream, cfg.ingest.idempotencyTtlSeconds * 1000);
  await infra.eventLog.ensure();
  const S = cfg.eventShards;
  const per = cfg.ingest.maxEventsPerMessage;
  // The embedded mode's in-process log carries one model; over JetStream every declared model's key.
  const keys = infra.embedded ? [shardKeyOf(cfg)] : [...new Set(cfg.models.map((m) => shardKeyOf(cfg, m.name)))];

  async function postEvents(req: import('node:http').IncomingMessage, body: Buffer): Promise<unknown> {
    const idem = idempotencyKeyOf(req);
    const contentType = String(req.headers['content-type'] ?? '');
    const parsed = parseEventsBody(body, contentType, cfg.ingest.maxEventsPerRequest);
    if (!parsed.ok) {
      const status = parsed.code === 'unsupported_media_type' ? 415 : 400;
      throw new HttpError(status, parsed.reason, parsed.rejections.length ? parsed.rejections : undefined, parsed.code);
    }
    // Only a valid request claims its key: a refused one leaves nothing behind, so the client
    // can fix the body and send it again under the same key.
    let claim: Claim | undefined;
    let scope = '';
    let bodyHash = '';
    if (idem !== undefined) {
      scope = clientScope(req);
      bodyHash = bodyHashOf(body, contentType.split(';')[0].trim().toLowerCase());
      const r = await guard.begin(scope, idem, bodyHash);
      if (r.kind === 'replay') {
        replayed.inc();
        return new HttpReply(r.response, { 'idempotent-replayed': 'true' });
      }
      claim = r;
    }
    let done = false;
    try {
      const out = await publishEvents(parsed.events, idem === undefined ? undefined : `${scope}/${idem}/${bodyHash}`);
      if (claim && !(await claim.complete(out))) {
        unrecorded.inc();
        log.warn('published, but the Idempotency-Key record could not be written');
      }
      done = true;
      return out;
    } finally {
      // Not recorded as done, so that a retry with the same key publishes (again).
      if (claim && !done) await claim.release();
    }
  }

  /** Publishes a valid request's events; `dedupeId` (scope, key, body) names its messages for JetStream. */
  async function publishEvents(events: FlywheelEvent[], dedupeId: string | undefined): Promise<{ accepted: number; acceptedAtMs: number }> {
    const acceptedAtMs = Date.now();
    const t0 = performance.now();
    const publishes: Promise<void>[] = [];
    for (const key of keys) {
      const byShard: FlywheelEvent[][] = Array.from({ length: S }, () => []);
      for (const e of events) byShard[eventShardOf(key === 'user' ? e.userId : e.itemId, S)].push(e);
      for (let s = 0; s < S; s++) {
        const evs = byShard[s];
        for (let i = 0, part = 0; i < evs.length; i += per, part++) {
          const msg: EventBatchMessage = { acceptedAtMs, events: evs.slice(i, i + per) };
          // The second line of defence behind the key's record: a retried request maps to the
          // same message ids (per client, key and body), which JetStream's duplicate window
          // drops, e.g. what a request that failed halfway had published.
          const msgId = dedupeId !== undefined ? createHash('sha1').update(`${dedupeId}/${key}/${s}/${part}`).digest('hex') : undefined;
          publishes.push(infra.eventLog.publish(s, encode(msg), msgId, key));
        }
      }
    }
    try {
      await Promise.all(publishes);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'publish to the event stream failed');
      throw new HttpError(503, 'the event stream is unavailable; retry with the same Idempotency-Key');
    }
    publishSeconds.observe((performance.now() - t0) / 1000);
    accepted.inc(events.length);
    acceptedTotal += events.length;
    return { accepted: events.length, acceptedAtMs };
  }

  // Forgetting a user destroys data: it takes a token even where other writes need none
  // (http.auth auto on loopback), unless auth is off outright.
  const tokens = http.tokens ?? loadApiTokens();
  const forgotten = new Counter({ name: 'fw_ingest_users_forgotten_total', help: 'DELETE /v1/users/{id} requests carried out', registers: [registry] });
  async function deleteUser(req: import('node:http').IncomingMessage): Promise<unknown> {
    if (cfg.http.auth !== 'off') {
      if (tokens.size === 0) throw new HttpError(403, 'forgetting a user needs an API token: set FLYWHEEL_API_TOKENS (or FLYWHEEL_API_TOKENS_FILE) and send it as Authorization: Bearer <token>', undefined, 'token_required');
      if (!presentedTokens(req).some((t) => tokens.matches(t))) throw new HttpError(401, 'a valid API token is required (Authorization: Bearer <token> or X-Api-Key)', undefined, 'unauthorized');
    }
    let userId: string;
    try {
      userId = cleanIdString(pathSegment(req, 2), 'userId', EVENT_LIMITS.maxIdChars);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    const report = await forgetUser(userId, { cfg, infra });
    forgotten.inc();
    log.info({ userHash: report.userHash, events: report.events, models: report.models }, 'user forgotten');
    return { userId, ...report };
  }

  let acceptedTotal = 0;
  const port = portOverride ?? cfg.ingest.port;
  const server = await startHttpServer({
    port, registry, maxBodyBytes: cfg.ingest.maxBodyBytes, bodyBudget: budget,
    host: http.host, requestTimeoutMs: http.requestTimeoutMs, headersTimeoutMs: http.headersTimeoutMs,
    // POST /v1/events is a write: a token where ingest is reachable from other machines (http.auth).
    auth: { ...httpAuthOf(cfg), tokens: http.tokens },
    metrics: cfg.ingest.metricsPort ? { port: cfg.ingest.metricsPort, host: cfg.http.metricsHost } : undefined,
    onWarning: (msg) => log.warn(msg),
    routes: { 'POST /v1/events': postEvents, 'DELETE /v1/users/{id}': deleteUser },
    docs: INGEST_ROUTE_DOCS, openapi: { title: 'Flywheel ingest' },
    ready: () => eventLogReadiness(infra),
    onError: (e) => log.error({ err: String(e) }, 'http'),
    // Every refusal is counted by its code, including 413 and 408 raised before the route runs
    // and 401 (unauthorized) raised before the body is read.
    onRefused: (e) => rejected.inc({ reason: e.code }),
  });
  const actualPort = (server.address() as import('node:net').AddressInfo).port;
  const metricsServer = metricsServerOf(server);
  const metricsPort = metricsServer ? (metricsServer.address() as import('node:net').AddressInfo).port : null;
  log.info({ port: actualPort, metricsPort, eventShards: S, stream: cfg.stream, shardKeys: keys, models: cfg.models.map((m) => m.name) }, 'ingest running');
  // Ingest feeds every model of the config; its heartbeat goes out under the first one's name.
  const heartbeat = startHeartbeat(infra.transport, { service: 'ingest', model: cfg.model, instance: 'ingest', stats: () => ({ eventsAccepted: acceptedTotal }) });
  return { port: actualPort, metricsPort, bodyBudget: budget, stop: () => { heartbeat.stop(); return closeServer(server); } };
}

// A small HTTP layer over node:http for the services' APIs: JSON in and out, a body size
// limit, a budget of body bytes held at once over all requests, request timeouts, and errors
// that say what was wrong without leaking internals. Routes that change state need an API
// token where the server is reachable from other machines (shared/http-auth.ts).
import { STATUS_CODES as NODE_STATUS, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readEnv } from './env.ts';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { buildOpenApi, packageVersion, type OpenApiInfo, type RouteDocs } from './openapi.ts';
import { resolveHttpAuth, type HttpAuthOptions } from './http-auth.ts';

/** A refusal the client should see: status, a reason, and a short machine code (also a metric label). */
export class HttpError extends Error {
  readonly code: string;
  /** Extra response headers, e.g. Retry-After on a 503 or 409. */
  constructor(readonly status: number, message: string, readonly details?: unknown, code?: string, readonly headers?: Record<string, string>) {
    super(message);
    this.code = code ?? STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'bad_request');
  }
}

/** What a route returns when its answer needs headers of its own (or a status other than 200). */
export class HttpReply {
  constructor(readonly body: unknown, readonly headers: Record<string, string> = {}, readonly status = 200) {}
}

/**
 * Bytes of request bodies held at once over every request of a server: taken as a body's bytes
 * arrive, given back when its route has answered (the route parses the body, which costs a few
 * times its size). A limit per body alone lets N concurrent bodies take N times the limit;
 * past the budget a request is refused (503, Retry-After) instead of taking memory the process
 * may not have. Bytes are taken as they arrive, not as Content-Length announces them, so a
 * client that announces a large body and sends nothing holds nothing.
 */
export class BodyBudget {
  private held = 0;
  private readonly listeners = new Set<(heldBytes: number) => void>();
  constructor(readonly limitBytes: number) {
    if (!(limitBytes > 0)) throw new RangeError(`a body budget must be positive, got ${limitBytes}`);
  }
  get heldBytes(): number { return this.held; }

  /** Resolves once the bytes held satisfy `cond` (now or at a later take or release). */
  until(cond: (heldBytes: number) => boolean): Promise<void> {
    if (cond(this.held)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (held: number) => { if (cond(held)) { this.listeners.delete(check); resolve(); } };
      this.listeners.add(check);
    });
  }

  private changed(): void {
    if (this.listeners.size) for (const l of [...this.listeners]) l(this.held);
  }
  /** A request's share: take() as bytes arrive, release() (idempotent) when it has been answered. */
  hold(): BodyHold {
    let mine = 0;
    return {
      take: (n) => {
        if (this.held + n > this.limitBytes) return false;
        this.held += n;
        mine += n;
        this.changed();
        return true;
      },
      fits: (n) => this.held + n <= this.limitBytes,
      release: () => {
        if (!mine) return;
        this.held -= mine;
        mine = 0;
        this.changed();
      },
    };
  }
}

export interface BodyHold {
  /** Takes n more bytes for this request; false (nothing taken) when the budget has no room. */
  take(n: number): boolean;
  /** Whether n more bytes would fit now. */
  fits(n: number): boolean;
  release(): void;
}

const overBudget = (limit: number) => new HttpError(
  503, `the server is reading too many request bodies at once (over its budget of ${limit} bytes); retry shortly`, undefined, 'overloaded', { 'retry-after': '1' },
);

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 404: 'not_found', 405: 'method_not_allowed', 408: 'request_timeout',
  413: 'payload_too_large', 415: 'unsupported_media_type', 503: 'unavailable',
};

export type Handler = (req: IncomingMessage, body: Buffer) => Promise<unknown> | unknown;

/** Segment `i` of the request's path (0 = the first after "/"), percent-decoded; for routes with a {name} segment. */
export function pathSegment(req: Pick<IncomingMessage, 'url'>, i: number): string {
  const seg = (req.url ?? '/').split('?')[0].split('/')[i + 1] ?? '';
  try {
    return decodeURIComponent(seg);
  } catch {
    throw new HttpError(400, 'the path is not valid percent-encoding');
  }
}

export interface HttpServerOptions {
  port: number;
  host?: string;
  /** Largest request body accepted; larger ones get 413. Default 1048576 bytes (1 MiB). */
  maxBodyBytes?: number;
  /** Bytes of bodies held at once over all requests (see BodyBudget); past it, 503. Default: no budget. */
  bodyBudget?: BodyBudget;
  /** Whole-request deadline (headers and body); a client slower than this gets 408. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Deadline for the request headers. Default min(requestTimeoutMs, 10000) ms. */
  headersTimeoutMs?: number;
  registry?: Registry;
  /** Answers /healthz (liveness: restart the process when false): true = 200, false = 503. */
  healthy?: () => boolean;
  /**
   * Answers /readyz (readiness: send traffic only when ready): true = 200 { ready: true }; a
   * string, the reason it is not ready, = 503 { ready: false, reason }. An unhealthy service is
   * never ready. Default: ready when healthy.
   */
  ready?: () => true | string;
  routes?: Record<string, Handler>;
  /**
   * Routes that write their own response (a page, a script, a server-sent event stream), by
   * the same "METHOD /path" keys; they take no body.
   */
  raw?: Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;
  /** Descriptions of `routes` for GET /openapi.json, by the same keys. */
  docs?: RouteDocs;
  /** The document's title, version and description. Default: "Flywheel" and the package's version. */
  openapi?: Partial<OpenApiInfo>;
  /**
   * Who may call which route (shared/http-auth.ts): by default a token (FLYWHEEL_API_TOKENS) on
   * every POST/PUT/PATCH/DELETE route not in `queries` when the server binds outside loopback.
   */
  auth?: HttpAuthOptions;
  /** Routes of `routes` that take a body but only read (a query): never writes for `auth`. */
  queries?: readonly string[];
  /**
   * Serve /metrics from a second listener on this port (host default 127.0.0.1) instead of the
   * main one, so that the scrape can stay on a private interface while the API is public.
   * Port 0 picks a free one (metricsServerOf tells which). Default: /metrics on the main port.
   */
  metrics?: { port: number; host?: string };
  /** Warnings at start (auth off on a public bind). Default process.emitWarning. */
  onWarning?: (message: string) => void;
  /** Unexpected failures (answered with 500 "internal error"). */
  onError?: (err: unknown) => void;
  /** Every refusal, including those made before a route runs (413, 408, unparsable requests). */
  onRefused?: (err: HttpError, route: string) => void;
}

/**
 * Reads a body up to maxBytes, its bytes taken from `hold` (a BodyBudget's) as they arrive.
 * Past the limit (413) or the budget (503) the rest is discarded, not buffered.
 */
export function readBody(req: IncomingMessage, maxBytes: number, hold?: BodyHold, budgetBytes = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) {
      reject(new HttpError(413, `body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
      req.resume();
      return;
    }
    // A body announced larger than the room left is refused before a byte of it is read.
    if (hold && declared > 0 && !hold.fits(declared)) {
      reject(overBudget(budgetBytes));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    const refuse = (err: HttpError) => {
      // Keep reading (and dropping) so the client can read the answer instead of a reset;
      // the request timeout still bounds a client that never stops sending.
      req.off('data', onData);
      chunks.length = 0;
      req.resume();
      reject(err);
    };
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) {
        refuse(new HttpError(413, `body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      if (hold && !hold.take(c.length)) {
        refuse(overBudget(budgetBytes));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => { if (!req.complete) reject(new HttpError(400, 'the request was aborted before its body ended')); });
  });
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json', close = false, extra?: Record<string, string>): void {
  if (res.headersSent) return;
  const text = contentType === 'application/json' ? JSON.stringify(body) : String(body);
  const headers: Record<string, string | number> = { ...extra, 'content-type': contentType, 'content-length': Buffer.byteLength(text) };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

const printable = (s: string, max = 100) => (s.length > max ? `${s.slice(0, max)}...` : s);

/** What /readyz answers: the health check first, then the service's own rule. */
export function readiness(o: Pick<HttpServerOptions, 'healthy' | 'ready'>): { status: number; body: { ready: true } | { ready: false; reason: string } } {
  let reason: true | string = o.healthy && !o.healthy() ? 'not healthy (see /healthz)' : true;
  if (reason === true && o.ready) reason = o.ready();
  return reason === true ? { status: 200, body: { ready: true } } : { status: 503, body: { ready: false, reason } };
}

/** The refusal of a request without a valid token: one message whatever was missing or wrong. */
const unauthorized = () => new HttpError(
  401, 'this route needs a valid API token: send "Authorization: Bearer <token>" or "X-Api-Key: <token>"', undefined, 'unauthorized',
  { 'www-authenticate': 'Bearer realm="flywheel"' },
);

export async function startHttpServer(o: HttpServerOptions): Promise<Server> {
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;
  // Loopback unless told otherwise (FLYWHEEL_HTTP_HOST=0.0.0.0 in a container).
  const host = o.host ?? readEnv().httpHost ?? '127.0.0.1';
  const metricsHere = o.registry !== undefined && !o.metrics;
  // Decided once, by the address bound, not by where a request comes from: a proxy in front
  // makes every request look local. Throws when a route needs a token and none is configured.
  const served = [...Object.keys(o.routes ?? {}), ...Object.keys(o.raw ?? {}), ...(metricsHere ? ['GET /metrics'] : [])];
  const auth = resolveHttpAuth(o.auth, host, served, o.queries, o.onWarning);
  // Routes with a {name} segment ("DELETE /v1/users/{id}") match any one non-empty segment
  // there; the handler reads it from req.url (pathSegment).
  const templates = Object.keys(o.routes ?? {}).filter((k) => k.includes('{')).map((k) => ({
    key: k,
    re: new RegExp(`^${k.split('/').map((seg) => (/^\{[A-Za-z]+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`),
  }));
  const routeKeyOf = (key: string): string => (o.routes?.[key] || !templates.length ? key : templates.find((t) => t.re.test(key))?.key ?? key);
  // Built once: the routes are fixed when the server starts, and a malformed key fails the start.
  const openapi = buildOpenApi({ title: 'Flywheel', version: packageVersion(), ...o.openapi }, Object.keys(o.routes ?? {}), o.docs, metricsHere, (k) => auth.protects(k));
  const requestTimeout = o.requestTimeoutMs ?? 30_000;
  const server = createServer({
    requestTimeout,
    headersTimeout: o.headersTimeoutMs ?? Math.min(requestTimeout, 10_000),
    // Node checks the timeouts above only this often (default 30 s): keep it below them.
    connectionsCheckingInterval: Math.max(20, Math.min(1000, Math.floor(requestTimeout / 4))),
  }, async (req, res) => {
    // Whether the server drains is read when the answer goes out: it may start meanwhile.
    const reply = (status: number, out: unknown, contentType?: string, close = false, headers?: Record<string, string>): void =>
      send(res, status, out, contentType, close || draining.has(server), headers);
    // This request's share of the body budget, given back once it has been answered.
    const hold = o.bodyBudget?.hold();
    const path = (req.url ?? '/').split('?')[0];
    const key = routeKeyOf(`${req.method} ${path}`);
    try {
      if (key === 'GET /metrics' && metricsHere && o.registry) {
        if (auth.protects(key) && !auth.allows(req)) throw unauthorized();
        reply(200, await o.registry.metrics(), o.registry.contentType);
        return;
      }
      if (key === 'GET /healthz') {
        const ok = o.healthy ? o.healthy() : true;
        reply(ok ? 200 : 503, { ok });
        return;
      }
      if (key === 'GET /readyz') {
        const r = readiness(o);
        reply(r.status, r.body);
        return;
      }
      if (key === 'GET /openapi.json') {
        reply(200, openapi);
        return;
      }
      const rawRoute = o.raw?.[key];
      // Before a byte of the body is read: a refused request holds no memory and changes nothing.
      if ((rawRoute || o.routes?.[key]) && auth.protects(key) && !auth.allows(req)) throw unauthorized();
      if (rawRoute) {
        await rawRoute(req, res);
        return;
      }
      const route = o.routes?.[key];
      if (!route) {
        const known = Object.keys(o.routes ?? {}).some((k) => k.endsWith(` ${path}`));
        throw new HttpError(known ? 405 : 404, known ? `method ${printable(req.method ?? '')} not allowed on ${printable(path)}` : `no route ${printable(path)}`);
      }
      const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req, maxBody, hold, o.bodyBudget?.limitBytes) : Buffer.alloc(0);
      const out = await route(req, body);
      if (out instanceof HttpReply) reply(out.status, out.body, undefined, false, out.headers);
      else reply(200, out);
    } catch (err) {
      if (err instanceof HttpError) {
        if (req.socket.destroyed) return; // timed out or aborted: already answered and counted
        o.onRefused?.(err, key);
        // An unread body (413) makes the connection unusable for another request.
        reply(err.status, { error: err.message, code: err.code, ...(err.details ? { details: err.details } : {}) }, 'application/json', !req.complete, err.headers);
      } else {
        o.onError?.(err);
        reply(500, { error: 'internal error', code: 'internal' });
      }
    } finally {
      hold?.release();
    }
  });
  // Timeouts and unparsable requests never reach the handler: answer and count them here.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
    const e = timeout
      ? new HttpError(408, `the request did not arrive within ${requestTimeout} ms`)
      : new HttpError(err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400, 'malformed HTTP request', undefined, err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_request');
    // A socket already closed (the client left, or a timeout was answered) is no new refusal.
    if (!socket.writable || (socket as { _httpMessage?: ServerResponse })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    o.onRefused?.(e, '');
    const text = JSON.stringify({ error: e.message, code: e.code });
    socket.end(`HTTP/1.1 ${e.status} ${NODE_STATUS[e.status] ?? 'Bad Request'}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  });
  server.keepAliveTimeout = 5_000;
  await listen(server, o.port, host);
  if (o.metrics && o.registry) {
    try {
      metricsServers.set(server, await startMetricsServer(o.registry, o.metrics.port, o.metrics.host ?? '127.0.0.1'));
    } catch (err) {
      server.close();
      throw err;
    }
  }
  return server;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

/** The second listeners of servers started with `metrics`: closed with them. */
const metricsServers = new WeakMap<Server, Server>();

/** The separate /metrics listener of a server started with `metrics`, if any. */
export function metricsServerOf(s: Server): Server | undefined {
  return metricsServers.get(s);
}

/** GET /metrics and nothing else; its bind address is what keeps the scrape private. */
async function startMetricsServer(registry: Registry, port: number, host: string): Promise<Server> {
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 10_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      send(res, 404, { error: `no route ${printable(path)} (this listener serves GET /metrics only)`, code: 'not_found' });
      return;
    }
    registry.metrics().then(
      (text) => send(res, 200, text, registry.contentType),
      () => send(res, 500, { error: 'internal error', code: 'internal' }),
    );
  });
  server.keepAliveTimeout = 5_000;
  await listen(server, port, host);
  return server;
}

/** Servers that are draining: their answers say `connection: close`. */
const draining = new WeakSet<Server>();

/**
 * Drains, then closes: stops accepting connections at once, closes idle keep-alive ones, lets
 * requests in flight finish (their answers close the connection) for up to `drainMs`, then
 * cuts whatever is left. A client whose request was accepted gets its answer, not a reset.
 */
export function closeServer(s: Server | undefined, drainMs = 5000): Promise<void> {
  if (!s) return Promise.resolve();
  const metrics = metricsServers.get(s);
  if (metrics) {
    metricsServers.delete(s);
    return Promise.all([closeServer(metrics, drainMs), closeServer(s, drainMs)]).then(() => undefined);
  }
  draining.add(s);
  return new Promise((r) => {
    const cut = setTimeout(() => s.closeAllConnections(), drainMs);
    cut.unref();
    s.close(() => { clearTimeout(cut); r(); });
    s.closeIdleConnections();
  });
}

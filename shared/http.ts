// A small HTTP layer over node:http for the services' APIs: JSON in and out, a body size
// limit, request timeouts, and errors that say what was wrong without leaking internals.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly details?: unknown) {
    super(message);
  }
}

export type Handler = (req: IncomingMessage, body: Buffer) => Promise<unknown> | unknown;

export interface HttpServerOptions {
  port: number;
  host?: string;
  maxBodyBytes?: number;
  /** Whole-request deadline. Default 30000 ms. */
  requestTimeoutMs?: number;
  registry?: Registry;
  /** Answers /healthz: true = 200, false = 503. */
  healthy?: () => boolean;
  routes?: Record<string, Handler>;
  onError?: (err: unknown) => void;
}

export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) {
      reject(new HttpError(413, `body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > maxBytes) {
        reject(new HttpError(413, `body exceeds the limit of ${maxBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  if (res.headersSent) return;
  const text = contentType === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startHttpServer(o: HttpServerOptions): Promise<Server> {
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const key = `${req.method} ${path}`;
    try {
      if (key === 'GET /metrics' && o.registry) {
        send(res, 200, await o.registry.metrics(), o.registry.contentType);
        return;
      }
      if (key === 'GET /healthz') {
        const ok = o.healthy ? o.healthy() : true;
        send(res, ok ? 200 : 503, { ok });
        return;
      }
      const route = o.routes?.[key];
      if (!route) {
        const known = Object.keys(o.routes ?? {}).some((k) => k.endsWith(` ${path}`));
        throw new HttpError(known ? 405 : 404, known ? `method ${req.method} not allowed on ${path}` : `no route ${path}`);
      }
      const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req, maxBody) : Buffer.alloc(0);
      send(res, 200, await route(req, body));
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, err.status, { error: err.message, ...(err.details ? { details: err.details } : {}) });
      } else {
        o.onError?.(err);
        send(res, 500, { error: 'internal error' });
      }
    }
  });
  server.requestTimeout = o.requestTimeoutMs ?? 30_000;
  server.headersTimeout = Math.min(server.requestTimeout, 10_000);
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback unless told otherwise (FLYWHEEL_HTTP_HOST=0.0.0.0 in a container).
    server.listen(o.port, o.host ?? process.env.FLYWHEEL_HTTP_HOST ?? '127.0.0.1', () => resolve());
  });
  return server;
}

export function closeServer(s: Server | undefined): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise((r) => { s.close(() => r()); s.closeAllConnections?.(); });
}

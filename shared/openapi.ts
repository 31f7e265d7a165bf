// The OpenAPI 3.1 document of one service, built from the routes it registers and the
// descriptions registered beside them, so the document cannot list a route the service does
// not answer, and a route without a description still appears (flagged) rather than vanishes.
import { readFileSync } from 'node:fs';

export type JsonSchema = Record<string, unknown>;

/** The package's version, for the document's info; "0.0.0" where package.json is not shipped. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** How one route is called and what it answers: what a client generator needs. */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** JSON Schema of the request body; absent for a route that takes none. */
  request?: JsonSchema;
  /** Media types the body may come in besides application/json (same schema). */
  requestMediaTypes?: string[];
  /** JSON Schema of the 200 answer. */
  response: JsonSchema;
  /**
   * Answers particular to this route besides 200 (status: when, with the body's schema when it
   * is not the Error schema), beside the 4XX/5XX every route may give.
   */
  errors?: Record<number, string | { description: string; schema: JsonSchema }>;
  /** Headers the route reads (name: what for). */
  headers?: Record<string, string>;
}

export type RouteDocs = Record<string, RouteDoc>;

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

const ERROR_REF = { $ref: '#/components/schemas/Error' };

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Every refusal: a reason for people, a stable code for programs, and for some the details (e.g. the rejected events of a request).',
  properties: {
    error: { type: 'string', description: 'What was wrong, in words' },
    code: { type: 'string', description: 'A short machine code: bad_request, not_found, method_not_allowed, payload_too_large, unsupported_media_type, request_timeout, unavailable, internal, or a route\'s own' },
    details: { description: 'Route-specific detail, e.g. per-event rejections' },
  },
  required: ['error', 'code'],
};

/** The versions behind an answer of an inference node (merged into the kinds' answers). */
export const VERSION_INFO_PROPERTIES: Record<string, JsonSchema> = {
  versions: { type: 'array', items: { type: 'integer' }, description: 'The version of each PS shard behind the answer' },
  servingCheckpoint: { type: 'integer', description: 'The validated checkpoint served, when a validation gate runs' },
  epochs: { type: 'array', items: { type: 'integer' }, description: 'Each PS shard\'s epoch, when the live replica is served' },
};

/** An object schema whose answer also names the versions it used. */
export function withVersions(s: { properties: Record<string, JsonSchema>; required?: string[]; description?: string }): JsonSchema {
  return { type: 'object', ...s, properties: { ...s.properties, ...VERSION_INFO_PROPERTIES }, required: [...(s.required ?? []), 'versions'] };
}

/** One event as ingest takes it (and the scoring routes, which fill in what they can). */
export const EVENT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    userId: { type: ['string', 'integer'], description: 'Up to 128 characters' },
    itemId: { type: ['string', 'integer'], description: 'Up to 128 characters' },
    type: { type: 'string', enum: ['view', 'click', 'cart', 'fav', 'buy', 'rating', 'return', 'transaction', 'outcome'] },
    ts: { type: 'number', description: 'Event time, milliseconds since the epoch' },
    categoryId: { type: ['string', 'integer'] },
    value: { type: 'number', description: 'A rating, a quantity: what the label rule reads' },
    context: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra categorical features, up to 64 keys' },
  },
  additionalProperties: false,
};

/** The routes startHttpServer answers itself. */
export const BUILTIN_ROUTE_DOCS: RouteDocs = {
  'GET /healthz': {
    summary: 'Liveness: the process works (restart it when this fails)',
    response: { type: 'object', properties: { ok: { type: 'boolean', const: true } }, required: ['ok'] },
    errors: { 503: { description: 'the process is not working', schema: { type: 'object', properties: { ok: { type: 'boolean', const: false } }, required: ['ok'] } } },
  },
  'GET /readyz': {
    summary: 'Readiness: the service can do its job now (send it traffic only then)',
    response: { type: 'object', properties: { ready: { type: 'boolean', const: true } }, required: ['ready'] },
    errors: {
      503: {
        description: 'not ready yet, and why',
        schema: { type: 'object', properties: { ready: { type: 'boolean', const: false }, reason: { type: 'string' } }, required: ['ready', 'reason'] },
      },
    },
  },
  'GET /openapi.json': { summary: 'This document', response: { type: 'object', description: 'An OpenAPI 3.1 document' } },
};

const METRICS_DOC: RouteDoc = { summary: 'Prometheus metrics (text exposition format)', response: { type: 'string' } };

const ROUTE_KEY = /^(GET|POST|PUT|DELETE|PATCH) (\/[A-Za-z0-9._~\-/{}]*)$/;

/** Splits a route key ("POST /v1/events") into method and path, or says why it is not one. */
export function parseRouteKey(key: string): { method: string; path: string } {
  const m = ROUTE_KEY.exec(key);
  if (!m) throw new Error(`route "${key}" is not "<METHOD> /<path>" (methods GET, POST, PUT, DELETE, PATCH)`);
  return { method: m[1], path: m[2] };
}

const operationId = (method: string, path: string) =>
  method.toLowerCase() + path.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');

/** Either header carries the token (shared/http-auth.ts). */
const TOKEN_SECURITY = [{ bearerToken: [] }, { apiKeyHeader: [] }];

function operation(method: string, path: string, doc: RouteDoc | undefined, needsToken: boolean): Record<string, unknown> {
  const d: RouteDoc = doc ?? { summary: `${method} ${path} (undocumented)`, response: {} };
  const responses: Record<string, unknown> = {};
  if (path === '/metrics') responses['200'] = { description: 'OK', content: { 'text/plain': { schema: d.response } } };
  else responses['200'] = { description: 'OK', content: { 'application/json': { schema: d.response } } };
  for (const [status, e] of Object.entries(d.errors ?? {})) {
    const { description, schema } = typeof e === 'string' ? { description: e, schema: ERROR_REF } : e;
    responses[status] = { description, content: { 'application/json': { schema } } };
  }
  if (needsToken) responses['401'] = { $ref: '#/components/responses/Unauthorized' };
  responses['4XX'] = { $ref: '#/components/responses/Refused' };
  responses['5XX'] = { $ref: '#/components/responses/Failed' };
  const op: Record<string, unknown> = { operationId: operationId(method, path), summary: d.summary, responses };
  if (needsToken) op.security = TOKEN_SECURITY;
  if (d.description) op.description = d.description;
  if (!doc) op['x-undocumented'] = true;
  const params: object[] = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  if (d.headers) params.push(...Object.entries(d.headers).map(([name, description]) => ({ name, in: 'header', required: false, description, schema: { type: 'string' } })));
  if (params.length) op.parameters = params;
  if (d.request) {
    const content: Record<string, unknown> = { 'application/json': { schema: d.request } };
    for (const t of d.requestMediaTypes ?? []) content[t] = { schema: d.request };
    op.requestBody = { required: true, content };
  }
  return op;
}

/**
 * The document of a service answering `routes` (its own route keys) beside the built-in ones;
 * `needsToken` says which routes this server guards with an API token (as it was started).
 * Throws on a malformed route key: a route the document cannot describe is a programming error.
 */
export function buildOpenApi(info: OpenApiInfo, routes: readonly string[], docs: RouteDocs = {}, withMetrics = false,
  needsToken: (key: string) => boolean = () => false): Record<string, unknown> {
  const all: RouteDocs = { ...BUILTIN_ROUTE_DOCS, ...(withMetrics ? { 'GET /metrics': METRICS_DOC } : {}) };
  const keys = [...Object.keys(all), ...routes];
  const paths: Record<string, Record<string, unknown>> = {};
  for (const key of keys) {
    const { method, path } = parseRouteKey(key);
    (paths[path] ??= {})[method.toLowerCase()] = operation(method, path, docs[key] ?? all[key], needsToken(key));
  }
  const guarded = keys.some(needsToken);
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      responses: {
        Refused: { description: 'The request was refused (bad input, unknown route, too large, too slow)', content: { 'application/json': { schema: ERROR_REF } } },
        Failed: { description: 'The service failed or a dependency is unavailable (503: retry later)', content: { 'application/json': { schema: ERROR_REF } } },
        ...(guarded ? { Unauthorized: { description: 'No valid API token (FLYWHEEL_API_TOKENS on the server)', content: { 'application/json': { schema: ERROR_REF } } } } : {}),
      },
      ...(guarded ? {
        securitySchemes: {
          bearerToken: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <token>' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      } : {}),
    },
  };
}

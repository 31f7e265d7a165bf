// How ingest's route is called, and when ingest is ready to take events.
import { EVENT_SCHEMA, NatsTransport, type Infra, type RouteDocs } from '../../shared/index.ts';

export const INGEST_ROUTE_DOCS: RouteDocs = {
  'POST /v1/events': {
    summary: 'Accepts events: all of a request or none; published to the event stream before the answer',
    description: 'A JSON array of events, { "events": [...] }, or NDJSON (one event per line). One invalid event refuses the whole request, with every rejection in details. An answer replayed for a retried Idempotency-Key carries the header Idempotent-Replayed: true.',
    request: { oneOf: [{ type: 'array', items: EVENT_SCHEMA }, { type: 'object', properties: { events: { type: 'array', items: EVENT_SCHEMA } }, required: ['events'] }] },
    requestMediaTypes: ['application/x-ndjson'],
    headers: {
      'Idempotency-Key': 'Up to 255 printable ASCII characters naming this request, bound to its body for ingest.idempotencyTtlSeconds (default a day): a retry with the same key and body gets the first answer again (header Idempotent-Replayed: true) and publishes nothing; the same key with another body is a 422; while the first is in flight, 409. Keys are per client (X-Api-Key, else Authorization; requests with neither share one scope)',
      'X-Api-Key': 'The client\'s credentials as a gateway checked them: scopes its Idempotency-Keys (else Authorization does)',
    },
    response: {
      type: 'object',
      properties: { accepted: { type: 'integer', description: 'Events published' }, acceptedAtMs: { type: 'number', description: 'When ingest accepted them (the start of freshness)' } },
      required: ['accepted', 'acceptedAtMs'],
    },
    errors: {
      400: 'invalid events (details: which and why), a malformed body, one nested too deep (too_deep) or too wide (too_wide, too_many_events), or a malformed Idempotency-Key',
      409: 'a request with this Idempotency-Key is still in flight: retry after Retry-After',
      413: 'the body or the number of events exceeds the limit',
      415: 'a content type other than JSON or NDJSON',
      422: 'this Idempotency-Key was used before with a different body (idempotency_key_reused)',
      503: 'the event stream or the idempotency store is unavailable, or too many bodies are being read at once (overloaded): retry after Retry-After with the same Idempotency-Key',
    },
  },
};

const ERASED = {
  type: 'object',
  properties: {
    scanned: { type: 'integer', description: 'Retained messages read' },
    deleted: { type: 'integer', description: 'Messages deleted (every event in them was the user\'s)' },
    mixed: { type: 'integer', description: 'Messages that hold the user\'s events beside other users\': left, they expire with the stream (retentionHours)' },
    retentionHours: { type: 'number' },
  },
  required: ['scanned', 'deleted', 'mixed', 'retentionHours'],
};

INGEST_ROUTE_DOCS['DELETE /v1/users/{id}'] = {
  summary: 'Forgets a user: their events, their rows in the PS, the store, every replica and every checkpoint; an audit record',
  description: 'Always needs an API token unless http.auth is off (403 token_required when none is configured). Idempotent: a repeat removes nothing more. Rows every user shares (items, totals, dense layers) keep the user\'s share of the aggregate. The audit record names the user by the SHA-256 of their id.',
  response: {
    type: 'object',
    properties: {
      userId: { type: 'string' }, userHash: { type: 'string', description: 'SHA-256 of the id, as the audit record keeps it' },
      requestedAtMs: { type: 'number' }, events: ERASED,
      models: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            model: { type: 'string' }, kind: { type: 'string' },
            tables: { type: 'array', items: { type: 'object', properties: { table: { type: 'string' }, rows: { type: 'integer' } }, required: ['table', 'rows'] } },
            psRowsRemoved: { type: 'integer' }, checkpointsRewritten: { type: 'integer' },
          },
          required: ['model', 'kind', 'tables', 'psRowsRemoved', 'checkpointsRewritten'],
        },
      },
    },
    required: ['userId', 'userHash', 'requestedAtMs', 'events', 'models'],
  },
  errors: {
    400: 'the id breaks the identifier rules (control, zero-width or bidi characters, too long)',
    401: 'no valid API token',
    403: 'no API token is configured on this server (token_required)',
    503: 'a PS shard did not answer: the events are deleted; repeat the request to remove the rows',
  },
};

/**
 * Ready while the NATS connection is up (the stream was ensured before the server started);
 * a reconnecting client would only time out publishes. The in-process transport is always up.
 */
export function eventLogReadiness(infra: Pick<Infra, 'transport'>): true | string {
  const t = infra.transport;
  if (!(t instanceof NatsTransport)) return true;
  if (t.nc.isClosed()) return 'the NATS connection is closed';
  return t.connected ? true : 'the NATS connection is down (reconnecting)';
}

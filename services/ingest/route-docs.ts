// How ingest's route is called, and when ingest is ready to take events.
import { EVENT_SCHEMA, NatsTransport, type Infra, type RouteDocs } from '../../shared/index.ts';

export const INGEST_ROUTE_DOCS: RouteDocs = {
  'POST /v1/events': {
    summary: 'Accepts events: all of a request or none; published to the event stream before the answer',
    description: 'A JSON array of events, { "events": [...] }, or NDJSON (one event per line). One invalid event refuses the whole request, with every rejection in details.',
    request: { oneOf: [{ type: 'array', items: EVENT_SCHEMA }, { type: 'object', properties: { events: { type: 'array', items: EVENT_SCHEMA } }, required: ['events'] }] },
    requestMediaTypes: ['application/x-ndjson'],
    headers: { 'Idempotency-Key': 'A retried request with the same key is not published twice (within the stream\'s duplicate window)' },
    response: {
      type: 'object',
      properties: { accepted: { type: 'integer', description: 'Events published' }, acceptedAtMs: { type: 'number', description: 'When ingest accepted them (the start of freshness)' } },
      required: ['accepted', 'acceptedAtMs'],
    },
    errors: {
      400: 'invalid events (details: which and why) or a malformed body',
      413: 'the body or the number of events exceeds the limit',
      415: 'a content type other than JSON or NDJSON',
      503: 'the event stream is unavailable: retry with the same Idempotency-Key',
    },
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

// Parses a request body of events (a JSON array, or NDJSON: one object per line) and
// validates every event. Returns the clean events or the reasons, per event index.
import { BadEventError, EVENT_LIMITS, validateEvent, type FlywheelEvent } from '../../shared/index.ts';
import { checkJsonShape, type ShapeRefusal } from './json-shape.ts';

export interface Rejection { index: number; reason: string }
/** Why a body was refused, as a short code: the HTTP error code and the rejection metric's label. */
export type RefusalCode = 'malformed_body' | 'invalid_event' | 'unsupported_media_type' | ShapeRefusal['code'];
export type ParseResult =
  | { ok: true; events: FlywheelEvent[] }
  | { ok: false; code: RefusalCode; reason: string; rejections: Rejection[] };

const refuse = (code: RefusalCode, reason: string, rejections: Rejection[] = []): ParseResult => ({ ok: false, code, reason, rejections });

const MAX_REASONS = 100;
/** A valid event is at most 3 deep (array, event, context); the slack lets a context value
 *  that is an object still get its per-event reason. */
export const MAX_JSON_DEPTH = 8;
/** An event has 7 fields and a context up to 64 keys; twice that leaves the per-event reasons to validateEvent. */
export const MAX_JSON_MEMBERS = 2 * EVENT_LIMITS.maxContextKeys;

export function parseEventsBody(body: Buffer, contentType: string, maxEvents: number, nowMs = Date.now()): ParseResult {
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (!type) return refuse('unsupported_media_type', 'content type is missing: use application/json or application/x-ndjson');
  const json = type === 'application/json';
  if (!json && type !== 'application/x-ndjson' && type !== 'application/ndjson') {
    return refuse('unsupported_media_type', `unsupported content type "${type.slice(0, 60)}": use application/json or application/x-ndjson`);
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return refuse('unsupported_media_type', `charset "${charset.slice(0, 40)}" is not supported: send UTF-8`);
  }
  // Before decoding: a body whose shape no valid request has is refused without building it.
  const shape = checkJsonShape(body, !json, { maxDepth: MAX_JSON_DEPTH, maxTopLevelItems: maxEvents, maxMembers: MAX_JSON_MEMBERS });
  if (shape) return refuse(shape.code, shape.reason);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return refuse('malformed_body', 'body is not valid UTF-8');
  }
  if (text.trim() === '') return refuse('malformed_body', 'body is empty: no events');
  let raws: unknown[];
  if (json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return refuse('malformed_body', `malformed JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed)) return refuse('malformed_body', 'body must be a JSON array of events');
    raws = parsed;
  } else {
    raws = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line) continue;
      try {
        raws.push(JSON.parse(line));
      } catch (err) {
        return refuse('malformed_body', `malformed JSON on line ${i + 1}: ${(err as Error).message}`);
      }
      if (raws.length > maxEvents) break;
    }
  }
  if (raws.length === 0) return refuse('malformed_body', 'no events in the body');
  if (raws.length > maxEvents) return refuse('too_many_events', `more than ${maxEvents} events in one request`);
  const events: FlywheelEvent[] = [];
  const rejections: Rejection[] = [];
  let rejected = 0;
  for (let i = 0; i < raws.length; i++) {
    try {
      events.push(validateEvent(raws[i], nowMs));
    } catch (err) {
      rejected++;
      if (rejections.length < MAX_REASONS) rejections.push({ index: i, reason: err instanceof BadEventError ? err.message : 'invalid event' });
    }
  }
  if (rejected) return refuse('invalid_event', `${rejected} of ${raws.length} events are invalid; nothing was accepted`, rejections);
  return { ok: true, events };
}

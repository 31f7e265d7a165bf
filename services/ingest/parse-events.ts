// Parses a request body of events (a JSON array, or NDJSON: one object per line) and
// validates every event. Returns the clean events or the reasons, per event index.
import { BadEventError, validateEvent, type FlywheelEvent } from '../../shared/index.ts';

export interface Rejection { index: number; reason: string }
export type ParseResult = { ok: true; events: FlywheelEvent[] } | { ok: false; reason: string; rejections: Rejection[] };

const MAX_REASONS = 100;

export function parseEventsBody(body: Buffer, contentType: string, maxEvents: number, nowMs = Date.now()): ParseResult {
  const type = contentType.split(';')[0].trim().toLowerCase();
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return { ok: false, reason: 'body is not valid UTF-8', rejections: [] };
  }
  let raws: unknown[];
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `malformed JSON: ${(err as Error).message}`, rejections: [] };
    }
    if (!Array.isArray(parsed)) return { ok: false, reason: 'body must be a JSON array of events', rejections: [] };
    raws = parsed;
  } else if (type === 'application/x-ndjson' || type === 'application/ndjson') {
    raws = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line) continue;
      try {
        raws.push(JSON.parse(line));
      } catch (err) {
        return { ok: false, reason: `malformed JSON on line ${i + 1}: ${(err as Error).message}`, rejections: [] };
      }
      if (raws.length > maxEvents) break;
    }
  } else {
    return { ok: false, reason: `unsupported content type "${type.slice(0, 60)}": use application/json or application/x-ndjson`, rejections: [] };
  }
  if (raws.length === 0) return { ok: false, reason: 'no events in the body', rejections: [] };
  if (raws.length > maxEvents) return { ok: false, reason: `more than ${maxEvents} events in one request`, rejections: [] };
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
  if (rejected) return { ok: false, reason: `${rejected} of ${raws.length} events are invalid; nothing was accepted`, rejections };
  return { ok: true, events };
}

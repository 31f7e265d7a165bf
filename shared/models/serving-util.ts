// Small helpers every kind's serving plugin uses.
import { HttpError } from '../http.ts';

/** The request body as a JSON object, or a 400 saying why not. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `malformed JSON: ${(err as Error).message}`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new HttpError(400, 'body must be a JSON object');
  return o as Record<string, unknown>;
}

/** The body's `events` array: at least one (a `noun`) and at most maxBatch, or a 400 saying which. */
export function requestEvents(o: Record<string, unknown>, maxBatch: number, noun: string): unknown[] {
  if (!Array.isArray(o.events) || o.events.length === 0) throw new HttpError(400, `body must be { "events": [ ... ] } with at least one ${noun}`);
  if (o.events.length > maxBatch) throw new HttpError(400, `more than ${maxBatch} events in one request`);
  return o.events;
}

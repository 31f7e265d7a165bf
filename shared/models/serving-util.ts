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

// Idempotency-Key, as Stripe's API has it: a key names one request, bound to its body. The
// first request with a key claims it; once it succeeded its answer is kept (with the body's
// hash) for ingest.idempotencyTtlSeconds. Then:
// - a retry (same key, same body) gets that answer again with `Idempotent-Replayed: true`
//   and publishes nothing, whatever JetStream's duplicate window (120 s) says;
// - the same key with another body is a client bug: 422, nothing published;
// - the same key while the first request is still in flight: 409, retry later;
// - a request that failed (503, nothing or only part published) leaves no record, so its
//   retry does the work (JetStream's msgId de-duplication drops what the failed one did
//   publish, within its window).
// Keys are per client: a request's X-Api-Key or Authorization header, hashed, is its scope; a
// request with neither shares one scope with every other such request.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError, type IdempotencyStore } from '../../shared/index.ts';

/** Longest key (Stripe's limit). */
export const MAX_IDEMPOTENCY_KEY_CHARS = 255;
/**
 * How long a claim of a request in flight lasts: longer than any request takes (the body within
 * 30 s, then the publish), short enough that a key whose ingest died mid-request is free again
 * soon. A retry in between gets 409.
 */
export const PENDING_LEASE_MS = 60_000;
/** The scope of requests without credentials (a hashed scope is 32 hex digits, never this). */
export const SHARED_SCOPE = 'shared';

/** Printable ASCII, no space at either end (HTTP trims those anyway). */
const KEY_RE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** The request's Idempotency-Key, undefined without one; a malformed key is a 400. */
export function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const bad = (why: string) => new HttpError(400, `Idempotency-Key ${why}`, undefined, 'invalid_idempotency_key');
  // Node joins repeated headers with ", ": two keys on one request name no single request.
  if (typeof raw !== 'string' || raw.length === 0) throw bad('is empty');
  if (raw.length > MAX_IDEMPOTENCY_KEY_CHARS) throw bad(`is longer than ${MAX_IDEMPOTENCY_KEY_CHARS} characters`);
  if (!KEY_RE.test(raw)) throw bad('must be printable ASCII (e.g. a UUID)');
  return raw;
}

/**
 * Whose keys these are: a hash of the credentials the request carries (the API key, else the
 * Authorization header), so two clients cannot replay or block each other's keys; ingest does
 * not check them itself (a gateway in front does). A client whose Authorization changes
 * between retries (a refreshed token) lands in another scope: it should send X-Api-Key.
 */
export function clientScope(req: IncomingMessage): string {
  const cred = req.headers['x-api-key'] ?? req.headers.authorization;
  if (!cred) return SHARED_SCOPE;
  return createHash('sha256').update('flywheel-idempotency-scope\0').update(String(cred)).digest('hex').slice(0, 32);
}

/** What the record binds the key to: the body's bytes and how they are to be read. */
export function bodyHashOf(body: Buffer, mediaType: string): string {
  return createHash('sha256').update(mediaType).update('\0').update(body).digest('hex');
}

/** The request holds the key: it must complete() on success, or release() on failure. */
export interface Claim {
  kind: 'claimed';
  /** Records the answer; false if it could not be (the claim expired, or the store is down). */
  complete(response: unknown): Promise<boolean>;
  release(): Promise<void>;
}
export interface Replay { kind: 'replay'; response: unknown }

export class IdempotencyGuard {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly stream: string,
    private readonly ttlMs: number,
    private readonly leaseMs = PENDING_LEASE_MS,
  ) {}

  /** Claims the key for this request, or says why not (HttpError 409, 422 or 503), or hands back the answer to replay. */
  async begin(scope: string, key: string, bodyHash: string): Promise<Claim | Replay> {
    const token = randomUUID();
    const { store, stream } = this;
    let rec;
    try {
      rec = await store.claim(stream, scope, key, bodyHash, token, this.leaseMs);
    } catch {
      throw new HttpError(503, 'the idempotency store is unavailable; retry with the same Idempotency-Key', undefined, 'unavailable', { 'retry-after': '1' });
    }
    if (rec === null) {
      return {
        kind: 'claimed',
        complete: (response) => store.complete(stream, scope, key, token, JSON.stringify(response), this.ttlMs).catch(() => false),
        release: () => store.release(stream, scope, key, token).catch(() => undefined),
      };
    }
    if (rec.bodyHash !== bodyHash) {
      throw new HttpError(422, 'this Idempotency-Key was already used with a different body: a new request needs a new key', undefined, 'idempotency_key_reused');
    }
    if (rec.state === 'pending') {
      throw new HttpError(409, 'a request with this Idempotency-Key is still in flight; retry once it has been answered', undefined, 'idempotency_in_flight', { 'retry-after': '1' });
    }
    return { kind: 'replay', response: JSON.parse(rec.response) };
  }
}

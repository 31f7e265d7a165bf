// What ingest remembers of the requests that carried an Idempotency-Key: per key, the hash of
// the request's body and, once it succeeded, its answer, so that a retry replays the answer
// instead of publishing its events again (services/ingest/idempotency.ts has the rules). A
// record is written only by the request that claimed the key (by a token), so two ingest
// processes sharing a Redis agree on which of two concurrent requests does the work.
import { redisMasters, type RedisClient } from './redis.ts';
import { redisCall } from './redis-call.ts';
import { idempotencyKey, idempotencyKeyPattern, idempotencyPrefix } from './keys.ts';

/** A key already claimed: by a request still in flight (pending) or by one that succeeded (done). */
export type IdempotencyRecord =
  | { state: 'pending'; bodyHash: string }
  | { state: 'done'; bodyHash: string; response: string };

export interface IdempotencyStore {
  /**
   * Claims (stream, scope, key) for a request if nothing holds it: the claim is pending and
   * expires after leaseMs (a process that dies mid-request must not block its key for the
   * whole TTL). Returns null when claimed, else the record that holds the key.
   */
  claim(stream: string, scope: string, key: string, bodyHash: string, token: string, leaseMs: number): Promise<IdempotencyRecord | null>;
  /** Records the claiming request's answer for ttlMs; false when its claim was lost (it expired). */
  complete(stream: string, scope: string, key: string, token: string, response: string, ttlMs: number): Promise<boolean>;
  /** Drops a pending claim (its request failed: a retry must be able to do the work). */
  release(stream: string, scope: string, key: string, token: string): Promise<void>;
  /** Deletes every record of a stream (a fresh run starts with an empty stream). */
  deleteStream(stream: string): Promise<void>;
}

// Compare-and-act scripts: a claim only where nothing is, an answer or a release only by the
// request holding the claim.
const CLAIM = `local r = redis.call('HMGET', KEYS[1], 'state', 'hash', 'response')
if not r[1] then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'hash', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {}
end
return {r[1], r[2] or '', r[3] or ''}`;
const COMPLETE = `if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'response', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;
const RELEASE = `if redis.call('HGET', KEYS[1], 'token') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'pending' then return redis.call('DEL', KEYS[1]) end
return 0`;

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(private readonly redis: RedisClient) {}

  private run<T>(f: () => Promise<T>): Promise<T> {
    return redisCall('idempotency operation', f);
  }

  claim(stream: string, scope: string, key: string, bodyHash: string, token: string, leaseMs: number): Promise<IdempotencyRecord | null> {
    return this.run(async () => {
      const r = await this.redis.eval(CLAIM, 1, idempotencyKey(stream, scope, key), bodyHash, token, String(leaseMs)) as string[];
      if (!r.length) return null;
      return r[0] === 'done' ? { state: 'done', bodyHash: r[1], response: r[2] } : { state: 'pending', bodyHash: r[1] };
    });
  }

  complete(stream: string, scope: string, key: string, token: string, response: string, ttlMs: number): Promise<boolean> {
    return this.run(async () => (await this.redis.eval(COMPLETE, 1, idempotencyKey(stream, scope, key), token, response, String(ttlMs))) === 1);
  }

  release(stream: string, scope: string, key: string, token: string): Promise<void> {
    return this.run(async () => { await this.redis.eval(RELEASE, 1, idempotencyKey(stream, scope, key), token); });
  }

  deleteStream(stream: string): Promise<void> {
    return this.run(async () => {
      // Records have no common hash tag: on a cluster each master holds some, and SCAN sees
      // only the node it runs on. So SCAN each master, and UNLINK key by key (pipelined) on
      // that node: one UNLINK of several keys of different slots is refused (CROSSSLOT).
      for (const node of await redisMasters(this.redis)) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', idempotencyKeyPattern(stream), 'COUNT', 1000);
          if (keys.length) {
            const p = node.pipeline();
            for (const k of keys) p.unlink(k);
            await p.exec();
          }
          cursor = next;
        } while (cursor !== '0');
      }
    });
  }
}

interface MemoryEntry { state: 'pending' | 'done'; bodyHash: string; token: string; response: string; expiresAt: number }

/** The embedded mode's store: one process, so a Map; expired entries are swept as it grows. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private entries = new Map<string, MemoryEntry>();
  private nextSweep = 1024;

  /** `now` is the clock (tests move it). */
  constructor(private readonly now: () => number = Date.now) {}

  get size(): number { return this.entries.size; }

  private live(k: string): MemoryEntry | undefined {
    const e = this.entries.get(k);
    if (e && e.expiresAt <= this.now()) {
      this.entries.delete(k);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
    this.nextSweep = Math.max(1024, 2 * this.entries.size);
  }

  async claim(stream: string, scope: string, key: string, bodyHash: string, token: string, leaseMs: number): Promise<IdempotencyRecord | null> {
    const k = idempotencyKey(stream, scope, key);
    const e = this.live(k);
    if (e) return e.state === 'done' ? { state: 'done', bodyHash: e.bodyHash, response: e.response } : { state: 'pending', bodyHash: e.bodyHash };
    if (this.entries.size >= this.nextSweep) this.sweep();
    this.entries.set(k, { state: 'pending', bodyHash, token, response: '', expiresAt: this.now() + leaseMs });
    return null;
  }

  async complete(stream: string, scope: string, key: string, token: string, response: string, ttlMs: number): Promise<boolean> {
    const e = this.live(idempotencyKey(stream, scope, key));
    if (!e || e.token !== token || e.state !== 'pending') return false;
    Object.assign(e, { state: 'done', response, expiresAt: this.now() + ttlMs });
    return true;
  }

  async release(stream: string, scope: string, key: string, token: string): Promise<void> {
    const k = idempotencyKey(stream, scope, key);
    const e = this.live(k);
    if (e && e.token === token && e.state === 'pending') this.entries.delete(k);
  }

  async deleteStream(stream: string): Promise<void> {
    const prefix = idempotencyPrefix(stream);
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}

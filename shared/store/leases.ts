// Event-shard leases: a worker trains an event shard only while it holds that shard's lease.
// A lease is a key with a TTL, renewed by its holder; a worker that dies stops renewing and
// its shards become free within the TTL. Live workers heartbeat into a sorted set, so each can
// compute its fair share and give back extra shards when a new worker joins.
import type { RedisClient } from './redis.ts';
import { redisCall } from './redis-call.ts';

export interface LeaseStore {
  /** Takes the lease if free (or already ours); true when we hold it afterwards. */
  acquire(model: string, shard: number, owner: string, ttlMs: number): Promise<boolean>;
  /** Extends our lease; false when it is no longer ours (expired and taken, or lost). */
  renew(model: string, shard: number, owner: string, ttlMs: number): Promise<boolean>;
  release(model: string, shard: number, owner: string): Promise<void>;
  /** Records that `owner` is alive and returns the workers seen within ttlMs, sorted. */
  heartbeat(model: string, owner: string, ttlMs: number): Promise<string[]>;
  leave(model: string, owner: string): Promise<void>;
  deleteModel(model: string, shards: number): Promise<void>;
}

const leaseKey = (model: string, shard: number) => `fw:{${model}}:lease:${shard}`;
const workersKey = (model: string) => `fw:{${model}}:workers`;

// Compare-and-act scripts: only the holder may renew or release.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class RedisLeaseStore implements LeaseStore {
  constructor(private readonly redis: RedisClient) {}

  private run<T>(f: () => Promise<T>): Promise<T> {
    return redisCall('lease operation', f);
  }

  acquire(model: string, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    return this.run(async () => {
      const k = leaseKey(model, shard);
      if ((await this.redis.set(k, owner, 'PX', ttlMs, 'NX')) === 'OK') return true;
      return (await this.redis.eval(RENEW, 1, k, owner, String(ttlMs))) === 1;
    });
  }

  renew(model: string, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    return this.run(async () => (await this.redis.eval(RENEW, 1, leaseKey(model, shard), owner, String(ttlMs))) === 1);
  }

  release(model: string, shard: number, owner: string): Promise<void> {
    return this.run(async () => { await this.redis.eval(RELEASE, 1, leaseKey(model, shard), owner); });
  }

  heartbeat(model: string, owner: string, ttlMs: number): Promise<string[]> {
    return this.run(async () => {
      const now = Date.now();
      const k = workersKey(model);
      const res = await this.redis.multi().zadd(k, String(now), owner).zremrangebyscore(k, '0', String(now - ttlMs)).zrange(k, '0', '-1').exec();
      return ((res?.[2]?.[1] as string[]) ?? []).sort();
    });
  }

  leave(model: string, owner: string): Promise<void> {
    return this.run(async () => { await this.redis.zrem(workersKey(model), owner); });
  }

  deleteModel(model: string, shards: number): Promise<void> {
    const keys = [workersKey(model), ...Array.from({ length: shards }, (_, s) => leaseKey(model, s))];
    return this.run(async () => { await this.redis.del(...keys); });
  }
}

export class MemoryLeaseStore implements LeaseStore {
  private leases = new Map<string, { owner: string; until: number }>();
  private workers = new Map<string, number>();

  async acquire(model: string, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    const k = leaseKey(model, shard);
    const l = this.leases.get(k);
    if (l && l.until > Date.now() && l.owner !== owner) return false;
    this.leases.set(k, { owner, until: Date.now() + ttlMs });
    return true;
  }
  async renew(model: string, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    const l = this.leases.get(leaseKey(model, shard));
    if (!l || l.owner !== owner || l.until <= Date.now()) return false;
    l.until = Date.now() + ttlMs;
    return true;
  }
  async release(model: string, shard: number, owner: string): Promise<void> {
    const k = leaseKey(model, shard);
    if (this.leases.get(k)?.owner === owner) this.leases.delete(k);
  }
  async heartbeat(model: string, owner: string, ttlMs: number): Promise<string[]> {
    const now = Date.now();
    this.workers.set(`${model}/${owner}`, now);
    for (const [k, t] of this.workers) if (t < now - ttlMs) this.workers.delete(k);
    return [...this.workers.keys()].filter((k) => k.startsWith(`${model}/`)).map((k) => k.slice(model.length + 1)).sort();
  }
  async leave(model: string, owner: string): Promise<void> {
    this.workers.delete(`${model}/${owner}`);
  }
  async deleteModel(model: string): Promise<void> {
    for (const k of [...this.leases.keys()]) if (k.startsWith(`fw:{${model}}:`)) this.leases.delete(k);
    for (const k of [...this.workers.keys()]) if (k.startsWith(`${model}/`)) this.workers.delete(k);
  }
}

// ShardStore over Redis. Rows are hash fields (decimal row id -> raw float32 bytes), one hash
// per table for weights and one for optimizer slots, so a replica reads weights only.
import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError, UnavailableError } from '../errors.ts';
import { readEnv } from '../env.ts';
import { shardKeys } from './keys.ts';
import type { StoreDurability, DenseState, RowsState, ShardSnapshot, ShardStore, ShardWrite, WriteResult } from './types.ts';

/**
 * Credentials and TLS for Redis from the environment, for what the URL does not say:
 * FLYWHEEL_REDIS_USER / FLYWHEEL_REDIS_PASSWORD (an ACL user; ignored when the URL has
 * user:password@), FLYWHEEL_REDIS_TLS_CA / _CERT / _KEY (PEM files; any of them turns TLS on,
 * as a rediss:// URL does). File contents are read here and never logged.
 */
export function redisOptionsFromEnv(url: string, env: NodeJS.ProcessEnv = process.env): RedisOptions {
  const out: RedisOptions = {};
  const e = readEnv(env).redis;
  const urlHasAuth = /^rediss?(\+cluster)?:\/\/[^/]*@/.test(url);
  if (!urlHasAuth && e.password) {
    out.password = e.password;
    if (e.user) out.username = e.user;
  }
  const files: Record<string, string | undefined> = { FLYWHEEL_REDIS_TLS_CA: e.tlsCa, FLYWHEEL_REDIS_TLS_CERT: e.tlsCert, FLYWHEEL_REDIS_TLS_KEY: e.tlsKey };
  const pem = (name: string): Buffer | undefined => {
    const path = files[name];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(name, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const ca = pem('FLYWHEEL_REDIS_TLS_CA');
  const cert = pem('FLYWHEEL_REDIS_TLS_CERT');
  const key = pem('FLYWHEEL_REDIS_TLS_KEY');
  if (!cert !== !key) throw new ConfigError('FLYWHEEL_REDIS_TLS_CERT', 'a client certificate needs its key (FLYWHEEL_REDIS_TLS_KEY), and the other way round');
  if (ca || cert) out.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) };
  return out;
}

/** A connection to one Redis server or to a Redis Cluster: every store takes either. */
export type RedisClient = Redis | Cluster;

export interface RedisClusterUrl {
  nodes: { host: string; port: number }[];
  tls: boolean;
  username?: string;
  password?: string;
}

/**
 * The parts of a redis+cluster:// (or rediss+cluster://, TLS) URL: some of the cluster's
 * nodes, comma-separated host:port ([v6]:port), the client learns the rest from them;
 * user:password@ before the first as in redis://. null for a URL of one server. A Redis
 * Cluster has database 0 only, so a /db other than /0 is refused.
 */
export function parseRedisClusterUrl(url: string): RedisClusterUrl | null {
  const m = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?$/.exec(url);
  if (!m) return null;
  const [, scheme, auth, hosts, db] = m;
  if (db && db !== '/' && db !== '/0') throw new ConfigError('redisUrl', `a Redis Cluster has database 0 only, not ${db.slice(1)}`);
  const nodes = hosts.split(',').filter(Boolean).map((hp) => {
    const n = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(hp);
    if (!n || Number(n[3]) < 1 || Number(n[3]) > 65535) throw new ConfigError('redisUrl', `"${hp}" is not host:port (a redis+cluster:// URL lists its nodes as host:port,host:port)`);
    return { host: n[1] ?? n[2], port: Number(n[3]) };
  });
  if (!nodes.length) throw new ConfigError('redisUrl', 'a redis+cluster:// URL names at least one node (host:port)');
  const out: RedisClusterUrl = { nodes, tls: scheme === 'rediss' };
  if (auth !== undefined) {
    const i = auth.indexOf(':');
    const user = decodeURIComponent(i < 0 ? auth : auth.slice(0, i));
    if (i >= 0) out.password = decodeURIComponent(auth.slice(i + 1));
    if (user) out.username = user;
  }
  return out;
}

/**
 * A Redis client for a redis:// or rediss:// URL (user:password@ for an ACL user, both
 * percent-encoded), with redisOptionsFromEnv() for the rest; `opts` overrides everything.
 * A redis+cluster:// or rediss+cluster:// URL gives an ioredis Cluster over its nodes, with
 * the same options for each node's connection. Failures surface as Redis errors (WRONGPASS,
 * NOAUTH) that never carry the password.
 */
export function connectRedis(url: string, opts: RedisOptions = {}, env: NodeJS.ProcessEnv = process.env): RedisClient {
  const cluster = parseRedisClusterUrl(url);
  if (!cluster) return new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, ...redisOptionsFromEnv(url, env), ...opts });
  const fromEnv = redisOptionsFromEnv(url, env);
  // What a node's connection may not be given on a cluster (the Cluster manages it).
  const { host: _h, port: _p, path: _pa, sentinels: _s, retryStrategy: _r, enableOfflineQueue: _q, readOnly: _ro, ...rest } = opts;
  const redisOptions: ClusterOptions['redisOptions'] = {
    maxRetriesPerRequest: 2, ...fromEnv,
    ...(cluster.password !== undefined ? { password: cluster.password, ...(cluster.username ? { username: cluster.username } : {}) } : {}),
    ...(cluster.tls && !fromEnv.tls ? { tls: {} } : {}),
    ...rest,
  };
  return new Cluster(cluster.nodes, { redisOptions, enableOfflineQueue: true, scaleReads: 'master' });
}

/** The masters of a cluster (each holds its own keys: SCAN and CONFIG go to each), or the one server. */
export async function redisMasters(client: RedisClient): Promise<Redis[]> {
  if (!(client instanceof Cluster)) return [client];
  if (client.status !== 'ready') await client.ping(); // the masters are known once it is connected
  return client.nodes('master');
}

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** The Redis Cluster hash slot of a key: CRC16 (XMODEM) of its hash tag ({...}), else of the key, mod 16384. */
export function clusterKeySlot(key: string): number {
  const b = Buffer.from(key);
  let from = 0;
  let to = b.length;
  const open = b.indexOf(0x7b); // {
  if (open >= 0) {
    const close = b.indexOf(0x7d, open + 1); // }
    if (close > open + 1) { from = open + 1; to = close; }
  }
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ b[i]) & 0xff];
  return crc & 16383;
}

/**
 * The connection the client sent `key`'s commands on: the master serving its slot on a
 * cluster (from the client's slot map, as it routed them), else the one server. WAIT must go
 * there: it counts the replicas that have what that connection wrote.
 */
export function redisNodeOf(client: RedisClient, key: string): Redis | undefined {
  if (!(client instanceof Cluster)) return client;
  const nodeKey = client.slots[clusterKeySlot(key)]?.[0];
  return client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === nodeKey);
}

/** Field/value arguments per HSET command (2 per row). */
const HSET_ARGS = 8192;

const f32bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function bytesToF32(b: Buffer): Float32Array {
  // Copy: Buffer slices from ioredis are not 4-byte aligned.
  const out = new Float32Array(b.length >> 2);
  new Uint8Array(out.buffer).set(b);
  return out;
}

const NEXT_EPOCH = `local e = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if e < floor then redis.call('SET', KEYS[1], floor); e = floor end
return e`;

export interface RedisShardStoreOptions {
  /**
   * Replicas that must hold a snapshot write before it counts as done (Redis WAIT after the
   * MULTI/EXEC, on the connection that wrote it). Replication is asynchronous: without it, a
   * master killed just after acknowledging a write may be failed over to a replica that never
   * got it. 0 = do not wait. Default 0.
   */
  waitReplicas?: number;
  /** How long WAIT may take; fewer replicas by then fail the write (retried). Default 1000 ms. */
  waitTimeoutMs?: number;
}

export class RedisShardStore implements ShardStore {
  constructor(readonly redis: RedisClient, private readonly opts: RedisShardStoreOptions = {}) {}

  async write(model: string, shard: number, w: ShardWrite): Promise<WriteResult> {
    const k = shardKeys(model, shard);
    const m = this.redis.multi();
    m.hget(k.meta, 'epoch');
    if (w.full) {
      m.del(k.dense, k.denseSlots, ...w.sparse.flatMap((s) => [k.rows(s.table), k.slots(s.table)]));
    }
    for (const d of w.dense) {
      m.hset(k.dense, d.name, f32bytes(d.weights));
      if (d.slot) m.hset(k.denseSlots, d.name, f32bytes(d.slot));
    }
    for (const s of w.sparse) {
      // Evicted rows go before the writes: a row evicted and taken again since the last write is in both.
      if (s.removed?.length && !w.full) {
        const ids = Array.from(s.removed, String);
        for (let i = 0; i < ids.length; i += HSET_ARGS) {
          m.hdel(k.rows(s.table), ...ids.slice(i, i + HSET_ARGS));
          m.hdel(k.slots(s.table), ...ids.slice(i, i + HSET_ARGS));
        }
      }
      if (s.rows.length === 0) continue;
      const dim = s.weights.length / s.rows.length;
      const sw = s.slot ? s.slot.length / s.rows.length : 0; // slot floats per row: dim x the rule's slot count
      const wArgs: (string | Buffer)[] = [];
      const sArgs: (string | Buffer)[] = [];
      for (let i = 0; i < s.rows.length; i++) {
        const id = String(s.rows[i]);
        wArgs.push(id, f32bytes(s.weights.subarray(i * dim, (i + 1) * dim)));
        if (s.slot && sw) sArgs.push(id, f32bytes(s.slot.subarray(i * sw, (i + 1) * sw)));
      }
      // HSETs of at most 4,096 fields: spreading one argument list per row overflows the call
      // stack at ~100k rows (a full snapshot of a large shard).
      for (let i = 0; i < wArgs.length; i += HSET_ARGS) m.hset(k.rows(s.table), ...wArgs.slice(i, i + HSET_ARGS));
      for (let i = 0; i < sArgs.length; i += HSET_ARGS) m.hset(k.slots(s.table), ...sArgs.slice(i, i + HSET_ARGS));
    }
    const meta: (string | Buffer)[] = [
      'version', String(w.meta.version), 'epoch', String(w.meta.epoch),
      'newestAcceptedAtMs', String(w.meta.newestAcceptedAtMs), 'writtenAtMs', String(Date.now()),
      'examplesApplied', String(w.meta.examplesApplied ?? 0),
    ];
    if (w.meta.dedupe) meta.push('dedupe', Buffer.from(w.meta.dedupe));
    m.hset(k.meta, ...meta);
    const res = await this.exec(m, `write of ${model} shard ${shard}`);
    if (this.opts.waitReplicas) await this.waitReplicated(k.meta, `write of ${model} shard ${shard}`);
    const prevEpoch = res[0][1];
    return { storeWasEmpty: prevEpoch === null || prevEpoch === undefined };
  }

  /** WAIT for opts.waitReplicas replicas of what was written for `key`; fewer is a failed write. */
  private async waitReplicated(key: string, what: string): Promise<void> {
    const want = this.opts.waitReplicas!;
    const timeoutMs = this.opts.waitTimeoutMs ?? 1000;
    const node = redisNodeOf(this.redis, key);
    if (!node) throw new UnavailableError(`Redis ${what}: no connection to the master of its slot to WAIT on`);
    let got: number;
    try {
      got = Number(await node.wait(want, timeoutMs));
    } catch (err) {
      throw new UnavailableError(`Redis ${what}: WAIT failed: ${(err as Error).message}`, err);
    }
    if (got < want) throw new UnavailableError(`Redis ${what} reached ${got} of ${want} replicas within ${timeoutMs} ms (redisWaitReplicas)`);
  }

  async read(model: string, shard: number, tables: string[], withSlots: boolean): Promise<ShardSnapshot | null> {
    const k = shardKeys(model, shard);
    const m = this.redis.multi();
    m.hgetallBuffer(k.meta);
    m.hgetallBuffer(k.dense);
    if (withSlots) m.hgetallBuffer(k.denseSlots);
    for (const t of tables) {
      m.hgetallBuffer(k.rows(t));
      if (withSlots) m.hgetallBuffer(k.slots(t));
    }
    const res = await this.exec(m, `read of ${model} shard ${shard}`);
    const replies = res.map((r) => r[1] as Record<string, Buffer>);
    let i = 0;
    const metaH = replies[i++];
    if (!metaH || !metaH.version) return null;
    const denseH = replies[i++];
    const denseSlotsH = withSlots ? replies[i++] : undefined;
    const dense: DenseState[] = Object.entries(denseH).map(([name, b]) => ({
      name, weights: bytesToF32(b), slot: denseSlotsH?.[name] ? bytesToF32(denseSlotsH[name]) : undefined,
    }));
    const sparse: RowsState[] = [];
    for (const t of tables) {
      const rowsH = replies[i++];
      const slotsH = withSlots ? replies[i++] : undefined;
      sparse.push(hashToRows(t, rowsH, slotsH));
    }
    return {
      meta: {
        version: Number(metaH.version.toString()),
        epoch: Number(metaH.epoch?.toString() ?? 0),
        newestAcceptedAtMs: Number(metaH.newestAcceptedAtMs?.toString() ?? 0),
        examplesApplied: Number(metaH.examplesApplied?.toString() ?? 0),
        dedupe: metaH.dedupe ? new Uint8Array(metaH.dedupe) : undefined,
      },
      dense,
      sparse,
    };
  }

  async nextEpoch(model: string, shard: number, atLeast = 1): Promise<number> {
    try {
      // One script: the increment and the floor are one step, so two shards racing still differ.
      return Number(await this.redis.eval(NEXT_EPOCH, 1, shardKeys(model, shard).epoch, String(atLeast)));
    } catch (err) {
      throw new UnavailableError(`Redis: ${(err as Error).message}`, err);
    }
  }

  async hasSnapshot(model: string, shard: number): Promise<boolean> {
    try {
      return (await this.redis.hexists(shardKeys(model, shard).meta, 'epoch')) === 1;
    } catch (err) {
      throw new UnavailableError(`Redis: ${(err as Error).message}`, err);
    }
  }

  /** How durable the store is; on a cluster, its least durable master's setting. */
  async durability(): Promise<{ level: StoreDurability; detail: string }> {
    let nodes: Redis[];
    try {
      nodes = await redisMasters(this.redis);
    } catch (err) {
      return { level: 'unknown', detail: `Redis: ${(err as Error).message}` };
    }
    const each = await Promise.all(nodes.map((n) => nodeDurability(n)));
    if (each.length === 0) return { level: 'unknown', detail: 'no Redis master reachable' };
    const rank: StoreDurability[] = ['volatile', 'unknown', 'snapshots', 'durable'];
    const worst = each.reduce((a, b) => (rank.indexOf(b.level) < rank.indexOf(a.level) ? b : a));
    const detail = nodes.length === 1 ? worst.detail : `${nodes.length} masters, the least durable: ${worst.detail}`;
    return { level: worst.level, detail };
  }

  async deleteModel(model: string, shards: number, tables: string[]): Promise<void> {
    const keys: string[] = [];
    for (let s = 0; s < shards; s++) {
      const k = shardKeys(model, s);
      keys.push(k.meta, k.epoch, k.dense, k.denseSlots, ...tables.flatMap((t) => [k.rows(t), k.slots(t)]));
    }
    // One DEL per shard: a shard's keys share a hash slot, so this also works on a cluster.
    for (let s = 0; s < shards; s++) {
      const per = keys.filter((key) => key.startsWith(`fw:{${model}:${s}}`));
      if (per.length) await this.redis.del(...per);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async exec(m: ReturnType<Redis['multi']>, what: string): Promise<[Error | null, unknown][]> {
    let res: [Error | null, unknown][] | null;
    try {
      res = await m.exec();
    } catch (err) {
      throw new UnavailableError(`Redis ${what} failed: ${(err as Error).message}`, err);
    }
    if (!res) throw new UnavailableError(`Redis ${what} was aborted`);
    const failed = res.find((r) => r[0]);
    if (failed) throw new UnavailableError(`Redis ${what} failed: ${failed[0]!.message}`, failed[0]);
    return res;
  }
}

async function nodeDurability(redis: Redis): Promise<{ level: StoreDurability; detail: string }> {
  try {
    const [, aof] = (await redis.config('GET', 'appendonly')) as string[];
    const [, save] = (await redis.config('GET', 'save')) as string[];
    const detail = `appendonly ${aof ?? '?'}, save "${save ?? '?'}"`;
    if (aof === 'yes') return { level: 'durable', detail };
    if (aof === undefined || save === undefined) return { level: 'unknown', detail };
    return { level: save.trim() ? 'snapshots' : 'volatile', detail };
  } catch (err) {
    // Managed Redis often disables CONFIG: the ledger still catches a loss.
    return { level: 'unknown', detail: `CONFIG GET refused: ${(err as Error).message}` };
  }
}

function hashToRows(table: string, rowsH: Record<string, Buffer>, slotsH?: Record<string, Buffer>): RowsState {
  const ids = Object.keys(rowsH);
  const n = ids.length;
  const dim = n ? rowsH[ids[0]].length >> 2 : 0;
  const rows = new Int32Array(n);
  const weights = new Float32Array(n * dim);
  const sw = n && slotsH?.[ids[0]] ? slotsH[ids[0]].length >> 2 : dim; // slot floats per row
  const slot = slotsH ? new Float32Array(n * sw) : undefined;
  for (let i = 0; i < n; i++) {
    rows[i] = Number(ids[i]);
    weights.set(bytesToF32(rowsH[ids[i]]), i * dim);
    const sb = slotsH?.[ids[i]];
    if (slot && sb && sb.length >> 2 === sw) slot.set(bytesToF32(sb), i * sw);
  }
  return { table, rows, weights, slot };
}

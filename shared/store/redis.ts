// ShardStore over Redis. Rows are hash fields (decimal row id -> raw float32 bytes), one hash
// per table for weights and one for optimizer slots, so a replica reads weights only.
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
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
  const urlHasAuth = /^rediss?:\/\/[^/]*@/.test(url);
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

/**
 * A Redis client for a redis:// or rediss:// URL (user:password@ for an ACL user, both
 * percent-encoded), with redisOptionsFromEnv() for the rest; `opts` overrides everything.
 * Failures surface as Redis errors (WRONGPASS, NOAUTH) that never carry the password.
 */
export function connectRedis(url: string, opts: RedisOptions = {}, env: NodeJS.ProcessEnv = process.env): Redis {
  return new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, ...redisOptionsFromEnv(url, env), ...opts });
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

export class RedisShardStore implements ShardStore {
  constructor(readonly redis: Redis) {}

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
    const prevEpoch = res[0][1];
    return { storeWasEmpty: prevEpoch === null || prevEpoch === undefined };
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

  async durability(): Promise<{ level: StoreDurability; detail: string }> {
    try {
      const [, aof] = (await this.redis.config('GET', 'appendonly')) as string[];
      const [, save] = (await this.redis.config('GET', 'save')) as string[];
      const detail = `appendonly ${aof ?? '?'}, save "${save ?? '?'}"`;
      if (aof === 'yes') return { level: 'durable', detail };
      if (aof === undefined || save === undefined) return { level: 'unknown', detail };
      return { level: save.trim() ? 'snapshots' : 'volatile', detail };
    } catch (err) {
      // Managed Redis often disables CONFIG: the ledger still catches a loss.
      return { level: 'unknown', detail: `CONFIG GET refused: ${(err as Error).message}` };
    }
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

// Figure 4: snapshot write. RedisShardStore.write of N dirty rows (weights + momentum, dim 16,
// one table, as a PS publish writes them: one MULTI with the meta) against raw Redis commands
// carrying the same bytes: one SET of a single blob, and the same fields as multi-field HSETs
// (one per hash, pipelined, no MULTI). Rows/s for each; each run its own keys, deleted after.
import { DEFAULT_CONFIG, RedisShardStore, connectRedis, type RedisClient, type ShardWrite } from '../shared/index.ts';
import { figure, median, progress, randomF32, recordError, runId, sampled } from './lib/figures.ts';

const DIM = 16;
// 100k rows is a full snapshot of a modest shard; it is where RedisShardStore.write has
// failed (one HSET call with 2 arguments per row, spread: RangeError past ~60k rows).
const SIZES = [10_000, 50_000, 100_000];

function writeOf(n: number, version: number): ShardWrite {
  const rows = Int32Array.from({ length: n }, (_, i) => i * 13 + 1);
  return {
    meta: { version, epoch: 1, newestAcceptedAtMs: Date.now() },
    dense: [], full: false,
    sparse: [{ table: 'emb.user', rows, weights: randomF32(n * DIM, 1), slot: randomF32(n * DIM, 2) }],
  };
}

/** ms of each of `reps` calls, after one warm-up call. */
async function timed(fn: () => Promise<unknown>, reps: number): Promise<number[]> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return ms;
}

export async function benchSnapshot(): Promise<void> {
  const model = runId('snap');
  const redis: RedisClient = connectRedis(DEFAULT_CONFIG.redisUrl);
  const store = new RedisShardStore(redis);
  const rawKey = `${model}:raw`;
  try {
    for (const n of SIZES) {
      const w = writeOf(n, 1);
      const s = w.sparse[0];
      const bytes = s.weights.byteLength + s.slot!.byteLength;
      const blob = Buffer.concat([Buffer.from(s.weights.buffer), Buffer.from(s.slot!.buffer)]);
      // The same fields the store writes: row id -> 64 bytes, in a weights hash and a slots hash.
      const fieldsOf = (a: Float32Array) => {
        const args: (string | Buffer)[] = [];
        for (let i = 0; i < n; i++) args.push(String(s.rows[i]), Buffer.from(a.buffer, i * DIM * 4, DIM * 4));
        return args;
      };
      const reps = n >= 50_000 ? 5 : 9;
      progress(`snapshot: ${n} rows x ${DIM} (weights + momentum, ${(bytes / 1e6).toFixed(1)} MB)`);
      let version = 1;
      let storeMs: number[];
      try {
        storeMs = await timed(() => store.write(model, 0, { ...w, meta: { ...w.meta, version: version++ } }), reps);
      } catch (err) {
        recordError(`snapshot.redisShardStore.write.${n}`, err);
        continue;
      }
      const setMs = await timed(() => redis.set(rawKey, blob), reps);
      const hsetMs = await timed(async () => {
        // Building the argument list is part of the cost, as it is in the store.
        const p = redis.pipeline();
        // In commands of 8,192 arguments, as the store does (one spread of 100k rows overflows the stack).
        const w = fieldsOf(s.weights);
        const sl = fieldsOf(s.slot!);
        for (let i = 0; i < w.length; i += 8192) p.hset(`${rawKey}:w`, ...w.slice(i, i + 8192));
        for (let i = 0; i < sl.length; i += 8192) p.hset(`${rawKey}:s`, ...sl.slice(i, i + 8192));
        await p.exec();
      }, reps);
      const rps = (name: string, ms: number[]) => sampled(name, 'rows/s', ms.map((x) => (n * 1000) / x));
      const q = rps(`snapshot.redisShardStore.write.${n}`, storeMs);
      figure(q, rps(`snapshot.redis.SET.same-bytes.${n}`, setMs), {
        target: '>= 50% of raw (ratio >= 0.5)', check: (x) => x >= 0.5,
        note: `${(bytes / 1e6).toFixed(1)} MB per write; store ${median(storeMs).toFixed(1)} ms vs SET ${median(setMs).toFixed(1)} ms (medians of ${reps})`,
      });
      figure(q, rps(`snapshot.redis.HSET-multi-field.same-bytes.${n}`, hsetMs), {
        target: '>= 50% of raw (ratio >= 0.5)', check: (x) => x >= 0.5,
        note: `store ${median(storeMs).toFixed(1)} ms vs 2 pipelined multi-field HSETs ${median(hsetMs).toFixed(1)} ms: the per-field encoding cost is shared`,
      });
    }
  } finally {
    await store.deleteModel(model, 1, ['emb.user']).catch(() => undefined);
    await redis.del(rawKey, `${rawKey}:w`, `${rawKey}:s`).catch(() => undefined);
    redis.disconnect();
  }
}

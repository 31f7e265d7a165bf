// The Redis shard store deletes the rows a PS shard evicted (a write's `removed`) before it
// writes the rows of the same delta, so a row evicted and taken again keeps its new value.
import t from 'tap';
import { RedisShardStore, connectRedis, type ShardWrite } from '../../shared/index.ts';
import { uniqueModel } from '../helpers/integration.ts';

t.test('tombstones delete rows in Redis; a row in both is written after its delete', async (t) => {
  const redis = connectRedis(process.env.FLYWHEEL_REDIS_URL ?? 'redis://127.0.0.1:6379');
  t.teardown(() => redis.disconnect());
  const store = new RedisShardStore(redis);
  const model = uniqueModel('tomb');
  t.teardown(() => store.deleteModel(model, 1, ['emb']));
  const meta = (version: number) => ({ version, epoch: 1, newestAcceptedAtMs: 0, examplesApplied: 0 });
  const rows = (ids: number[], v: number) => ({ table: 'emb', rows: Int32Array.from(ids), weights: new Float32Array(ids.length * 2).fill(v), slot: new Float32Array(ids.length * 2).fill(-v) });
  await store.write(model, 0, { meta: meta(1), dense: [], sparse: [rows([1, 2, 3, 4], 1)], full: true } satisfies ShardWrite);
  await store.write(model, 0, { meta: meta(2), dense: [], sparse: [{ ...rows([3], 7), removed: Int32Array.from([1, 3]) }], full: false });
  const snap = await store.read(model, 0, ['emb'], true);
  const got = new Map<number, number[]>();
  const s = snap!.sparse[0];
  s.rows.forEach((id, i) => got.set(id, [...s.weights.subarray(2 * i, 2 * i + 2), ...s.slot!.subarray(2 * i, 2 * i + 2)]));
  t.same([...got.keys()].sort(), [2, 3, 4], 'row 1 is gone, row 3 is back');
  t.same(got.get(3), [7, 7, -7, -7], 'row 3 has the value written after its tombstone, with its slots');
  t.same(got.get(2), [1, 1, -1, -1], 'untouched rows keep theirs');
});

// A worker reads its own counter increments before its replica holds them, and stops adding
// them once it does (or once they cannot arrive): worked by hand on a replica of two shards.
import t from 'tap';
import type { ParamSpec } from '../../shared/index.ts';
import type { ShardView } from '../../shared/replica.ts';
import { OwnCounts } from '../../services/worker/own-counts.ts';

const spec: ParamSpec = {
  model: 'm', seed: 1, dense: [{ name: 'w', shape: [2], init: { kind: 'zeros' } }],
  tables: [
    { name: 'stat.user', dim: 2, rows: 100, init: { kind: 'zeros' }, optimizer: { rule: 'counter', halfLifeMs: 0 } },
    { name: 'emb.user', dim: 2, rows: 100, init: { kind: 'zeros' }, optimizer: 'momentum' },
  ],
};

/** A replica whose rows read as 10 x row id (both columns) and whose shard views the test moves. */
function fakeReplica() {
  const shards: ShardView[] = [0, 1].map(() => ({ version: 0, epoch: 1, epochStartVersion: 0, restoredEpoch: 0, persistedVersion: 0, newestAcceptedAtMs: 0, lastDeltaAtMs: 0 }));
  const readRows = (_table: string, rowIds: Int32Array, out: Float32Array) => {
    const dim = out.length / rowIds.length;
    for (let i = 0; i < rowIds.length; i++) for (let c = 0; c < dim; c++) out[i * dim + c] = 10 * rowIds[i];
  };
  return {
    shards,
    dense: () => Float32Array.of(1, 2),
    readRows,
    readAt: (table: string, rowIds: Int32Array, _nowMs: number, out: Float32Array) => readRows(table, rowIds, out),
  };
}

const read = (own: OwnCounts, table: string, rows: number[]) => {
  const out = new Float32Array(rows.length * 2);
  own.readRows(table, Int32Array.from(rows), out);
  return Array.from(out);
};
const counts = (rows: number[], adds: number[]) => ({ table: 'stat.user', rows: Int32Array.from(rows), grads: Float32Array.from(adds) });

t.test('a push\'s counts are read from its sending until the replica holds its version', async (t) => {
  const r = fakeReplica();
  const own = new OwnCounts(r, spec);
  const grads = counts([3, 5], [1, 1, 2, 0]);
  own.sent(0, 1, [grads, { table: 'emb.user', rows: Int32Array.of(3), grads: Float32Array.of(0.5, 0.5) }]);
  grads.grads.fill(99); // the caller's arrays may be reused: what was sent is what is added
  t.same(read(own, 'stat.user', [3, 4, 5, 3]), [31, 31, 40, 40, 52, 50, 31, 31], 'every read row, repeats too, with its increments');
  t.same(read(own, 'emb.user', [3]), [30, 30], 'a learned table is the replica\'s alone');
  own.sent(0, 2, [counts([5], [1, 1])]);
  own.answered(0, 1, 1, 7);
  t.same(read(own, 'stat.user', [5]), [53, 51], 'answered, not yet in the replica: still added');
  r.shards[0].version = 7;
  own.replicaMoved(0);
  t.same(read(own, 'stat.user', [3, 5]), [30, 30, 51, 51], 'the replica holds push 1: only push 2 is added');
  t.equal(own.pending, 1, 'one push held');
  r.shards[0].version = 9;
  own.replicaMoved(0);
  t.equal(own.pending, 1, 'an unanswered push stays, whatever the replica\'s version');
  own.answered(0, 2, 1, 8);
  t.equal(own.pending, 0, 'answered at a version the replica already holds: dropped at once');
});

t.test('refused pushes, restarted shards and other shards', async (t) => {
  const r = fakeReplica();
  const own = new OwnCounts(r, spec);
  own.sent(0, 1, [counts([1], [1, 0])]);
  own.sent(1, 1, [counts([2], [1, 1])]);
  own.sent(0, 1, [counts([1], [1, 0])]); // the same push sent again after a resync
  t.same(read(own, 'stat.user', [1, 2]), [11, 10, 21, 21], 'a push sent twice is added once');
  own.dropped(1, 1);
  t.same(read(own, 'stat.user', [2]), [20, 20], 'refused: no longer added');
  own.answered(0, 1, 1, 4);
  r.shards[1].version = 50;
  own.replicaMoved(1);
  t.equal(own.pending, 1, 'another shard\'s delta leaves it');
  r.shards[0].epoch = 2;
  r.shards[0].version = 2;
  own.replicaMoved(0);
  t.equal(own.pending, 0, 'the shard restarted (a new epoch): the store and the rewind say what it holds');
  own.sent(0, 2, [counts([1], [1, 0])]);
  own.answered(0, 2, 3, 1);
  r.shards[0].version = 5;
  own.replicaMoved(0);
  t.equal(own.pending, 1, 'made on an epoch the replica has not seen yet: still added');
  const out = new Float32Array(2);
  own.readAt('stat.user', Int32Array.of(1), 0, out);
  t.same(Array.from(out), [11, 10], 'decayed reads add the increments too');
});

t.test('a spec without counter tables holds nothing', async (t) => {
  const own = new OwnCounts(fakeReplica(), { ...spec, tables: [spec.tables[1]] });
  own.sent(0, 1, [{ table: 'emb.user', rows: Int32Array.of(1), grads: Float32Array.of(1, 1) }]);
  t.equal(own.pending, 0);
  t.same(Array.from(own.dense('w')), [1, 2], 'dense reads pass through');
});

import t from 'tap';
import {
  initDense, initRow, ownerOfDense, ownerOfRow, tableHash, RowIndex, SparseArena,
} from '../../shared/index.ts';
import { CTR_MODEL_DEFAULTS } from '../../shared/models/ctr/config.ts';
import { ctrParamSpec } from '../../shared/models/ctr/spec.ts';

t.test('row ownership is deterministic and balanced over K shards', async (t) => {
  const h = tableHash('emb.user');
  for (const K of [2, 3, 4]) {
    const counts = new Array(K).fill(0);
    for (let r = 0; r < 100_000; r++) counts[ownerOfRow(h, r, K)]++;
    const expected = 100_000 / K;
    for (const c of counts) t.ok(Math.abs(c - expected) / expected < 0.03, `K=${K}: ${counts}`);
    t.equal(ownerOfRow(h, 12345, K), ownerOfRow(tableHash('emb.user'), 12345, K));
  }
  t.equal(ownerOfRow(h, 7, 1), 0);
});

t.test('every dense tensor has exactly one owner in range', async (t) => {
  const spec = ctrParamSpec('m', 1, CTR_MODEL_DEFAULTS);
  for (const d of spec.dense) {
    const o = ownerOfDense(d.name, 2);
    t.ok(o === 0 || o === 1);
    t.equal(ownerOfDense(d.name, 2), o);
  }
  const owners = new Set(spec.dense.map((d) => ownerOfDense(d.name, 2)));
  t.equal(owners.size, 2, 'dense tensors spread over both shards');
});

t.test('initial values are deterministic per (seed, table, row) and bounded', async (t) => {
  const spec = ctrParamSpec('m', 7, CTR_MODEL_DEFAULTS);
  const table = spec.tables[0];
  const a = new Float32Array(table.dim);
  const b = new Float32Array(table.dim);
  initRow(table, 99, 7, a, 0);
  initRow(table, 99, 7, b, 0);
  t.same(Array.from(a), Array.from(b));
  initRow(table, 100, 7, b, 0);
  t.not(a[0], b[0], 'another row gets other values');
  for (const x of a) t.ok(Math.abs(x) <= 0.05);
  const d = spec.dense[0];
  t.same(Array.from(initDense(d, 7)), Array.from(initDense(d, 7)));
});

t.test('RowIndex maps ids to slots through growth', async (t) => {
  const idx = new RowIndex(4);
  for (let i = 0; i < 10_000; i++) idx.insert(i * 7919, i);
  t.equal(idx.size, 10_000);
  let ok = true;
  for (let i = 0; i < 10_000; i++) if (idx.get(i * 7919) !== i) ok = false;
  t.ok(ok, 'every id finds its slot');
  t.equal(idx.get(3), -1);
});

t.test('SparseArena materializes rows lazily and tracks dirty rows once', async (t) => {
  const spec = ctrParamSpec('m', 3, { ...CTR_MODEL_DEFAULTS, embDim: 4 });
  const table = spec.tables[0];
  const arena = new SparseArena(table, 3, true, 2);
  const expected = new Float32Array(4);
  initRow(table, 500, 3, expected, 0);
  const out = new Float32Array(4);
  arena.readRow(500, out, 0);
  t.same(Array.from(out), Array.from(expected), 'an absent row reads as its initial value');
  t.equal(arena.count, 0, 'reading does not materialize');
  const s1 = arena.slotOf(500);
  const s2 = arena.slotOf(600);
  arena.slotOf(700); // forces growth past the initial 2 rows
  t.equal(arena.slotOf(500), s1);
  arena.markDirty(s1); arena.markDirty(s1); arena.markDirty(s2);
  const d = arena.takeDirty();
  t.same(Array.from(d.rows).sort(), [500, 600]);
  t.same(Array.from(d.weights.subarray(0, 4)), Array.from(expected));
  t.equal(arena.takeDirty().rows.length, 0, 'taking empties the dirty list');
});

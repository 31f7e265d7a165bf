// Bounded sparse tables (shared/row-bounds.ts): the row indexes delete correctly, the arena
// compacts without losing a value or a dirty mark, admission drops ids seen too rarely, the
// time to live and the budget evict, and 10M distinct ids keep a table under its budget.
import t from 'tap';
import { RowIndex, SparseArena, Updater, DEFAULT_CONFIG, initRow, type ParamSpec, type TableSpec } from '../../shared/index.ts';
import { PairIndex, bucketsFor, EMPTY } from '../../shared/kernels/row-lookup.ts';
import type { RowBoundsConfig } from '../../shared/row-bounds.ts';

function rand(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296; };
}

t.test('RowIndex and PairIndex agree with a Map through random inserts, updates and deletes', async (t) => {
  const r = rand(3);
  const heap = new RowIndex(64);
  const pairTable = new Int32Array(2 * bucketsFor(4096));
  for (let i = 0; i < pairTable.length; i += 2) pairTable[i] = EMPTY;
  const pair = new PairIndex(pairTable);
  const ref = new Map<number, number>();
  let wrong = 0;
  for (let step = 0; step < 40_000; step++) {
    // Ids in a small range, so probe runs collide and deletes must shift keys back.
    const id = Math.floor(r() * 3000);
    const op = r();
    if (op < 0.5 && !ref.has(id) && ref.size < 2000) {
      heap.insert(id, step); pair.insert(id, step); ref.set(id, step);
    } else if (op < 0.7 && ref.has(id)) {
      heap.update(id, -step); pair.update(id, -step); ref.set(id, -step);
    } else {
      const had = ref.delete(id);
      if (heap.delete(id) !== had) wrong++;
      if (pair.delete(id) !== had) wrong++;
    }
    if (step % 97 === 0) {
      for (let q = 0; q < 3000; q++) {
        const want = ref.get(q) ?? -1;
        if (heap.get(q) !== want || pair.get(q) !== want) wrong++;
      }
    }
  }
  t.equal(wrong, 0, 'every lookup and delete result as the Map says');
  t.equal(heap.size, ref.size, 'RowIndex size');
  t.equal(pair.size, ref.size, 'PairIndex size');
});

const TABLE: TableSpec = { name: 'emb', dim: 4, rows: 1 << 30, init: { kind: 'uniform', scale: 0.1 }, optimizer: 'adagrad' };

t.test('SparseArena.removeSlots compacts: values, slots and dirty marks follow their rows', async (t) => {
  const a = new SparseArena(TABLE, 5, 1, 8);
  a.recordRemovals = true;
  const ids = [10, 20, 30, 40, 50, 60];
  for (const id of ids) { const s = a.slotOf(id); a.weights.fill(id, s * 4, s * 4 + 4); a.slot.fill(-id, s * 4, s * 4 + 4); }
  a.markDirty(a.index.get(60));
  a.markDirty(a.index.get(20));
  t.equal(a.removeRows([20, 40, 99]), 2, 'two of the three ids were held');
  t.equal(a.count, 4);
  const out = new Float32Array(4);
  for (const id of [10, 30, 50, 60]) {
    const s = a.index.get(id);
    t.ok(s >= 0 && s < 4, `row ${id} still held`);
    t.same([...a.weights.subarray(s * 4, s * 4 + 4)], [id, id, id, id], `row ${id} keeps its values`);
    t.same([...a.slot.subarray(s * 4, s * 4 + 4)], [-id, -id, -id, -id], `row ${id} keeps its slots`);
  }
  a.readRow(20, out, 0);
  const init = new Float32Array(4);
  initRow(TABLE, 20, 5, init, 0);
  t.same([...out], [...init], 'a removed row reads as its initial value');
  t.same([...a.takeRemoved()].sort(), [20, 40], 'the removed ids are recorded');
  t.equal(a.takeRemoved().length, 0, 'and taken once');
  const dirty = a.takeDirty();
  t.same([...dirty.rows], [60], 'the moved row keeps its dirty mark; the removed one drops it');
  t.same([...dirty.weights], [60, 60, 60, 60]);
});

function updater(bounds: RowBoundsConfig, table: TableSpec = TABLE): Updater {
  const spec: ParamSpec = { model: 'b', seed: 1, dense: [], tables: [table] };
  return new Updater(spec, { ...DEFAULT_CONFIG.ps, learningRate: 0.1, clipNorm: 0, rows: bounds });
}

function push(u: Updater, ids: number[], eventTimeMs?: number, dim = 4): void {
  const rows = Int32Array.from(ids);
  const grads = new Float32Array(rows.length * dim).fill(1);
  u.apply({ dense: [], sparse: [{ table: 'emb', rows, grads }], ...(eventTimeMs !== undefined ? { eventTimeMs } : {}) }, 1);
}

t.test('admission: an id gets a row only in its admitAfter-th push; counter tables are exempt', async (t) => {
  const u = updater({ admitAfter: 3, ttlMs: 0, budgetBytes: 0 });
  const a = u.tables.get('emb')!.arena;
  push(u, [1, 2]);
  push(u, [1]);
  t.equal(a.count, 0, 'no row after two sightings');
  t.equal(u.bounds!.stats.notAdmitted, 3);
  push(u, [1, 3]);
  t.equal(a.count, 1, 'the third sighting admits id 1, id 3 waits');
  t.ok(a.index.get(1) >= 0);
  const w = new Float32Array(4);
  a.readRow(1, w, 0);
  const init = new Float32Array(4);
  initRow(TABLE, 1, 1, init, 0);
  t.ok(w.every((x, i) => x < init[i]), 'the admitting push is applied to the new row');

  const counter = updater({ admitAfter: 3, ttlMs: 0, budgetBytes: 0 }, { name: 'emb', dim: 2, rows: 1000, init: { kind: 'zeros' }, optimizer: 'counter' });
  push(counter, [7], undefined, 2);
  t.equal(counter.tables.get('emb')!.arena.count, 1, 'a counter row is kept at its first sighting');
});

t.test('time to live: rows unused for ttlMs of event time are evicted, used ones stay', async (t) => {
  const u = updater({ admitAfter: 1, ttlMs: 60_000, budgetBytes: 0 });
  const a = u.tables.get('emb')!.arena;
  const T = 1_700_000_000_000;
  push(u, [1, 2, 3], T);
  push(u, [2], T + 50_000);
  t.equal(a.count, 3, 'nothing is older than the TTL yet');
  push(u, [3], T + 61_000);
  t.equal(a.count, 2, 'row 1 (unused for 61 s) is evicted');
  t.equal(a.index.get(1), -1);
  t.equal(u.bounds!.stats.evictedTtl, 1);
  push(u, [4], T + 200_000);
  t.same([...a.rowIds.subarray(0, a.count)], [4], 'only the row of the newest push is left');
});

t.test('budget: 10M distinct ids keep the table within its budget, and frequent ids keep their rows', async (t) => {
  const budget = 32 * 1024 * 1024;
  const u = updater({ admitAfter: 1, ttlMs: 0, budgetBytes: budget });
  const a = u.tables.get('emb')!.arena;
  const hot = Array.from({ length: 200 }, (_, i) => (1 << 29) + i);
  let peak = 0;
  const perPush = 8192;
  const ids = new Int32Array(perPush + hot.length);
  ids.set(hot, perPush);
  const grads = new Float32Array(ids.length * 4).fill(1);
  for (let sent = 0; sent < 10_000_000; sent += perPush) {
    // Distinct cold ids scattered over 2^29: an odd multiplier is a bijection modulo 2^29.
    for (let i = 0; i < perPush; i++) ids[i] = Math.imul(sent + i, 0x9e3779b1) & ((1 << 29) - 1);
    u.apply({ dense: [], sparse: [{ table: 'emb', rows: ids, grads }] }, 1);
    peak = Math.max(peak, a.bytes + u.bounds!.bytes);
  }
  t.comment(`10M distinct ids: peak ${(peak / 2 ** 20).toFixed(1)} MiB of a ${(budget / 2 ** 20).toFixed(0)} MiB budget, ${a.count.toLocaleString('en-US')} rows held, ${u.bounds!.stats.evictedBudget.toLocaleString('en-US')} evicted`);
  t.ok(peak <= budget, `the table stayed within the budget (peak ${peak} bytes)`);
  t.equal(u.bounds!.stats.overBudget, 0, 'no push had to grow past it');
  t.ok(hot.every((id) => a.index.get(id) >= 0), 'the ids in every push were never evicted');
  t.ok(u.bounds!.stats.evictedBudget > 9_000_000, 'the cold tail was evicted');
});

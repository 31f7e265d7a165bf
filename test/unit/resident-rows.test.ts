// Sparse tables kept in wasm memory: a push through the Updater gives the same bits as the
// rule's loop on heap arrays, row by row, across growth of the arena (a new memory, rows copied),
// for every rule with a kernel; tables the kernel cannot take stay on the heap.
import t from 'tap';
import { SparseArena } from '../../shared/sparse-arena.ts';
import { Updater } from '../../shared/update-rules/updater.ts';
import { UPDATE_RULES, resolveRule } from '../../shared/update-rules/registry.ts';
import { simdAvailable } from '../../shared/kernels/momentum-simd.ts';
import type { ParamSpec, TableSpec } from '../../shared/param-spec.ts';

function rand(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296; };
}

/** A push of `n` distinct row ids below `range`, gradients in [-1, 1). */
function push(n: number, range: number, dim: number, seed: number): { rows: Int32Array; grads: Float32Array } {
  const r = rand(seed);
  const seen = new Set<number>();
  const rows = new Int32Array(n);
  for (let i = 0; i < n;) { const id = Math.floor(r() * range); if (!seen.has(id)) { seen.add(id); rows[i++] = id; } }
  return { rows, grads: Float32Array.from({ length: n * dim }, () => r() * 2 - 1) };
}

const ps = { learningRate: 0.05, momentum: 0.9, nesterov: false, clipNorm: 0 };

for (const rule of ['momentum', 'nesterov', 'adagrad'] as const) {
  for (const dim of [4, 16, 64]) {
    t.test(`${rule}, dim ${dim}: resident rows give the heap loop's bits, through growth`, async (t) => {
      const table: TableSpec = { name: 'emb', dim, rows: 1 << 20, init: { kind: 'uniform', scale: 0.05 }, optimizer: rule };
      const spec: ParamSpec = { model: 'm', seed: 3, dense: [], tables: [table] };
      const up = new Updater(spec, ps);
      const arena = up.tables.get('emb')!.arena;
      t.ok(arena.resident, 'the table lives in wasm memory');
      // The reference: the same table on the heap, each row through the rule's own loop.
      const ref = new SparseArena(table, 3, 1);
      t.equal(ref.resident, null);
      const { hp } = resolveRule(rule, { lr: 0.05, mu: 0.9 }, 'test');
      // 5 pushes of 900 rows over 5,000 ids: the arena (1,024 rows at first) grows three times,
      // and later pushes hit rows made by earlier ones.
      for (let k = 0; k < 5; k++) {
        const p = push(900, 5000, dim, 17 + k);
        const scale = k === 3 ? 0.5 : 1;
        up.apply({ dense: [], sparse: [{ table: 'emb', rows: p.rows, grads: p.grads }] }, scale);
        for (let i = 0; i < p.rows.length; i++) {
          const s = ref.slotOf(p.rows[i]);
          UPDATE_RULES[rule].apply(ref.weights, ref.slot, s * dim, p.grads, i * dim, dim, 1, scale, hp);
        }
      }
      t.ok(arena.capacity > 1024 && arena.resident, `grew to ${arena.capacity} rows and stayed resident`);
      t.equal(arena.count, ref.count);
      let diff = 0;
      const wa = new Float32Array(dim), wb = new Float32Array(dim);
      for (let s = 0; s < ref.count; s++) {
        const id = ref.rowIds[s];
        arena.readRow(id, wa, 0);
        ref.readRow(id, wb, 0);
        const sa = arena.slot.subarray(arena.slotOf(id) * dim, (arena.slotOf(id) + 1) * dim);
        const sb = ref.slot.subarray(s * dim, (s + 1) * dim);
        for (let j = 0; j < dim; j++) if (!Object.is(wa[j], wb[j]) || !Object.is(sa[j], sb[j])) diff++;
      }
      t.equal(diff, 0, 'every weight and slot float equal bitwise');
      t.equal(arena.dirtyCount, ref.count, 'every touched row is dirty');
    });
  }
}

t.test('tables the kernel cannot take stay on the heap', async (t) => {
  t.ok(simdAvailable());
  const mk = (dim: number, optimizer: TableSpec['optimizer']) => new Updater(
    { model: 'm', seed: 1, dense: [], tables: [{ name: 'e', dim, rows: 1000, init: { kind: 'zeros' }, optimizer }] }, ps,
  ).tables.get('e')!.arena;
  t.equal(mk(6, 'momentum').resident, null, 'dim 6 is not a multiple of 4');
  t.equal(mk(1, 'adagrad').resident, null, 'a bias table (dim 1)');
  t.equal(mk(8, 'ftrl').resident, null, 'FTRL has no kernel');
  t.equal(mk(8, 'adam').resident, null, 'Adam keeps two slots');
  t.not(mk(8, 'adagrad').resident, null);
});

t.test('the wasm lookup agrees with the index read from JavaScript, absent ids and collisions included', async (t) => {
  const { ResidentRows, CHUNK_ROWS } = await import('../../shared/kernels/resident-rows.ts');
  const store = ResidentRows.create('momentum', 4, 2048)!;
  t.ok(store);
  // Ids that collide in the low bits (multiples of 4096) and ordinary ones.
  const held = Int32Array.from({ length: 1500 }, (_, i) => (i % 3 === 0 ? i * 4096 : i * 7 + 1) & 0x7fffffff);
  const distinct = [...new Set(held)];
  distinct.forEach((id, s) => store.index.insert(id, s));
  const ids = new Int32Array(CHUNK_ROWS);
  for (let i = 0; i < ids.length; i++) ids[i] = i % 2 ? distinct[(i * 13) % distinct.length] : 1_000_000_007 + i; // half absent
  t.equal(store.resolve(ids, 0, CHUNK_ROWS), CHUNK_ROWS / 2, 'it counts the absent ids');
  let wrong = 0;
  for (let i = 0; i < CHUNK_ROWS; i++) if (store.slots[i] !== store.index.get(ids[i])) wrong++;
  t.equal(wrong, 0, 'every slot as PairIndex.get gives it');
  t.equal(store.slots[0], -1, 'an absent id resolves to -1');
  t.equal(store.slots[1], distinct.indexOf(ids[1]));
  t.equal(store.resolve(ids, 5, 3), 1, 'ids 5 and 7 held, 6 absent');
  t.same([...store.slots.subarray(0, 3)], [5, 6, 7].map((i) => store.index.get(ids[i])), 'a chunk from an offset');
});

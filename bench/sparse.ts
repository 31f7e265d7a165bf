// Figure 2: the sparse row apply, rows/s at dim 16 and 64, in a 1M-row arena that already holds
// every row (the steady state of a warm shard), 8,000 random distinct rows per push, 8 pushes
// used in turn:
// - what the PS runs: Updater.apply of a push to a momentum table (every row's arena slot, then
//   the f32x4 row kernel over the rows in wasm memory, then the dirty marks);
// - the same on heap arrays, one call of the rule's loop per row (the PS path before);
// - the C loop (bench/c/sparse.c: hash lookup, row update, dirty mark), the reference and the target's yardstick.
import { SparseArena } from '../shared/sparse-arena.ts';
import { Updater } from '../shared/update-rules/updater.ts';
import { UPDATE_RULES, resolveRule } from '../shared/update-rules/registry.ts';
import type { TableSpec } from '../shared/param-spec.ts';
import { figure, progress, randomF32, sampled, type Quantity } from './lib/figures.ts';
import { runNativeSparse } from './native.ts';

const ARENA_ROWS = 1_000_000;
const PUSH_ROWS = 8000;
const PUSHES = 8;
const REPS = 30;
const TARGET_ROWS_PER_SEC = 10_000_000;

/** Distinct random ids per push (a worker's push de-duplicates its rows). */
function pushes(): Int32Array[] {
  const out: Int32Array[] = [];
  let x = 12345;
  for (let k = 0; k < PUSHES; k++) {
    const seen = new Set<number>();
    const rows = new Int32Array(PUSH_ROWS);
    for (let i = 0; i < PUSH_ROWS;) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const id = x % ARENA_ROWS;
      if (!seen.has(id)) { seen.add(id); rows[i++] = id; }
    }
    out.push(rows);
  }
  return out;
}

/** Every row materialized, and the slot pages written once, as on a shard that has run a while. */
function warm(arena: SparseArena): void {
  for (let r = 0; r < ARENA_ROWS; r++) arena.slotOf(r);
  arena.slot.fill(0);
  arena.takeDirty();
}

/**
 * ms of each of REPS pushes (after 5 warm-up pushes), the pushes in turn; `publish` runs between
 * pushes, untimed: taking the dirty rows is the publish's work, once per interval, not the push's.
 */
function timedPushes(apply: (rows: Int32Array) => void, ids: Int32Array[], publish: () => void): number[] {
  const ms: number[] = [];
  for (let r = 0; r < REPS + 5; r++) {
    const t0 = performance.now();
    apply(ids[r % PUSHES]);
    if (r >= 5) ms.push(performance.now() - t0);
    publish();
  }
  return ms;
}

export async function benchSparse(): Promise<void> {
  const { hp } = resolveRule('momentum', { lr: 0.01, mu: 0.9 }, 'bench');
  const ids = pushes();
  for (const dim of [16, 64]) {
    progress(`sparse apply, dim ${dim}: filling two ${ARENA_ROWS / 1e6}M-row arenas`);
    const table: TableSpec = { name: 'emb', dim, rows: ARENA_ROWS, init: { kind: 'uniform', scale: 0.05 } };
    const grads = randomF32(PUSH_ROWS * dim, 3);
    for (let i = 0; i < grads.length; i++) grads[i] *= 1e-3;

    const up = new Updater({ model: 'bench', seed: 7, dense: [], tables: [table] }, { learningRate: 0.01, momentum: 0.9, nesterov: false, clipNorm: 0 });
    const arena = up.tables.get('emb')!.arena;
    warm(arena);
    const ps = timedPushes((rows) => up.apply({ dense: [], sparse: [{ table: 'emb', rows, grads }] }, 1), ids, () => arena.takeDirty());

    const heap = new SparseArena(table, 7, true, ARENA_ROWS);
    warm(heap);
    const rule = UPDATE_RULES.momentum;
    const loop = timedPushes((rows) => {
      for (let i = 0; i < rows.length; i++) {
        const s = heap.slotOf(rows[i]);
        rule.apply(heap.weights, heap.slot, s * dim, grads, i * dim, dim, 1, 1, hp);
        heap.markDirty(s);
      }
    }, ids, () => heap.takeDirty());

    const q = (name: string, ms: number[]) => sampled(`${name}.dim${dim}`, 'rows/s', ms.map((x) => (PUSH_ROWS * 1000) / x));
    const psQ = q('sparse.apply.ps-updater', ps);
    const c = runNativeSparse(ARENA_ROWS, dim, PUSH_ROWS, REPS);
    const cQ: Quantity | null = c ? { name: `sparse.apply.c-O3-native.dim${dim}`, value: c.median, unit: 'rows/s', reps: c.reps } : null;
    const loopQ = q('sparse.apply.heap-loop', loop);
    const resident = arena.resident ? 'rows in wasm memory, f32x4 row kernel' : 'no WebAssembly SIMD here: heap arrays and the loop';
    figure(psQ, cQ ?? loopQ, {
      target: dim === 16 ? `>= ${TARGET_ROWS_PER_SEC / 1e6}M rows/s at dim 16` : undefined,
      check: dim === 16 ? () => psQ.value >= TARGET_ROWS_PER_SEC : undefined,
      note: `what the PS runs (Updater.apply: slots, then the ${resident}, dirty marks); ${PUSH_ROWS} random distinct rows per push in a 1M-row arena; `
        + (cQ ? 'held against the C loop (hash lookup, row update, dirty mark)' : 'no C compiler: held against the heap loop'),
    });
    figure(psQ, loopQ, { note: 'against the same push on heap arrays, one call of the rule\'s loop per row (the PS path before)' });
  }
}

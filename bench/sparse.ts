// Figure 2: sparse row apply, rows/s at dim 16 and 64, as ShardState applies a push: for each
// row, SparseArena.slotOf (hash lookup), the rule's apply on the row, markDirty. Rows are random ids
// in a 1M-row arena that already holds every row (the steady state of a warm shard), 8,000 rows
// per push. Reference: the dense loop over the same number of floats in one contiguous run
// (the plain loop: the same scalar arithmetic, so the ratio is the cost of being sparse).
import { SparseArena } from '../shared/sparse-arena.ts';
import { UPDATE_RULES, resolveRule } from '../shared/update-rules/registry.ts';
import { plainLoop, type KernelParams as UpdateParams } from './kernels/variants.ts';
import type { TableSpec } from '../shared/param-spec.ts';
import { figure, progress, randomF32, sampled, timeSync, type Timing } from './lib/figures.ts';

const ARENA_ROWS = 1_000_000;
const PUSH_ROWS = 8000;
const PUSHES = 8;

export async function benchSparse(): Promise<void> {
  const p: UpdateParams = { rule: 'momentum', lr: 0.01, mu: 0.9, eps: 1e-8 };
  const { hp } = resolveRule('momentum', { lr: 0.01, mu: 0.9 }, 'bench');
  const applyUpdate = (w: Float32Array, s: Float32Array, off: number, g: Float32Array, gOff: number, n: number) =>
    UPDATE_RULES.momentum.apply(w, s, off, g, gOff, n, 1, 1, hp);
  for (const dim of [16, 64]) {
    progress(`sparse apply, dim ${dim}: filling a ${ARENA_ROWS / 1e6}M-row arena`);
    const table: TableSpec = { name: 'emb', dim, rows: ARENA_ROWS, init: { kind: 'uniform', scale: 0.05 } };
    const arena = new SparseArena(table, 7, true, ARENA_ROWS);
    for (let r = 0; r < ARENA_ROWS; r++) arena.slotOf(r);
    // Distinct random ids per push (a worker's push de-duplicates its rows).
    const pushes: Int32Array[] = [];
    let x = 12345;
    for (let k = 0; k < PUSHES; k++) {
      const seen = new Set<number>();
      const rows = new Int32Array(PUSH_ROWS);
      for (let i = 0; i < PUSH_ROWS;) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const id = x % ARENA_ROWS;
        if (!seen.has(id)) { seen.add(id); rows[i++] = id; }
      }
      pushes.push(rows);
    }
    const grads = randomF32(PUSH_ROWS * dim, 3);
    let k = 0;
    const sparse = timeSync(() => {
      const rows = pushes[k++ % PUSHES];
      for (let i = 0; i < rows.length; i++) {
        const s = arena.slotOf(rows[i]);
        applyUpdate(arena.weights, arena.slot, s * dim, grads, i * dim, dim);
        arena.markDirty(s);
      }
    }, 30, 5);
    // Dense reference: the same floats, contiguous, in the scalar loop and in the rule's apply (SIMD).
    const n = PUSH_ROWS * dim;
    const w = randomF32(n, 4), slot = new Float32Array(n);
    const dense = timeSync(() => plainLoop(p, w, slot, 0, grads, 0, n, 1), 30, 5);
    const denseSimd = timeSync(() => applyUpdate(w, slot, 0, grads, 0, n), 30, 5);
    const q = (name: string, t: Timing) => sampled(`${name}.dim${dim}`, 'rows/s', t.samplesMs.map((ms) => (PUSH_ROWS * 1000) / ms));
    // Medians: the sparse apply touches 1M-row arenas (cache misses), so run-to-run noise is real.
    figure(q('sparse.apply.rows', sparse), q('dense.scalar-loop.same-floats', dense), {
      note: `${PUSH_ROWS} random distinct rows per push in a 1M-row arena (slotOf + rule apply + markDirty); medians of 30`,
    });
    figure(q('sparse.apply.rows', sparse), q('dense.applyUpdate-simd.same-floats', denseSimd), {
      note: 'against the PS dense path (SIMD) on the same floats',
    });
  }
}

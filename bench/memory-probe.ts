// Child process of bench/memory.ts: builds one PS-shaped state and prints its counted bytes and
// the growth of this process's resident memory, as JSON. A process of its own per case, so the
// RSS delta is not blurred by what earlier cases left on the heap.
//   node --import tsx bench/memory-probe.ts <sparse|dense|empty> <rows or floats> [dim]
import { readFileSync } from 'node:fs';
import { SparseArena } from '../shared/sparse-arena.ts';
import type { TableSpec } from '../shared/param-spec.ts';
import { Updater } from '../shared/update-rules/updater.ts';

const rssBytes = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

const [kind, sizeArg, dimArg] = process.argv.slice(2);
const size = Number(sizeArg);
const dim = Number(dimArg ?? 1);
const before = rssBytes();
let params = 0;
let counted = 0;
let keep: unknown;
if (kind === 'sparse') {
  // As a PS shard holds a table: starts small and grows by doubling as rows are first touched.
  const table: TableSpec = { name: 'emb.user', dim, rows: 1 << 30, init: { kind: 'uniform', scale: 0.05 } };
  const a = new SparseArena(table, 7, true);
  for (let r = 0; r < size; r++) a.slotOf(Math.imul(r, 2654435761) >>> 2);
  params = a.count * dim;
  counted = a.bytes;
  keep = a;
} else if (kind === 'dense') {
  // A PS shard's dense parameter as the Updater holds it: weights + momentum slot, and, where the
  // tensor lives in wasm memory, the gradient region the kernel reads.
  const up = new Updater({ model: 'probe', seed: 7, dense: [{ name: 'd', shape: [size], init: { kind: 'uniform', scale: 0.01 } }], tables: [] },
    { learningRate: 0.01, momentum: 0.9, nesterov: false, clipNorm: 0 });
  const d = up.dense.get('d')!;
  d.slot.fill(0); // a zeroed allocation may not be resident until written
  if (d.resident) d.resident.grad.fill(0);
  params = size;
  counted = d.weights.byteLength + d.slot.byteLength + (d.resident?.grad.byteLength ?? 0);
  keep = up;
}
const after = rssBytes();
process.stdout.write(`${JSON.stringify({ kind, size, dim, params, counted, rssDelta: after - before, rss: after, kept: keep !== undefined })}\n`);

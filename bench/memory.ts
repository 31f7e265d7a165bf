// Figure 8: resident bytes per parameter in a PS shard (weights + momentum + index), counted
// (SparseArena/ShardState byte lengths) and as process RSS growth, for dense tensors and sparse
// tables at 1M and 10M rows; and the RSS of a worker and an inference node, read from
// /proc/<pid>/status of the scaling run's processes (or a short run of its own).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { figure, progress } from './lib/figures.ts';
import { lastRss, runClusterRetrying } from './scaling.ts';

const PROBE = join(dirname(fileURLToPath(import.meta.url)), 'memory-probe.ts');

interface Probe { kind: string; size: number; dim: number; params: number; counted: number; rssDelta: number; rss: number }

function probe(kind: string, size: number, dim = 1): Probe {
  const out = execFileSync(process.execPath, ['--import', 'tsx', PROBE, kind, String(size), String(dim)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim()) as Probe;
}

export async function benchMemory(): Promise<void> {
  const floor = { name: 'weights+momentum floor (4+4 bytes, arithmetic)', value: 8, unit: 'bytes/param' };
  const cases: { label: string; kind: string; size: number; dim: number }[] = [
    { label: 'dense.1M', kind: 'dense', size: 1_000_000, dim: 1 },
    { label: 'dense.10M', kind: 'dense', size: 10_000_000, dim: 1 },
    { label: 'sparse.dim16.1M-rows', kind: 'sparse', size: 1_000_000, dim: 16 },
    { label: 'sparse.dim16.10M-rows', kind: 'sparse', size: 10_000_000, dim: 16 },
    { label: 'sparse.dim1.1M-rows', kind: 'sparse', size: 1_000_000, dim: 1 },
  ];
  for (const c of cases) {
    progress(`memory: ${c.label}`);
    const p = probe(c.kind, c.size, c.dim);
    const counted = { name: `memory.ps.${c.label}.counted`, value: p.counted / p.params, unit: 'bytes/param' };
    const sparse = c.kind === 'sparse';
    figure(counted, floor, {
      target: sparse ? '<= 10 bytes/param for sparse (ratio to the 8-byte floor <= 1.25)' : undefined,
      check: sparse ? (r) => r * 8 <= 10 : undefined,
      note: sparse
        ? `${p.params} params, ${(p.counted / 1e6).toFixed(0)} MB counted (arena capacity grows by doubling; index, row ids, dirty flags/list included)`
        : `${p.params} params, ${(p.counted / 1e6).toFixed(0)} MB counted: weights, momentum and the 4-byte gradient region of a tensor resident in wasm memory`,
    });
    figure({ name: `memory.ps.${c.label}.rss-delta`, value: p.rssDelta / p.params, unit: 'bytes/param' }, counted, {
      note: `process RSS growth ${(p.rssDelta / 1e6).toFixed(0)} MB while building it (untouched capacity is not resident)`,
    });
  }
  const empty = probe('empty', 0);
  let rss = lastRss;
  if (!rss) {
    progress('memory: no scaling run in this invocation; a short 1-worker run for the service RSS');
    rss = (await runClusterRetrying(1, 1, 8000)).rssBytes;
  }
  const base = { name: 'rss.node-tsx-empty-process', value: empty.rss / 1e6, unit: 'MB' };
  for (const svc of ['worker-0', 'inference', 'ps-0', 'ingest']) {
    if (rss[svc] === undefined) { progress(`memory: no RSS sample for ${svc}`); continue; }
    figure({ name: `rss.${svc}`, value: rss[svc] / 1e6, unit: 'MB' }, base, {
      note: 'VmRSS at the end of the last scaling run (default CTR model: 5 fields x 8 dims, MLP 64-32)',
    });
  }
}

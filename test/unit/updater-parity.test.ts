// The PS shard and the in-process LocalParams apply pushes through the same Updater: fed the
// same pushes, over every update rule (dense and sparse, kernel-length tensors and short ones,
// clipped and unclipped pushes, with and without event times), they must hold the same bits.
// And a shard's slots survive the store: a new shard started from the snapshot holds the same
// state and goes on exactly like the one that wrote it.
import t from 'tap';
import {
  DEFAULT_CONFIG, LocalParams, MemoryShardStore, UPDATE_RULE_NAMES,
  type GradientPush, type ParamSpec, type PsConfig, type RuleChoice, type Updater, type UpdateRuleName,
} from '../../shared/index.ts';
import { push, startShard } from '../helpers/shard-state.ts';

const MODEL = 'parity';
const TABLE_RULES: Record<string, RuleChoice> = {
  'emb.momentum': 'momentum',
  'emb.nesterov': 'nesterov',
  'emb.adagrad': 'adagrad',
  'emb.adam': { rule: 'adam', beta1: 0.8, beta2: 0.99 },
  'emb.ftrl': { rule: 'ftrl', alpha: 0.2, beta: 1, l1: 0.05, l2: 0.01 },
  'stat.count': { rule: 'counter', halfLifeMs: 60_000 },
  'stat.plain': 'counter',
};
const ROWS = 50;

function spec(tableRules = TABLE_RULES): ParamSpec {
  return {
    model: MODEL, seed: 5,
    // 512 floats take the SIMD kernel (momentum, nesterov, adagrad), 7 the plain loop.
    dense: [{ name: 'l0.w', shape: [16, 32], init: { kind: 'glorot' } }, { name: 'l0.b', shape: [7], init: { kind: 'uniform', scale: 0.1 } }],
    tables: Object.entries(tableRules).map(([name, optimizer]) => ({
      name, dim: name.startsWith('stat.') ? 1 : 4, rows: ROWS, lrScale: 0.5, optimizer,
      init: name.startsWith('stat.') ? { kind: 'zeros' as const } : { kind: 'uniform' as const, scale: 0.05 },
    })),
  };
}

function psCfg(denseOptimizer: UpdateRuleName): PsConfig {
  return { ...DEFAULT_CONFIG.ps, learningRate: 0.05, momentum: 0.9, clipNorm: 4, denseOptimizer, publishIntervalMs: 3_600_000 };
}

function rand(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296; };
}

/** Push k: every dense tensor, 1..12 distinct rows of every table; big gradients on some (clipped). */
function makePush(s: ParamSpec, k: number, r: () => number): GradientPush {
  const big = k % 3 === 0 ? 20 : 0.3;
  const dense = s.dense.map((d) => ({ name: d.name, values: Float32Array.from({ length: d.shape[0] * (d.shape[1] ?? 1) }, () => (r() * 2 - 1) * big) }));
  const sparse = s.tables.map((tb) => {
    const n = 1 + Math.floor(r() * 12);
    const ids = new Set<number>();
    while (ids.size < n) ids.add(Math.floor(r() * ROWS));
    const counter = tb.name.startsWith('stat.');
    return {
      table: tb.name, rows: Int32Array.from(ids),
      grads: Float32Array.from({ length: n * tb.dim }, () => (counter ? Math.floor(r() * 4) : (r() * 2 - 1) * big)),
    };
  });
  // Event times move forward, one push in four without one, and one arrives late.
  const eventTimeMs = k % 4 === 3 ? undefined : 1_764_000_000_000 + k * 7_000 - (k % 5 === 0 ? 20_000 : 0);
  return { worker: 'w', seq: k, baseVersion: k - 1, dense, sparse, examples: 8, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0, eventTimeMs };
}

/** Differences between two updaters' weights and slots, bit for bit (rows matched by id). */
function diffs(a: Updater, b: Updater): string[] {
  const out: string[] = [];
  const same = (x: Float32Array, y: Float32Array) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  for (const [name, d] of a.dense) {
    const e = b.dense.get(name)!;
    if (!same(d.weights, e.weights)) out.push(`${name} weights`);
    if (!same(d.slot, e.slot)) out.push(`${name} slots`);
  }
  for (const [name, tp] of a.tables) {
    const x = tp.arena, y = b.tables.get(name)!.arena;
    if (x.count !== y.count) { out.push(`${name}: ${x.count} rows vs ${y.count}`); continue; }
    for (let s = 0; s < x.count; s++) {
      const q = y.index.get(x.rowIds[s]);
      if (q < 0) { out.push(`${name} row ${x.rowIds[s]} missing`); continue; }
      if (!same(x.weights.subarray(s * x.dim, (s + 1) * x.dim), y.weights.subarray(q * y.dim, (q + 1) * y.dim))) out.push(`${name} row ${x.rowIds[s]} weights`);
      const sw = x.slotWidth;
      if (!same(x.slot.subarray(s * sw, (s + 1) * sw), y.slot.subarray(q * sw, (q + 1) * sw))) out.push(`${name} row ${x.rowIds[s]} slots`);
    }
  }
  return out;
}

for (const denseRule of UPDATE_RULE_NAMES) {
  t.test(`dense ${denseRule}, tables over every rule: PS shard and LocalParams hold the same bits`, async (t) => {
    const s = spec();
    const cfg = psCfg(denseRule);
    const store = new MemoryShardStore();
    const ps = await startShard(s, cfg, store);
    const local = new LocalParams(s, cfg);
    const r = rand(17);
    for (let k = 1; k <= 30; k++) {
      const p = makePush(s, k, r);
      await push(ps, p);
      local.apply({
        dense: new Map(p.dense.map((d) => [d.name, d.values])),
        sparse: new Map(p.sparse.map((x) => [x.table, { rows: x.rows, grads: x.grads }])),
        eventTimeMs: p.eventTimeMs,
      });
    }
    t.same(diffs(ps.updater, local.updater), [], 'weights and slots identical');
    t.ok(ps.updater.tables.get('emb.ftrl')!.arena.count > 10, 'rows were touched');
    // A row that a counter saw: exact integer sum when undecayed.
    const plain = ps.updater.tables.get('stat.plain')!.arena;
    t.ok(Array.from(plain.weights.subarray(0, plain.count)).every((v) => Number.isInteger(v)), 'plain counters are integers');

    // Restore: publish to the store, start a new shard from it: same state, and the same next step.
    await ps.state.handle({ kind: 'publish' });
    const again = await startShard(s, cfg, store);
    t.same(again.warnings, [], 'no slot was reset');
    t.same(diffs(ps.updater, again.updater), [], 'the restored shard holds the same weights and slots');
    const next = makePush(s, 31, r);
    await push(again, next);
    await push(ps, next);
    t.same(diffs(ps.updater, again.updater), [], 'and takes the next push to the same bits');
  });
}

t.test('slots another rule wrote are reset with a warning, not misread', async (t) => {
  const store = new MemoryShardStore();
  const before = spec({ 'emb.a': 'momentum' });
  const ps = await startShard(before, psCfg('momentum'), store);
  await push(ps, makePush(before, 1, rand(3)));
  await ps.state.handle({ kind: 'publish' });
  const w = ps.updater.tables.get('emb.a')!.arena.weights.slice();
  // Same tables, now Adam: 3 slots per float where the store has 1.
  const after = await startShard(spec({ 'emb.a': 'adam' }), psCfg('adam'), store);
  t.match(after.warnings.join('\n'), /do not fit the configured update rules/);
  const a = after.updater.tables.get('emb.a')!.arena;
  t.same(Array.from(a.weights.subarray(0, a.count * a.dim)), Array.from(w.subarray(0, a.count * a.dim)), 'weights restored');
  t.ok(a.slot.subarray(0, a.count * a.slotWidth).every((v) => v === 0), 'Adam slots start from zero');
  t.ok(after.updater.dense.get('l0.w')!.slot.every((v) => v === 0), 'dense slots too');
});

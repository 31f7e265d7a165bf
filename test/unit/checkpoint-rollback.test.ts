// A rollback restores the training state, not only the weights. A shard trained N pushes is
// checkpointed the way the gate does it (its full-state replica, FrozenWeights, the encoded
// blob), trained M more, rolled back; a fresh shard restores the same checkpoint; a reference
// Updater sees only the first N pushes. Each then takes the same next push: all three must
// hold the same weights and slots, bit for bit. A checkpoint without slots (format 1) must
// not: that is what the slots are for.
import t from 'tap';
import {
  DEFAULT_CONFIG, FrozenWeights, MemoryBus, MemoryShardStore, MemoryTransport, Replica, Updater,
  decodeCheckpoint, encode, encodeCheckpoint, readRowSlots, waitFor,
  type CheckpointBlob, type GradientPush, type ParamSpec, type PsConfig, type UpdateRuleName,
} from '../../shared/index.ts';
import { push, startShard, type Shard } from '../helpers/shard-state.ts';

const MODEL = 'rollback';
const ROWS = 40;
const N = 6;
const M = 5;

function spec(): ParamSpec {
  return {
    model: MODEL, seed: 9,
    dense: [{ name: 'w', shape: [8, 4], init: { kind: 'glorot' } }, { name: 'b', shape: [3], init: { kind: 'uniform', scale: 0.1 } }],
    tables: [
      { name: 'emb.adagrad', dim: 4, rows: ROWS, init: { kind: 'uniform', scale: 0.05 }, optimizer: 'adagrad' },
      { name: 'emb.ftrl', dim: 4, rows: ROWS, init: { kind: 'uniform', scale: 0.05 }, optimizer: { rule: 'ftrl', alpha: 0.2, beta: 1, l1: 0.02, l2: 0.01 } },
      { name: 'stat.count', dim: 1, rows: ROWS, init: { kind: 'zeros' }, optimizer: { rule: 'counter', halfLifeMs: 60_000 } },
    ],
  };
}

const cfgFor = (denseOptimizer: UpdateRuleName): PsConfig =>
  ({ ...DEFAULT_CONFIG.ps, learningRate: 0.05, momentum: 0.9, clipNorm: 3, denseOptimizer, publishIntervalMs: 3_600_000 });

function rand(seed: number): () => number {
  let x = seed;
  return () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) / 4294967296; };
}

/** Push `seq`: every tensor, 1..10 distinct rows of every table (ids from a small range, so pushes overlap). */
function makePush(s: ParamSpec, seq: number, r: () => number): GradientPush {
  const big = seq % 3 === 0 ? 10 : 0.4;
  const dense = s.dense.map((d) => ({ name: d.name, values: Float32Array.from({ length: d.shape[0] * (d.shape[1] ?? 1) }, () => (r() * 2 - 1) * big) }));
  const sparse = s.tables.map((tb) => {
    const ids = new Set<number>();
    const n = 1 + Math.floor(r() * 10);
    while (ids.size < n) ids.add(Math.floor(r() * 16));
    const counter = tb.name.startsWith('stat.');
    return { table: tb.name, rows: Int32Array.from(ids), grads: Float32Array.from({ length: n * tb.dim }, () => (counter ? 1 + Math.floor(r() * 3) : (r() * 2 - 1) * big)) };
  });
  return { worker: 'w', seq, baseVersion: 0, dense, sparse, examples: 4, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0, eventTimeMs: 1_764_000_000_000 + seq * 9_000 };
}

/**
 * Differences in weights and every slot, bit for bit, over every row either side holds (a
 * rolled-back shard holds rows at their initial state that the reference never touched).
 */
function diffs(a: Updater, b: Updater): string[] {
  const out: string[] = [];
  const same = (x: Float32Array, y: Float32Array) => x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
  for (const [name, d] of a.dense) {
    const e = b.dense.get(name)!;
    if (!same(d.weights, e.weights)) out.push(`${name} weights`);
    if (!same(d.slot, e.slot)) out.push(`${name} slots`);
  }
  for (const [name, ta] of a.tables) {
    const tb = b.tables.get(name)!;
    const ids = Int32Array.from(new Set([...ta.arena.rowIds.subarray(0, ta.arena.count), ...tb.arena.rowIds.subarray(0, tb.arena.count)]));
    const dim = ta.arena.dim;
    const wa = new Float32Array(ids.length * dim), wb = new Float32Array(ids.length * dim);
    for (let i = 0; i < ids.length; i++) { ta.arena.readRow(ids[i], wa, i * dim); tb.arena.readRow(ids[i], wb, i * dim); }
    if (!same(wa, wb)) out.push(`${name} weights`);
    for (const slot of ta.rule.slotsOf(ta.hp)) {
      readRowSlots(ta.arena, ta, slot, ids, wa);
      readRowSlots(tb.arena, tb, slot, ids, wb);
      if (!same(wa, wb)) out.push(`${name}/${slot}`);
    }
  }
  return out;
}

/** Trains N pushes, checkpoints through a full-state replica, trains M more; returns the shard and the checkpoint. */
async function trainAndCheckpoint(s: ParamSpec, cfg: PsConfig, pushes: GradientPush[]): Promise<{ a: Shard; blob: CheckpointBlob; replica: Replica }> {
  const bus = new MemoryBus();
  const store = new MemoryShardStore();
  const a = await startShard(s, cfg, store, bus);
  const replica = new Replica(s, 1, store, { slots: 'full', ps: cfg });
  await replica.start(new MemoryTransport(bus), MODEL);
  for (const p of pushes.slice(0, N)) await push(a, p);
  await a.state.handle({ kind: 'publish' });
  await waitFor(() => replica.shards[0].version === N, 2000, 'the replica follows the state deltas');
  // As the gate saves one: FrozenWeights of the replica, encoded.
  const blob = decodeCheckpoint(encodeCheckpoint(FrozenWeights.fromReplica(replica).toBlob()));
  for (const p of pushes.slice(N, N + M)) await push(a, p);
  await a.state.handle({ kind: 'publish' });
  return { a, blob, replica };
}

for (const denseRule of ['adagrad', 'ftrl'] as const) {
  t.test(`dense ${denseRule}, tables adagrad / ftrl / decaying counter: rollback continues as from the checkpoint`, async (t) => {
    const s = spec();
    const cfg = cfgFor(denseRule);
    const r = rand(denseRule === 'adagrad' ? 3 : 4);
    const pushes = Array.from({ length: N + M + 1 }, (_, i) => makePush(s, i + 1, r));
    const next = pushes[N + M];
    const { a, blob, replica } = await trainAndCheckpoint(s, cfg, pushes);
    t.teardown(() => replica.stop());
    t.same(blob.versions, [N], 'checkpoint at version N');
    t.ok(blob.tables.every((x) => x.slot && x.slot.length > 0) && blob.dense.every((x) => x.slot && x.slot.length > 0), 'the checkpoint carries every slot');

    const ref = new Updater(s, cfg);
    for (const p of pushes.slice(0, N)) ref.apply(p, 1);
    t.not(diffs(a.updater, ref).length, 0, 'the M pushes moved the shard away from the checkpoint');

    await a.state.handle({ kind: 'restore', checkpointId: 1, blob });
    t.same(diffs(a.updater, ref), [], 'rolled back: the state at the checkpoint');
    const fresh = await startShard(s, cfg);
    await fresh.state.handle({ kind: 'restore', checkpointId: 1, blob });
    t.same(diffs(fresh.updater, ref), [], 'a fresh shard restored from the checkpoint: the same state');
    t.same([...a.warnings, ...fresh.warnings].filter((w) => w.includes('lacks')), [], 'no slot was reset');

    await push(a, next);
    await push(fresh, next);
    ref.apply(next, 1);
    t.same(diffs(a.updater, ref), [], 'the rolled-back shard takes the next push to the same bits');
    t.same(diffs(fresh.updater, ref), [], 'so does the fresh shard');
  });
}

t.test('a checkpoint without slots (format 1) restores the weights and resets the slots, with a warning', async (t) => {
  const s = spec();
  const cfg = cfgFor('adagrad');
  const r = rand(5);
  const pushes = Array.from({ length: N + M + 1 }, (_, i) => makePush(s, i + 1, r));
  const { a, blob, replica } = await trainAndCheckpoint(s, cfg, pushes);
  t.teardown(() => replica.stop());
  const old: CheckpointBlob = {
    versions: blob.versions, createdAtMs: blob.createdAtMs,
    dense: blob.dense.map((d) => ({ name: d.name, values: d.values })),
    tables: blob.tables.map((x) => ({ table: x.table, rows: x.rows, values: x.values })),
  };
  await a.state.handle({ kind: 'restore', checkpointId: 1, blob: decodeCheckpoint(encode(old)) });
  const ref = new Updater(s, cfg);
  for (const p of pushes.slice(0, N)) ref.apply(p, 1);
  const d = diffs(a.updater, ref);
  t.ok(d.length > 0 && d.every((x) => !x.endsWith('weights')), `weights equal, slots differ: ${d.join(', ')}`);
  t.ok(a.warnings.some((w) => w.includes('lacks the optimizer slots')), 'warned');
});

t.test('decodeCheckpoint refuses what is not a checkpoint of a format it knows', async (t) => {
  const good = { versions: [1], dense: [], tables: [], createdAtMs: 0 };
  t.same(decodeCheckpoint(encodeCheckpoint(good)).versions, [1]);
  t.throws(() => decodeCheckpoint(encode({ ...good, format: 3 })), /format 3 is not one this reader knows/);
  t.throws(() => decodeCheckpoint(encode({ ...good, dense: [{ name: 'w', values: [1, 2] }] })), /Float32Array values/);
  t.throws(() => decodeCheckpoint(encode({ ...good, tables: [{ table: 'x', rows: new Int32Array(1), values: new Float32Array(1), slot: 'no' }] })), /optional Float32Array slot/);
  t.throws(() => decodeCheckpoint(encode({ ...good, rules: { w: 7 } })), /rules must map/);
  t.throws(() => decodeCheckpoint(new Uint8Array([0xc1])), /not a checkpoint/);
});

import t from 'tap';
import { encode, initRow, ownerOfDense, denseSize, type RowsState } from '../../shared/index.ts';
import { PsHarness, psConfig, MODEL } from '../helpers/ps-harness.ts';

const TABLE = 'emb.a';

async function storedRow(h: PsHarness, k: number, table: string, row: number, withSlot = false): Promise<Float32Array> {
  const snap = await h.store.read(MODEL, k, [table], true);
  const rs = snap!.sparse[0] as RowsState;
  const i = Array.from(rs.rows).indexOf(row);
  if (i < 0) throw new Error(`row ${row} not stored`);
  return (withSlot ? rs.slot! : rs.weights).slice(i * 2, i * 2 + 2);
}

function initial(h: PsHarness, table: string, row: number): Float32Array {
  const out = new Float32Array(2);
  initRow(h.spec.tables.find((x) => x.name === table)!, row, h.spec.seed, out, 0);
  return out;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => Array.from(a).every((x, i) => Math.abs(x - b[i]) < tol);

t.test('lazy sparse momentum: only touched rows move, momentum per row', async (t) => {
  const h = await new PsHarness().start();
  t.teardown(() => h.stop());
  const r = h.rowOwnedBy(TABLE, 0, 0);
  const s = h.rowOwnedBy(TABLE, 0, 1);
  const w0r = initial(h, TABLE, r);
  const w0s = initial(h, TABLE, s);
  // push 1 touches r with g = [1, -2]:  v_r = [1, -2], w_r = w0 - 0.1*v_r
  let rep = await h.push(0, { seq: 1, sparse: [{ table: TABLE, rows: new Int32Array([r]), grads: new Float32Array([1, -2]) }] });
  t.ok(rep.ok && rep.version === 1, 'version 1');
  // push 2 touches only s with g = [0.5, 0.5]: r must not move (a dense momentum would move it by 0.1*0.9*v_r)
  rep = await h.push(0, { seq: 2, sparse: [{ table: TABLE, rows: new Int32Array([s]), grads: new Float32Array([0.5, 0.5]) }] });
  t.ok(rep.ok && rep.version === 2);
  await h.publish(0);
  t.ok(close(await storedRow(h, 0, TABLE, r), [w0r[0] - 0.1, w0r[1] + 0.2]), 'r moved once, by lr*g');
  t.ok(close(await storedRow(h, 0, TABLE, r, true), [1, -2]), 'r momentum = g');
  t.ok(close(await storedRow(h, 0, TABLE, s), [w0s[0] - 0.05, w0s[1] - 0.05]), 's started from zero momentum');
  // push 3 touches r again with g = [0, 0]: v_r = 0.9*[1,-2] = [0.9,-1.8]; w_r -= 0.1*v_r
  await h.push(0, { seq: 3, sparse: [{ table: TABLE, rows: new Int32Array([r]), grads: new Float32Array([0, 0]) }] });
  await h.publish(0);
  t.ok(close(await storedRow(h, 0, TABLE, r), [w0r[0] - 0.1 - 0.09, w0r[1] + 0.2 + 0.18]), 'momentum carried on the next touch');
});

t.test('a repeated (worker, seq) is applied once', async (t) => {
  const h = await new PsHarness().start();
  t.teardown(() => h.stop());
  const r = h.rowOwnedBy(TABLE, 1);
  const push = { worker: 'wx', seq: 42, sparse: [{ table: TABLE, rows: new Int32Array([r]), grads: new Float32Array([1, 1]) }] };
  const a = await h.push(1, push);
  const b = await h.push(1, push);
  t.ok(a.ok && !a.duplicate && a.version === 1);
  t.ok(b.ok && b.duplicate && b.version === 1, 'second is a duplicate, version unchanged');
  const c = await h.push(1, { ...push, worker: 'other' });
  t.ok(c.ok && c.version === 2, 'same seq from another worker is applied');
});

t.test('bad pushes get a reason and change neither weights nor version', async (t) => {
  const h = await new PsHarness().start();
  t.teardown(() => h.stop());
  const r0 = h.rowOwnedBy(TABLE, 0);
  const r1 = h.rowOwnedBy(TABLE, 1);
  await h.push(0, { seq: 1, sparse: [{ table: TABLE, rows: new Int32Array([r0]), grads: new Float32Array([1, 1]) }] });
  await h.publish(0);
  const before = await h.store.read(MODEL, 0, [TABLE], true);
  const owned = h.spec.dense.find((d) => ownerOfDense(d.name, 2) === 0)!;
  const cases: [string, object | Uint8Array][] = [
    ['NON_FINITE', { sparse: [{ table: TABLE, rows: new Int32Array([r0]), grads: new Float32Array([NaN, 1]) }] }],
    ['NON_FINITE', { dense: [{ name: owned.name, values: new Float32Array(denseSize(owned)).fill(Infinity) }] }],
    ['WRONG_SHAPE', { sparse: [{ table: TABLE, rows: new Int32Array([r0]), grads: new Float32Array([1, 1, 1]) }] }],
    ['WRONG_SHAPE', { dense: [{ name: owned.name, values: new Float32Array(1) }] }],
    ['WRONG_SHAPE', { sparse: [{ table: TABLE, rows: new Int32Array([64]), grads: new Float32Array([1, 1]) }] }],
    ['UNKNOWN_PARAMETER', { sparse: [{ table: 'emb.nope', rows: new Int32Array([r0]), grads: new Float32Array([1, 1]) }] }],
    ['NOT_OWNER', { sparse: [{ table: TABLE, rows: new Int32Array([r1]), grads: new Float32Array([1, 1]) }] }],
    ['FUTURE_VERSION', { baseVersion: 99 }],
    ['BAD_MESSAGE', new Uint8Array([1, 2, 3, 0xc1])],
    ['BAD_MESSAGE', encode({ worker: 'w', seq: 'x' })],
  ];
  let seq = 10;
  for (const [code, c] of cases) {
    const rep = c instanceof Uint8Array ? await h.pushRaw(0, c) : await h.push(0, { seq: seq++, ...c });
    t.ok(!rep.ok && rep.error.code === code, `${code}: ${rep.ok ? 'accepted!' : rep.error.message}`);
  }
  t.equal(h.shards[0].version, 1, 'version unchanged');
  await h.publish(0);
  t.same(await h.store.read(MODEL, 0, [TABLE], true), before, 'stored weights and momentum unchanged');
});

t.test('bounded staleness rejects pushes older than maxStaleness', async (t) => {
  const h = await new PsHarness(1, psConfig({ consistency: 'bounded', maxStaleness: 2 })).start();
  t.teardown(() => h.stop());
  const r = h.rowOwnedBy(TABLE, 0);
  const g = { sparse: [{ table: TABLE, rows: new Int32Array([r]), grads: new Float32Array([1, 1]) }] };
  for (let i = 1; i <= 3; i++) await h.push(0, { seq: i, ...g });
  const ok = await h.push(0, { seq: 4, baseVersion: 1, ...g });
  t.ok(ok.ok, 'staleness 2 accepted');
  const stale = await h.push(0, { seq: 5, baseVersion: 1, ...g });
  t.ok(!stale.ok && stale.error.code === 'STALE_GRADIENT' && stale.error.retryable, 'staleness 3 rejected, retryable');
});

t.test('a shard restarted from the store keeps version, weights and momentum', async (t) => {
  const h = await new PsHarness(1).start();
  const r = h.rowOwnedBy(TABLE, 0);
  const g = { sparse: [{ table: TABLE, rows: new Int32Array([r]), grads: new Float32Array([1, -1]) }] };
  await h.push(0, { seq: 1, ...g });
  await h.push(0, { seq: 2, ...g });
  await h.publish(0);
  const epoch1 = h.shards[0].epoch;
  await h.shards[0].stop();
  const restarted = await h.startShard(0);
  h.shards[0] = restarted;
  t.teardown(() => h.stop());
  t.equal(restarted.version, 2, 'version restored');
  t.ok(restarted.epoch > epoch1, 'a new epoch');
  const dup = await h.push(0, { seq: 2, ...g });
  t.ok(dup.ok && dup.duplicate, 'de-duplication memory survived the restart');
  // v = [1.9, -1.9] after 2 pushes; a third push of g: v = 0.9*1.9 + 1 = 2.71, so w moves by 0.271
  const before = await storedRow(h, 0, TABLE, r);
  await h.push(0, { seq: 3, ...g });
  await h.publish(0);
  const after = await storedRow(h, 0, TABLE, r);
  t.ok(close([before[0] - after[0], after[1] - before[1]], [0.271, 0.271], 1e-5), 'momentum restored: the step continues the sequence');
});

t.test('a shard whose store lost everything while it was down continues its versions under a new epoch', async (t) => {
  const h = await new PsHarness(1).start();
  const r = h.rowOwnedBy(TABLE, 0);
  const g = { sparse: [{ table: TABLE, rows: new Int32Array([r]), grads: new Float32Array([1, -1]) }] };
  await h.push(0, { seq: 1, ...g });
  await h.push(0, { seq: 2, ...g });
  await h.publish(0);
  const epoch1 = h.shards[0].epoch;
  t.same(await h.ledger.read(MODEL, 0), { epoch: epoch1, version: 2 }, 'the ledger holds what was published');
  await h.shards[0].stop();
  h.store.wipe(); // snapshot and epoch counter gone
  const restarted = await h.startShard(0);
  h.shards[0] = restarted;
  t.teardown(() => h.stop());
  t.equal(restarted.version, 2, 'versions go on from the ledger\'s, not from 0');
  t.ok(restarted.epoch > epoch1, `a new epoch above the old one (${restarted.epoch} > ${epoch1}) although the store forgot its counter`);
  t.equal(restarted.restoredEpoch, 0, 'and it says it restored nothing');
  const p = await h.push(0, { seq: 3, baseVersion: 2, ...g });
  t.ok(p.ok, 'a worker at version 2 is not refused as from the future');
  await h.publish(0);
  t.equal((await h.store.read(MODEL, 0, [TABLE], false))?.meta.version, 3, 'and the store holds the shard again');
});

t.test('an idle shard puts its snapshot back into a store that restarted empty', async (t) => {
  const h = await new PsHarness(1).start();
  t.teardown(() => h.stop());
  await h.push(0, { seq: 1, sparse: [{ table: TABLE, rows: new Int32Array([h.rowOwnedBy(TABLE, 0)]), grads: new Float32Array([1, -1]) }] });
  await h.publish(0);
  h.store.wipe();
  t.notOk(await h.store.hasSnapshot(MODEL, 0));
  await h.publish(0); // nothing new to write: the idle check finds the store empty
  t.ok(await h.store.hasSnapshot(MODEL, 0), 'rewritten without waiting for the next push');
  t.equal((await h.store.read(MODEL, 0, [TABLE], false))?.meta.version, 1);
});

t.test('restore puts every owned value back to the checkpoint, clears momentum, bumps the version', async (t) => {
  const h = await new PsHarness(1).start();
  t.teardown(() => h.stop());
  const r = h.rowOwnedBy(TABLE, 0, 0);
  const s = h.rowOwnedBy(TABLE, 0, 1);
  const g = (row: number) => ({ sparse: [{ table: TABLE, rows: new Int32Array([row]), grads: new Float32Array([1, 1]) }] });
  await h.push(0, { seq: 1, ...g(r) });
  await h.push(0, { seq: 2, ...g(s) });
  const dense = h.spec.dense.map((d) => ({ name: d.name, values: new Float32Array(denseSize(d)).fill(0.5) }));
  // The checkpoint knows row r (with values 7, 8) but not s, which came later.
  const blob = { versions: [1], createdAtMs: 0, dense, tables: [{ table: TABLE, rows: new Int32Array([r]), values: new Float32Array([7, 8]) }] };
  h.shards[0].actor.tell({ kind: 'restore', checkpointId: 1, blob });
  await h.shards[0].actor.idle();
  t.equal(h.shards[0].version, 3, 'a restore is a new version');
  await h.publish(0);
  t.same(Array.from(await storedRow(h, 0, TABLE, r)), [7, 8], 'row in the checkpoint: its values');
  t.same(Array.from(await storedRow(h, 0, TABLE, r, true)), [0, 0], 'momentum cleared');
  t.ok(close(await storedRow(h, 0, TABLE, s), initial(h, TABLE, s)), 'row the checkpoint lacks: back to its initial value');
  const snap = await h.store.read(MODEL, 0, [TABLE], true);
  t.ok(snap!.dense.every((d) => d.weights.every((x) => x === 0.5)), 'dense tensors from the checkpoint');
});

t.test('a row twice in one push is refused and changes nothing', async (t) => {
  const h = await new PsHarness(1).start();
  t.teardown(() => h.stop());
  const r = h.rowOwnedBy(TABLE, 0);
  const rep = await h.push(0, { seq: 1, sparse: [{ table: TABLE, rows: new Int32Array([r, r]), grads: new Float32Array([1, 1, 1, 1]) }] });
  t.ok(!rep.ok && rep.error.code === 'WRONG_SHAPE' && rep.error.message.includes('appears twice'), rep.ok ? 'accepted!' : rep.error.message);
  t.equal(h.shards[0].version, 0, 'version unchanged');
});

import t from 'tap';
import { ReplayReservoir } from '../../shared/index.ts';

t.test('the reservoir keeps a uniform sample of everything seen', async (t) => {
  const r = new ReplayReservoir(1000, 1, 3);
  // 100,000 examples whose id is their index: a uniform sample has mean ~50,000.
  const ids = Int32Array.from({ length: 100_000 }, (_, i) => i);
  const labels = new Float32Array(100_000);
  r.add(ids, labels, 100_000);
  t.equal(r.size, 1000);
  t.equal(r.seen, 100_000);
  const mixed = r.mix(new Int32Array(0), new Float32Array(0), 0, 1000);
  const mean = mixed.ids.reduce((a, b) => a + b, 0) / mixed.size;
  // The standard error of the mean of 1,000 uniform draws on [0, 1e5) is ~913: allow 4 of them.
  t.ok(Math.abs(mean - 50_000) < 3700, `sample mean ${mean.toFixed(0)} (old and recent alike)`);
});

t.test('mix puts the fresh examples first and adds k replayed ones', async (t) => {
  const r = new ReplayReservoir(10, 2, 1);
  r.add(new Int32Array([7, 7, 8, 8]), new Float32Array([1, 0]), 2);
  const fresh = new Int32Array([1, 2, 3, 4]);
  const m = r.mix(fresh, new Float32Array([0, 1]), 2, 3);
  t.equal(m.size, 5);
  t.same(Array.from(m.ids.subarray(0, 4)), [1, 2, 3, 4]);
  t.same(Array.from(m.labels.subarray(0, 2)), [0, 1]);
  for (let i = 2; i < 5; i++) t.ok(m.ids[i * 2] === 7 || m.ids[i * 2] === 8, 'replayed from the reservoir');
  const empty = new ReplayReservoir(10, 2, 1).mix(fresh, new Float32Array([0, 1]), 2, 3);
  t.equal(empty.size, 2, 'nothing to replay yet: the fresh batch alone');
});

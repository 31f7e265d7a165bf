import t from 'tap';
import { BatchAccumulator, BatchReservoir, BatchRing, emptyBatch, sliceBatch, type Batch } from '../../shared/index.ts';

const shape = { idWidth: 2, denseWidth: 1, targetWidth: 1 };

/** n examples whose ids are (base+i, base+i), dense value base+i and target (base+i) mod 2. */
function batchOf(n: number, base: number): Batch {
  const b = emptyBatch(shape, n);
  for (let i = 0; i < n; i++) {
    b.ids[2 * i] = b.ids[2 * i + 1] = base + i;
    b.dense[i] = base + i;
    b.targets[i] = (base + i) % 2;
    b.eventTs[i] = 1000 + base + i;
  }
  return b;
}

t.test('the reservoir keeps a uniform sample of everything seen', async (t) => {
  const r = new BatchReservoir(1000, { idWidth: 1, denseWidth: 0, targetWidth: 1 }, 3);
  // 100,000 examples whose id is their index: a uniform sample has mean ~50,000.
  const b = emptyBatch({ idWidth: 1, denseWidth: 0, targetWidth: 1 }, 100_000);
  b.ids.forEach((_, i) => { b.ids[i] = i; });
  r.add(b);
  t.equal(r.size, 1000);
  t.equal(r.seen, 100_000);
  const mixed = r.mix(emptyBatch({ idWidth: 1, denseWidth: 0, targetWidth: 1 }), 1000);
  const mean = mixed.ids.reduce((a, x) => a + x, 0) / mixed.size;
  // The standard error of the mean of 1,000 uniform draws on [0, 1e5) is ~913: allow 4 of them.
  t.ok(Math.abs(mean - 50_000) < 3700, `sample mean ${mean.toFixed(0)} (old and recent alike)`);
});

t.test('mix puts the fresh examples first and adds k replayed ones, every array with them', async (t) => {
  const r = new BatchReservoir(10, shape, 1);
  r.add(batchOf(2, 7));
  const m = r.mix(batchOf(2, 1), 3);
  t.equal(m.size, 5);
  t.same(Array.from(m.ids.subarray(0, 4)), [1, 1, 2, 2]);
  t.same(Array.from(m.targets.subarray(0, 2)), [1, 0]);
  for (let i = 2; i < 5; i++) {
    t.ok(m.ids[i * 2] === 7 || m.ids[i * 2] === 8, 'replayed from the reservoir');
    t.equal(m.dense[i], m.ids[i * 2], 'dense features travel with their example');
    t.equal(m.targets[i], m.ids[i * 2] % 2, 'targets travel with their example');
    t.equal(m.eventTs[i], 1000 + m.ids[i * 2]);
  }
  t.equal(new BatchReservoir(10, shape, 1).mix(batchOf(2, 1), 3).size, 2, 'nothing to replay yet: the fresh batch alone');
});

t.test('the ring keeps the most recent examples; the accumulator concatenates in order', async (t) => {
  const ring = new BatchRing(3, shape);
  ring.add(batchOf(5, 0));
  t.equal(ring.size, 3);
  t.same(Array.from(ring.view().dense).sort(), [2, 3, 4], 'the last three of five');
  const acc = new BatchAccumulator(shape);
  acc.add(batchOf(2, 0));
  acc.add(sliceBatch(batchOf(4, 10), 1, 3));
  const all = acc.take();
  t.same(Array.from(all.dense), [0, 1, 11, 12]);
  t.same(Array.from(all.ids), [0, 0, 1, 1, 11, 11, 12, 12]);
  t.equal(acc.take().size, 0, 'taking empties it');
});

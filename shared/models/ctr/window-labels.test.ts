// The CTR kind with a `window` label rule: a view is scored at once and labelled by the user's
// action on the item within the window (or, when it closes, as a negative), through the label
// joiner; the model trains only the labelled examples of a step and scores them all.
import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { FlywheelEvent } from '../../events.ts';
import { MapWeights } from '../../../test/helpers/map-weights.ts';
import { CTR_MODEL_DEFAULTS, ctrConfigSchema, type CtrModelConfig } from './config.ts';
import { CtrExampleSource } from './examples.ts';
import { CtrModel } from './model.ts';
import { ctrParamSpec } from './spec.ts';

const MIN = 60_000;
const ev = (user: string, item: string, type: FlywheelEvent['type'], minute: number): FlywheelEvent => ({ userId: user, itemId: item, type, ts: minute * MIN });

const STREAM = [
  ev('u1', 'a', 'view', 0), ev('u1', 'b', 'view', 1), ev('u2', 'a', 'view', 2),
  ev('u1', 'a', 'view', 3), // a second view of a while the first waits: not an example
  ev('u1', 'a', 'cart', 10), // u1 converts on a: positive
  ev('u2', 'c', 'buy', 11), // no view of c: nothing
  ev('u3', 'z', 'view', 40), // 40 min: the windows of u1/a (0), u1/b (1) and u2/a (2) have closed
];
const rowsOf = (b: ReturnType<CtrExampleSource['push']>) => Array.from({ length: b.size }, (_, i) => [b.refs![i], b.targets[i]]);

t.test('window labels: scored at the view, labelled by an action within the window or as a negative when it closes', async (t) => {
  const rule = { kind: 'window', positive: ['cart', 'buy'], windowMinutes: 30 };
  const src = new CtrExampleSource(ctrConfigSchema.parse({ fields: ['user', 'item'], buckets: 64, labels: rule }), 1);
  t.equal(src.stateByShard, true, 'the pending views follow the event shard');
  const b = src.push(STREAM);
  t.same(rowsOf(b), [[0, NaN], [1, NaN], [2, NaN], [0, 1], [1, 0], [2, 0], [3, NaN]],
    'views scored (NaN); at the windows\' end u1/a is released as 1 (its cart), u1/b and u2/a as 0; u3/z waits');
  t.same(Array.from(b.ids.subarray(6, 8)), Array.from(b.ids.subarray(0, 2)), 'a labelled view keeps the features it was scored with');
  const c = src.counters();
  t.same([c.admitted, c.joined, c.expired, c.duplicates, c.unmatched, c.pending], [4, 1, 2, 1, 1, 1]);
  // release: 'outcome' trains the conversion as it comes, the non-conversions at their window's end.
  const early = new CtrExampleSource(ctrConfigSchema.parse({ fields: ['user', 'item'], buckets: 64, labels: { ...rule, release: 'outcome' } }), 1);
  t.same(rowsOf(early.push(STREAM.slice(0, 5))), [[0, NaN], [1, NaN], [2, NaN], [0, 1]], "release 'outcome': the cart releases u1/a at once");
  const late = new CtrExampleSource(ctrConfigSchema.parse({ fields: ['user', 'item'], buckets: 64, labels: rule }), 1);
  t.same(rowsOf(late.push(STREAM.slice(0, 5))), [[0, NaN], [1, NaN], [2, NaN]], 'by default it waits for the window to close');
  t.throws(() => ctrConfigSchema.parse({ labels: { kind: 'window', positive: [], windowMinutes: 30 } }), /must list event types/);
});

t.test('a step with labels still to come trains the labelled examples only and scores every one', async (t) => {
  await tf.setBackend('cpu');
  const cfg: CtrModelConfig = { ...CTR_MODEL_DEFAULTS, fields: ['a', 'b'], embDim: 3, buckets: 16, hidden: [4] };
  const spec = ctrParamSpec('m', 3, cfg);
  const model = new CtrModel(spec, cfg);
  const w = new MapWeights(spec);
  const mixed = { size: 4, ids: Int32Array.from([1, 2, 3, 4, 1, 5, 6, 7]), targets: Float32Array.from([1, NaN, 0, NaN]) };
  const known = { size: 2, ids: Int32Array.from([1, 2, 1, 5]), targets: Float32Array.from([1, 0]) };
  const r = model.trainStep(mixed, w);
  const k = model.trainStep(known, w);
  t.same(Array.from(r.predictions), Array.from(model.predict(mixed, w)), 'every example scored with the step\'s weights');
  t.ok(Math.abs(r.loss - k.loss) < 1e-6, 'the loss is that of the labelled examples');
  for (const [name, g] of k.sparse) {
    t.same(Array.from(r.sparse.get(name)!.rows), Array.from(g.rows), `${name}: the labelled examples' rows only`);
    t.ok(Array.from(r.sparse.get(name)!.grads).every((x, i) => Math.abs(x - g.grads[i]) < 1e-6), `${name}: the same gradients`);
  }
  const none = model.trainStep({ size: 1, ids: Int32Array.from([1, 2]), targets: Float32Array.from([NaN]) }, w);
  t.equal(none.sparse.size + none.dense.size, 0, 'nothing labelled: nothing to push');
  t.equal(none.predictions.length, 1);
});

// The CTR baselines: counts and the FTRL logistic regression on tiny streams worked out by
// hand, popularity's order, bad batches refused without learning, and on a planted-truth
// stream the logistic regression beating the best constant predictor in prequential logloss.
import t from 'tap';

/** What the helper below asserts with: a subtest's ok and equal. */
type Asserts = Pick<typeof t, 'ok' | 'equal'>;
import { ConfigError, WrongShapeError } from '../../errors.ts';
import { mulberry32 } from '../../hash.ts';
import { binaryMetric } from '../../metrics/binary.ts';
import type { Batch } from '../batch.ts';
import { CTR_MODEL_DEFAULTS } from './config.ts';
import { FtrlLogisticRegression, SmoothedRates, ctrBaselines } from './baselines.ts';

/** A batch of [user, item] row ids and 0/1 labels. */
function batch(rows: [number, number][], labels: number[] = rows.map(() => 0)): Batch {
  return {
    size: rows.length, idWidth: 2, ids: Int32Array.from(rows.flat()), dense: new Float32Array(0), denseWidth: 0,
    targets: Float32Array.from(labels), targetWidth: 1, eventTs: new Float64Array(rows.length),
  };
}

const near = (t: Asserts, got: Float32Array, want: number[], msg: string) => {
  t.equal(got.length, want.length, `${msg}: one prediction per example`);
  want.forEach((w, i) => t.ok(Math.abs(got[i] - w) < 1e-6, `${msg} [${i}]: ${got[i]} vs ${w}`));
};

t.test('counts: mean of the user and item rates, each (pos + 5g) / (n + 5), learnt after each batch', (t) => {
  const counts = new SmoothedRates('counts', [0, 1], 2, 4);
  // Batch 1: (u0, i0, 1), (u0, i1, 0), (u1, i0, 0). Nothing seen yet: g = 0, every rate 0.
  const b1 = batch([[0, 0], [0, 1], [1, 0]], [1, 0, 0]);
  near(t, counts.predict(b1), [0, 0, 0], 'batch 1');
  counts.learn(b1);
  // Now g = 1/3; u0: n 2, pos 1; u1: n 1, pos 0; i0: n 2, pos 1; i1: n 1, pos 0.
  //   (u0, i0): u0 (1 + 5/3) / 7 = 8/21, i0 8/21          -> 8/21
  //   (u1, i1): u1 (0 + 5/3) / 6 = 5/18, i1 5/18          -> 5/18
  //   (u2, i0): u2 unseen (5/3) / 5 = 1/3, i0 8/21        -> (7/21 + 8/21) / 2 = 5/14
  const b2 = batch([[0, 0], [1, 1], [2, 0]], [0, 1, 1]);
  near(t, counts.predict(b2), [8 / 21, 5 / 18, 5 / 14], 'batch 2');
  counts.learn(b2);
  // g = 3/6 = 1/2; u2: n 1, pos 1 -> (1 + 2.5) / 6 = 7/12; i0: n 4, pos 2 -> (2 + 2.5) / 9 = 1/2.
  near(t, counts.predict(batch([[2, 0]])), [(7 / 12 + 1 / 2) / 2], 'batch 3');
  t.end();
});

t.test('popularity: the item\'s smoothed rate, higher for the item with more positives at equal impressions', (t) => {
  const pop = new SmoothedRates('popularity', [1], 2, 4);
  pop.learn(batch([[0, 0], [1, 0], [2, 1], [3, 1]], [1, 1, 1, 0]));
  // g = 3/4; i0: (2 + 3.75) / 7, i1: (1 + 3.75) / 7, i3 unseen: 3/4.
  near(t, pop.predict(batch([[0, 0], [0, 1], [0, 3]])), [5.75 / 7, 4.75 / 7, 0.75], 'after one batch');
  t.end();
});

t.test('ftrl-lr: the first two updates by hand (alpha 0.5, beta 1, no regularisation)', (t) => {
  const lr = new FtrlLogisticRegression(2, 4, { alpha: 0.5, beta: 1, l1: 0, l2: 0 });
  const at = (f: number, row: number) => f * 4 + row;
  const BIAS = 8;
  const b1 = batch([[0, 0], [0, 1]], [1, 0]);
  near(t, lr.predict(b1), [0.5, 0.5], 'batch 1, every weight 0');
  lr.learn(b1);
  // Example 1 (u0, i0, y 1): p = 0.5, g = -0.5. On bias, u0, i0: n = 0.25,
  //   sigma = (sqrt(0.25) - 0) / 0.5 = 1, z = -0.5 - 1 * 0 = -0.5,
  //   w = 0.5 / ((1 + 0.5) / 0.5) = 1/6.
  // Example 2 (u0, i1, y 0): logit = 1/6 + 1/6 + 0 = 1/3, p = sigmoid(1/3) = 0.582570, g = 0.582570.
  //   bias, u0: n = 0.25 + 0.339388 = 0.589388 (sqrt 0.767716), sigma = (0.767716 - 0.5) / 0.5 = 0.535432,
  //     z = -0.5 + 0.582570 - 0.535432 / 6 = -0.0066685, w = 0.0066685 / (1.767716 / 0.5) = 0.0018862.
  //   i1: n = 0.339388 (sqrt 0.582570), sigma = 1.165140, z = 0.582570, w = -0.582570 / (1.582570 / 0.5) = -0.184058.
  //   i0 keeps 1/6.
  for (const [i, w] of [[BIAS, 0.0018862], [at(0, 0), 0.0018862], [at(1, 0), 1 / 6], [at(1, 1), -0.184058], [at(0, 1), 0]]) {
    t.ok(Math.abs(lr.weight(i) - w) < 1e-6, `weight ${i}: ${lr.weight(i)} vs ${w}`);
  }
  // (u0, i0): sigmoid(0.0018862 * 2 + 1/6) = sigmoid(0.170439) = 0.542507
  // (u1, i1): sigmoid(0.0018862 - 0.184058) = sigmoid(-0.182172) = 0.454583
  near(t, lr.predict(batch([[0, 0], [1, 1]])), [0.5425069, 0.4545825], 'batch 2');
  t.end();
});

t.test('ftrl-lr: l1 keeps a weight at 0 until |z| exceeds it', (t) => {
  const lr = new FtrlLogisticRegression(2, 4, { alpha: 0.5, beta: 1, l1: 1, l2: 0 });
  // After (u0, i0, 1): z = -0.5 on bias, u0, i0 (as above); |z| <= 1, so every weight stays 0.
  lr.learn(batch([[0, 0]], [1]));
  near(t, lr.predict(batch([[0, 0]])), [0.5], 'one positive');
  // A second positive: g = -0.5 again, n = 0.5, sigma = (sqrt(0.5) - 0.5) / 0.5 = 0.414214, w was 0,
  //   z = -1, still within l1; a third: n = 0.75, z = -1.5, w = 0.5 / ((1 + sqrt(0.75)) / 0.5) = 0.133975 each.
  lr.learn(batch([[0, 0]], [1]));
  near(t, lr.predict(batch([[0, 0]])), [0.5], 'two positives');
  lr.learn(batch([[0, 0]], [1]));
  near(t, lr.predict(batch([[0, 0]])), [1 / (1 + Math.exp(-3 * 0.5 / ((1 + Math.sqrt(0.75)) / 0.5)))], 'three positives');
  t.end();
});

t.test('a bad batch is refused with a clear error and teaches nothing', (t) => {
  for (const b of ctrBaselines({ ...CTR_MODEL_DEFAULTS, fields: ['user', 'item'], buckets: 4 })) {
    const probe = batch([[0, 0], [1, 2]]);
    b.learn(batch([[0, 0], [1, 2]], [1, 0]));
    const before = b.predict(probe);
    const wide: Batch = { ...batch([[0, 0]], [1]), idWidth: 3, ids: Int32Array.of(0, 0, 0) };
    t.throws(() => b.learn(wide), WrongShapeError, `${b.name}: 3 id columns for 2 fields`);
    t.throws(() => b.predict(wide), WrongShapeError, `${b.name}: predict too`);
    t.throws(() => b.learn(batch([[0, 0], [1, 4]], [1, 1])), { name: 'WrongShapeError', message: /row id 4 outside \[0, 4\)/ }, `${b.name}: row out of range`);
    t.throws(() => b.learn(batch([[0, 0], [-1, 0]], [1, 1])), WrongShapeError, `${b.name}: negative row`);
    t.same(b.predict(probe), before, `${b.name}: predictions unchanged`);
  }
  t.end();
});

t.test('options and settings: bad FTRL options name themselves; baselines follow the fields', (t) => {
  t.throws(() => new FtrlLogisticRegression(2, 4, { alpha: 0 }), { name: 'ConfigError', message: /ftrl-lr.alpha/ });
  t.throws(() => new FtrlLogisticRegression(2, 4, { beta: 0 }), ConfigError);
  t.throws(() => new FtrlLogisticRegression(2, 4, { l1: -1 }), { message: /ftrl-lr.l1.*>= 0/ });
  t.throws(() => new FtrlLogisticRegression(2, 4, { l2: Number.NaN }), ConfigError);
  const names = (fields: string[]) => ctrBaselines({ ...CTR_MODEL_DEFAULTS, fields, buckets: 8 }).map((b) => b.name);
  t.same(names(['user', 'item', 'hour']), ['counts', 'popularity', 'ftrl-lr']);
  t.same(names(['user', 'hour']), ['counts', 'ftrl-lr']);
  t.same(names(['hour']), ['ftrl-lr']);
  t.end();
});

t.test('planted truth: the FTRL logistic regression beats the best constant in prequential logloss', (t) => {
  // logit = -1 + a_user + b_item with a, b ~ N(0, 1), 300 users x 300 items; 40k examples in
  // batches of 256, scored before learning; the last 70% is scored.
  const rnd = mulberry32(11);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const U = 300, I = 300, N = 40_000, B = 256;
  const a = Float64Array.from({ length: U }, normal);
  const b = Float64Array.from({ length: I }, normal);
  const lr = new FtrlLogisticRegression(2, 512);
  const model = binaryMetric.create();
  let pos = 0, scored = 0;
  const labels: number[] = [];
  for (let at = 0; at < N; at += B) {
    const rows: [number, number][] = [];
    const ys: number[] = [];
    for (let i = 0; i < B; i++) {
      const u = Math.floor(rnd() * U), it = Math.floor(rnd() * I);
      rows.push([u, it]);
      ys.push(rnd() < 1 / (1 + Math.exp(1 - a[u] - b[it])) ? 1 : 0);
    }
    const x = batch(rows, ys);
    const p = lr.predict(x);
    lr.learn(x);
    if (at >= 0.3 * N) {
      model.add(p, x, 0, x.size);
      for (const y of ys) { pos += y; scored++; labels.push(y); }
    }
  }
  // The best constant in hindsight: the scored part's own positive rate.
  const rate = pos / scored;
  const constant = binaryMetric.create();
  const cb = batch(labels.map(() => [0, 0]), labels);
  constant.add(new Float32Array(labels.length).fill(rate), cb, 0, cb.size);
  const m = model.figures().logLoss, c = constant.figures().logLoss;
  t.ok(m < c, `ftrl-lr logloss ${m.toFixed(4)} < best constant ${c.toFixed(4)}`);
  t.ok(model.figures().auc > 0.6, `ftrl-lr AUC ${model.figures().auc.toFixed(3)} well above 0.5`);
  t.end();
});

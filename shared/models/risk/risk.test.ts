// The risk kind in-process: the label joiner's rows in both modes (worked by hand), windows,
// the cap and bad outcomes; the source's features (test, then learn the standardisation); the
// model's gradients against finite differences, fake-negative weights included; precision@100
// and the online LR baseline on streams worked by hand; and, on the real claims file, the
// kind against its baselines and its own frozen model.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DATA_DIR } from '../../datasets/movie-ratings.ts';
import { loadSchema, schemaEvents } from '../../datasets/schema.ts';
import type { FlywheelEvent } from '../../events.ts';
import { LocalParams } from '../../model/local-params.ts';
import type { ParamSpec } from '../../param-spec.ts';
import type { WeightSource } from '../types.ts';
import { DelayedScores } from '../delayed-scores.ts';
import { BatchBuilder } from '../batch-builder.ts';
import { emptyBatch, sliceBatch, type Batch } from '../batch.ts';
import { LabelJoiner } from '../label-joiner.ts';
import { OnlineLogisticRegression, RunningRate } from './baselines.ts';
import { riskConfigSchema, type RiskModelConfig } from './config.ts';
import { RiskExampleSource, Z_CLIP } from './examples.ts';
import { RiskMetric } from './metric.ts';
import { RiskModel } from './model.ts';
import { riskParamSpec, TABLES } from './spec.ts';

const DAY = 86_400_000;
const cfgOf = (o: Record<string, unknown> = {}): RiskModelConfig => riskConfigSchema.parse({ categorical: ['colour', 'user'], numeric: ['amount'], crosses: [['colour', 'user']], buckets: 1024, ...o });
const tx = (id: string, day: number, colour: string, amount: number, user = 'u1'): FlywheelEvent => ({ userId: user, itemId: id, type: 'transaction', ts: day * DAY, context: { colour, amount: String(amount) } });
const outcome = (id: string, day: number, y: number): FlywheelEvent => ({ userId: 'u1', itemId: id, type: 'outcome', ts: day * DAY, value: y });
const rows = (b: Batch) => Array.from({ length: b.size }, (_, i) => [b.refs![i], b.targets[2 * i], b.targets[2 * i + 1]]);

t.test('label joiner: what each mode emits, windows, the cap', async (t) => {
  const shape = { idWidth: 1, denseWidth: 0, targetWidth: 2 };
  const run = (mode: 'wait' | 'fake-negative', maxPending = 10) => {
    const j = new LabelJoiner(shape, { mode, windowMs: 10, maxPending });
    const out = new BatchBuilder(shape, true);
    const admit = (key: string, ts: number, ref: number) => j.admit(key, ts, out, (i) => { out.ids[i] = ref; });
    admit('a', 0, 0);
    admit('b', 1, 1);
    admit('c', 2, 2);
    j.outcome('b', 1, 5, out); // b turns out bad
    j.expire(10, out); // a's window (0 + 10) closes; c's (12) does not
    j.outcome('a', 1, 11, out); // too late: a is gone
    j.outcome('c', 0, 11, out);
    return { j, b: out.take() };
  };
  const wait = run('wait');
  t.same(rows(wait.b), [[0, NaN, NaN], [1, NaN, NaN], [2, NaN, NaN], [1, 1, 1], [0, 0, 0], [2, 0, 0]],
    'wait: scored first (nothing trained), then counted and trained with the outcome or as a negative when the window closes');
  t.same(Array.from(wait.b.ids), [0, 1, 2, 1, 0, 2], 'a released example carries the features it was scored with');
  t.same({ ...wait.j.stats }, { admitted: 3, joined: 2, expired: 1, dropped: 0, unmatched: 1, duplicates: 0 });
  const fn = run('fake-negative');
  t.same(rows(fn.b), [[0, NaN, 0], [1, NaN, 0], [2, NaN, 0], [1, 1, 1], [0, 0, NaN], [2, 0, NaN]],
    'fake-negative: trained at once as a negative; a positive is trained again, a negative only counted');
  const capped = new LabelJoiner(shape, { mode: 'wait', windowMs: 1e9, maxPending: 2 });
  const out = new BatchBuilder(shape, true);
  for (const [k, ts] of [['x', 0], ['y', 1], ['z', 2]] as const) capped.admit(k, ts, out, () => undefined);
  t.equal(capped.stats.dropped, 1, 'beyond maxPending the oldest is dropped, counted');
  t.notOk(capped.has('x'));
  t.ok(capped.has('y') && capped.has('z'));
  t.equal(capped.pending, 2);
  // Growth keeps admission order: 3,000 examples in a joiner that starts at 1,024 slots close in order.
  const big = new LabelJoiner(shape, { mode: 'wait', windowMs: 5, maxPending: 5000 });
  const o2 = new BatchBuilder(shape, true);
  for (let k = 0; k < 3000; k++) { big.admit(`k${k}`, k, o2, () => undefined); if (k % 3 === 0) big.outcome(`k${k}`, 1, k, o2); }
  o2.take();
  big.expire(1e9, o2);
  const closed = o2.take();
  t.equal(closed.size, 2000, 'the 2,000 without an outcome close');
  t.ok(Array.from(closed.refs!).every((r, i, a) => i === 0 || r > a[i - 1]), 'in admission order');
});

t.test('source: a transaction is scored first and trained with its outcome; standardisation learns after it scores', async (t) => {
  const src = new RiskExampleSource(cfgOf());
  const b1 = src.push([tx('t1', 0, 'red', 10), tx('t2', 1, 'blue', 20), outcome('t1', 2, 1)]);
  t.same(rows(b1), [[0, NaN, NaN], [1, NaN, NaN], [0, 1, 1]], 'two scored, one labelled');
  t.same(Array.from(b1.dense), [0, 0, 0], 'no standardisation before two amounts are known');
  t.same(Array.from(b1.ids.subarray(8, 12)), Array.from(b1.ids.subarray(0, 4)), 'the labelled row has the features of its scoring');
  const b2 = src.push([tx('t3', 3, 'red', 40), { ...tx('t3', 3, 'red', 40) }, outcome('nope', 3, 1), outcome('t2', 3, 7)]);
  // mean of 10, 20 = 15, sd = 7.071: (40 - 15) / 7.071 = 3.536
  t.equal(b2.size, 1, 'a second transaction with a pending reference makes nothing');
  t.ok(Math.abs(b2.dense[0] - 25 / Math.sqrt(50)) < 1e-5, `amount 40 standardised by what came before: ${b2.dense[0]}`);
  t.equal(src.joiner.stats.duplicates, 1);
  t.equal(src.joiner.stats.unmatched, 1, 'an outcome of no transaction is counted');
  t.equal(src.stats.badLabels, 1, 'an outcome of 7 is not a label');
  const b3 = src.push([tx('t4', 4, 'red', 1e9)]);
  t.equal(b3.dense[0], Z_CLIP, 'a wild amount is clipped');
  const b4 = src.push([{ ...tx('t5', 200, 'red', 1), value: 1 }]);
  t.same(rows(b4), [[1, 0, 0], [2, 0, 0], [3, 0, 0], [-1, 1, 1]], 'day 200: the 90-day windows of t2, t3 and t4 close first, as negatives; a label in the event is trained at once, without a ref');
});

/** Tables as plain arrays, filled with small random values, that a test can nudge. */
class TableWeights implements WeightSource {
  readonly t = new Map<string, { dim: number; v: Float32Array }>();
  constructor(spec: ParamSpec, seed = 3) {
    let x = seed;
    const rand = () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32 - 0.5; };
    for (const tb of spec.tables) this.t.set(tb.name, { dim: tb.dim, v: Float32Array.from({ length: tb.rows * tb.dim }, () => 0.6 * rand()) });
  }
  dense(): Float32Array { throw new Error('no dense tensors'); }
  readRows(table: string, ids: Int32Array, out: Float32Array): void {
    const { dim, v } = this.t.get(table)!;
    ids.forEach((r, i) => out.set(v.subarray(r * dim, (r + 1) * dim), i * dim));
  }
}

t.test('model: gradients match finite differences of the mean loss, fake-negative weights included', async (t) => {
  for (const mode of ['wait', 'fake-negative'] as const) {
    const cfg = cfgOf({ labels: { mode }, factors: 3, positiveWeight: 2 });
    const spec = riskParamSpec('m', 7, cfg);
    const w = new TableWeights(spec);
    const model = new RiskModel(cfg);
    const src = new RiskExampleSource(cfg);
    const b = src.push([tx('a', 0, 'red', 5), tx('b', 1, 'blue', 7), tx('c', 1, 'red', 9, 'u2'), tx('d', 2, 'green', 3), tx('e', 2, 'blue', 4),
      outcome('a', 2, 1), outcome('b', 2, 0), outcome('c', 2, 1), outcome('e', 2, 0)]);
    const r = model.trainStep(b, w);
    const trained = rows(b).filter((x) => !Number.isNaN(x[2])).length;
    t.equal(trained, mode === 'wait' ? 4 : 7, `${mode}: ${trained} rows trained`);
    // The FN weights are constants of the step: they use the predictions made before it.
    const p0 = r.predictions;
    const meanLoss = () => {
      const p = model.predict(b, w);
      let l = 0;
      for (let i = 0; i < b.size; i++) {
        const y = b.targets[2 * i + 1];
        if (Number.isNaN(y)) continue;
        let wt = y === 1 ? 2 : 1;
        if (mode === 'fake-negative' && b.refs![i] >= 0) wt *= y === 1 ? 1 + p0[i] : (1 - p0[i]) * (1 + p0[i]);
        l -= wt * Math.log(y === 1 ? p[i] : 1 - p[i]);
      }
      return l / trained;
    };
    t.ok(Math.abs(meanLoss() - r.loss) < 1e-5, `${mode}: the step's loss is the weighted mean (${r.loss.toFixed(5)})`);
    // A row's gradient is its examples' sum over the trained examples that touch it: times
    // that count over all trained examples, it is the gradient of the mean loss.
    let checked = 0, worst = 0;
    for (const [table, g] of r.sparse) {
      const { dim, v } = w.t.get(table)!;
      for (let s = 0; s < g.rows.length; s++) {
        const row = g.rows[s];
        let touched = trained;
        if (table !== TABLES.numeric) {
          touched = 0;
          for (let i = 0; i < b.size; i++) if (!Number.isNaN(b.targets[2 * i + 1])) for (let f = 0; f < b.idWidth; f++) if (b.ids[i * b.idWidth + f] === row) touched++;
        }
        for (let c = 0; c < dim; c += Math.max(1, Math.floor(dim / 3))) {
          const at = row * dim + c, h = 1e-2, x0 = v[at];
          v[at] = x0 + h; const up = meanLoss();
          v[at] = x0 - h; const down = meanLoss();
          v[at] = x0;
          const fd = (up - down) / (2 * h);
          const mine = touched ? (g.grads[s * dim + c] * touched) / trained : 0;
          worst = Math.max(worst, Math.abs(fd - mine) / Math.max(1e-3, Math.abs(fd)));
          checked++;
        }
      }
    }
    t.ok(worst < 0.02, `${mode}: ${checked} coordinates of ${r.sparse.size} tables within ${(worst * 100).toFixed(2)}% of finite differences`);
  }
  const bad = new RiskExampleSource(cfgOf()).push([tx('a', 0, 'red', 5), outcome('a', 1, 1)]);
  bad.targets[3] = 0.5;
  t.throws(() => new RiskModel(cfgOf()).trainStep(bad, new TableWeights(riskParamSpec('m', 1, cfgOf()))), /not 0 or 1/, 'a trained label that is not 0/1 is refused');
  t.throws(() => new RiskModel(cfgOf()).predict(emptyBatch({ idWidth: 2, denseWidth: 1, targetWidth: 2 }, 1), new TableWeights(riskParamSpec('m', 1, cfgOf()))), /needs 4 ids/, 'a batch of the wrong shape is refused');
});

t.test('metric: precision among the 100 highest scores, NaN labels skipped, merge = whole', async (t) => {
  const shape = { idWidth: 1, denseWidth: 0, targetWidth: 2 };
  const b = emptyBatch(shape, 300);
  const p = new Float32Array(300);
  // scores 0.001 .. 0.300; the top 100 are examples 200..299, of which every third is positive
  for (let i = 0; i < 300; i++) { p[i] = (i + 1) / 1000; b.targets[2 * i] = i >= 200 ? (i % 3 === 0 ? 1 : 0) : (i % 10 === 0 ? 1 : 0); }
  b.targets[2 * 299] = NaN; // not known yet: not counted
  const whole = new RiskMetric();
  whole.add(p, b, 0, 300);
  const expected = [...Array(100).keys()].map((k) => 199 + k).filter((i) => i % 3 === 0).length / 100;
  t.equal(whole.count, 299);
  t.equal(whole.figures().precisionAt100, expected, `top 100 = examples 199..298: ${expected}`);
  const a = new RiskMetric(), c = new RiskMetric();
  a.add(p, b, 0, 150); c.add(p, b, 150, 300);
  a.merge(c.state());
  const fa = a.figures(), fw = whole.figures();
  t.ok(Object.keys(fw).every((k) => Math.abs(fa[k] - fw[k]) < 1e-12), 'two halves merged give the whole');
  const few = new RiskMetric();
  few.add(p, b, 0, 50);
  t.ok(Number.isNaN(few.figures().precisionAt100), 'fewer than 100 scored: undefined, not a guess');
});

t.test('baselines: the running rate and online LR, worked by hand', async (t) => {
  const shape = { idWidth: 2, denseWidth: 0, targetWidth: 2 };
  const b = emptyBatch(shape, 2);
  b.ids.set([3, 5, 3, 6]);
  b.targets.set([1, 1, 0, NaN]); // the first trained as a positive, the second only counted
  const rate = new RunningRate();
  t.ok(Math.abs(rate.predict(b)[0] - 1 / 20) < 1e-7, 'the prior: 1 in 20');
  rate.learn(b);
  t.ok(Math.abs(rate.predict(b)[0] - 2 / 22) < 1e-7, 'a positive and a negative counted: 2 / 22');
  const lr = new OnlineLogisticRegression(8, 0.1);
  t.same(Array.from(lr.predict(b)), [0.5, 0.5], 'all weights 0: p = 0.5');
  lr.learn(b);
  // one example, label 1, p = 0.5: g = -0.5 for rows 3, 5 and the bias; Adagrad: w = 0.1 * 0.5 / sqrt(0.25) = 0.1
  const z = 0.1 + 0.1 + 0.1;
  t.ok(Math.abs(lr.predict(b)[0] - 1 / (1 + Math.exp(-z))) < 1e-6, 'after one step, rows 3, 5 and the bias at 0.1 each');
  t.ok(Math.abs(lr.predict(b)[1] - 1 / (1 + Math.exp(-0.2))) < 1e-6, 'row 6 untouched: the second row is not trained (its trained label is NaN)');
});

const CLAIMS = join(SHARED_DATA_DIR, 'risk-claims', 'vehicle_claims_fraud_oracle.csv');
t.test('claims, prequential in-process: the kind beats its baselines and its frozen self, labels on time', { skip: existsSync(CLAIMS) ? false : `no claims data at ${CLAIMS}` }, async (t) => {
  const schema = loadSchema(join(import.meta.dirname, '../../../datasets/risk-claims.json'));
  const cfg = riskConfigSchema.parse((schema.model.config as { settings: unknown }).settings);
  const events: FlywheelEvent[] = [];
  for await (const evs of schemaEvents(schema, { outcomeDelayDays: 0 })) events.push(...evs);
  const src = new RiskExampleSource(cfg);
  const model = new RiskModel(cfg);
  const spec = riskParamSpec('claims', 42, cfg);
  const params = new LocalParams(spec, { learningRate: 0.01, momentum: 0.9, nesterov: false, clipNorm: 100 });
  const baselines = [new RunningRate(), new OnlineLogisticRegression(cfg.buckets)];
  const accs = [new RiskMetric(), ...baselines.map(() => new RiskMetric())];
  const delayed = [0, 1, 2, 3].map(() => new DelayedScores(1));
  // The same model frozen at the end of 1994, and the online one, on the claims of 1995-96.
  const frozenParams = new LocalParams(spec, { learningRate: 0.01, momentum: 0.9, nesterov: false, clipNorm: 100 });
  const frozenLate = new RiskMetric(), onlineLate = new RiskMetric();
  let claims = 0;
  for (let e = 0; e < events.length; e += 256) {
    const b = src.push(events.slice(e, e + 256));
    for (let i0 = 0; i0 < b.size; i0 += 128) {
      const s = sliceBatch(b, i0, Math.min(b.size, i0 + 128));
      const late = new Date(s.eventTs[0]).getUTCFullYear() >= 1995;
      const r = model.trainStep(s, params);
      const count = (k: number, p: Float32Array) => { const q = delayed[k].pair(s, p).predictions; accs[k]?.add(q, s, 0, s.size); return q; };
      const online = count(0, r.predictions);
      baselines.forEach((x, k) => { count(k + 1, x.predict(s)); x.learn(s); });
      params.apply(r);
      const frozen = delayed[3].pair(s, late ? model.predict(s, frozenParams) : model.trainStep(s, frozenParams).predictions).predictions;
      if (!late) frozenParams.apply(model.trainStep(s, frozenParams));
      else { frozenLate.add(frozen, s, 0, s.size); onlineLate.add(online, s, 0, s.size); }
      for (let i = 0; i < s.size; i++) if (Number.isNaN(s.targets[2 * i])) claims++;
    }
  }
  const [m, rate, lr] = accs.map((a) => a.figures());
  t.equal(claims, 15_420, 'every claim scored');
  t.equal(accs[0].count, 15_420, 'every claim counted once, with the score it got before its outcome');
  t.ok(m.auc > lr.auc + 0.02, `AUC ${m.auc.toFixed(4)} > online LR ${lr.auc.toFixed(4)} + 0.02`);
  t.ok(m.prAuc > lr.prAuc, `average precision ${m.prAuc.toFixed(4)} > online LR ${lr.prAuc.toFixed(4)}`);
  t.ok(lr.auc > rate.auc + 0.2, `the online LR ${lr.auc.toFixed(4)} is far above the running rate ${rate.auc.toFixed(4)}`);
  t.ok(m.logLoss < rate.logLoss, `logloss ${m.logLoss.toFixed(4)} below the running rate's ${rate.logLoss.toFixed(4)}`);
  const [fl, ol] = [frozenLate.figures(), onlineLate.figures()];
  t.ok(frozenLate.count > 9000, `${frozenLate.count} claims of 1995-96 scored by both`);
  t.ok(ol.auc >= fl.auc + 0.05, `1995-96: online AUC ${ol.auc.toFixed(4)} >= frozen-after-1994 ${fl.auc.toFixed(4)} + 0.05`);
});

t.test('rowLoss: logloss and focal loss derivatives in z match finite differences', async (t) => {
  const { rowLoss } = await import('./model.ts');
  const sig = (z: number) => 1 / (1 + Math.exp(-z));
  let worst = 0;
  for (const gamma of [0, 0.5, 1, 2]) {
    for (const y of [0, 1] as const) {
      for (const z of [-4, -1, -0.2, 0, 0.3, 1.5, 3]) {
        const h = 1e-5;
        const num = (rowLoss(sig(z + h), y, gamma).loss - rowLoss(sig(z - h), y, gamma).loss) / (2 * h);
        worst = Math.max(worst, Math.abs(num - rowLoss(sig(z), y, gamma).dz));
      }
    }
  }
  t.ok(worst < 1e-6, `analytic dz within 1e-6 of the finite difference (worst ${worst.toExponential(2)})`);
  t.equal(rowLoss(0.9, 1, 2).loss < rowLoss(0.9, 1, 0).loss * 0.02, true, 'a well-classified positive counts (1 - 0.9)^2 = 1% of its logloss');
});

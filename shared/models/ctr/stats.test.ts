// The CTR model's online statistics: features from the counters worked out by hand, the
// batch's counts as the counter tables' "gradients", the statistics' weights against finite
// differences, the counters through LocalParams' counter rule, and the settings' checks.
import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { ParamSpec } from '../../param-spec.ts';
import { mulberry32 } from '../../hash.ts';
import { LocalParams } from '../../model/local-params.ts';
import { MapWeights } from '../../../test/helpers/map-weights.ts';
import { CTR_MODEL_DEFAULTS, ctrConfigSchema, type CtrModelConfig } from './config.ts';
import { CtrModel } from './model.ts';
import { ctrParamSpec } from './spec.ts';
import { STAT_FIRST_LAYER, STAT_TOTALS_TABLE, STAT_WIDE_TABLE, StatFeatures, crossRow, statKeys, statTable } from './stats.ts';

const CFG: CtrModelConfig = { ...CTR_MODEL_DEFAULTS, fields: ['user', 'item', 'category'], embDim: 2, buckets: 8, hidden: [3], statsInto: 'both' };

const logit = (p: number) => Math.log(p / (1 - p));

t.test('features by hand: centred log-odds of the smoothed rate and a scaled log count; counts to push', (t) => {
  const s = { fields: ['user', 'item'], buckets: 8, stats: ['user', 'item'] as const, statsHalfLifeMs: 0 };
  const spec: ParamSpec = { model: 'm', seed: 1, dense: [], tables: ctrParamSpec('m', 1, { ...CFG, ...s, stats: [...s.stats] }).tables };
  const w = new MapWeights(spec);
  // Totals: 8 impressions, 2 positives -> g = (2 + 1) / (8 + 2) = 0.3.
  w.row(STAT_TOTALS_TABLE, 0).set([8, 2]);
  // user 3: 5 impressions, 4 positives -> rate (4 + 5 * 0.3) / (5 + 5) = 0.55.
  w.row(statTable('user'), 3).set([5, 4]);
  const f = new StatFeatures(s);
  t.equal(f.width, 4);
  // Examples (user 3, item 1, y 1), (user 0, item 1, y 0), (user 3, item 2, y 1).
  const ids = Int32Array.of(3, 1, 0, 1, 3, 2);
  const { x, counts } = f.build({ size: 3, ids }, w, Float32Array.of(1, 0, 1));
  const unseen = [0, 0]; // rate = g: log-odds 0 from g; log1p(0) = 0
  const want = [
    [logit(0.55) - logit(0.3), Math.log1p(5) / 4, ...unseen],
    [...unseen, ...unseen],
    [logit(0.55) - logit(0.3), Math.log1p(5) / 4, ...unseen],
  ].flat();
  want.forEach((v, i) => t.ok(Math.abs(x[i] - v) < 1e-6, `x[${i}] ${x[i]} vs ${v}`));
  // Counts: user rows 3 (2 impressions, 2 positives) and 0 (1, 0); item rows 1 (2, 1) and 2 (1, 1); totals (3, 2).
  t.same([...counts!.get(statTable('user'))!.rows], [3, 0]);
  t.same([...counts!.get(statTable('user'))!.grads], [2, 2, 1, 0]);
  t.same([...counts!.get(statTable('item'))!.rows], [1, 2]);
  t.same([...counts!.get(statTable('item'))!.grads], [2, 1, 1, 1]);
  t.same([...counts!.get(STAT_TOTALS_TABLE)!.grads], [3, 2]);
  t.equal(f.build({ size: 3, ids }, w).counts, undefined, 'no counts without targets (serving)');
  t.end();
});

t.test('user x item: a pair seen before reads its own counts, a new pair of the same user and item reads none', (t) => {
  const s = { fields: ['user', 'item'], buckets: 64, stats: ['user_item'] as const, statsHalfLifeMs: 0 };
  const spec: ParamSpec = { model: 'm', seed: 1, dense: [], tables: ctrParamSpec('m', 1, { ...CFG, ...s, stats: [...s.stats] }).tables };
  const w = new MapWeights(spec);
  w.row(STAT_TOTALS_TABLE, 0).set([8, 2]); // g = 0.3
  // (user 3, item 1) bought twice in 2 impressions: rate (2 + 1.5) / (2 + 5) = 0.5.
  w.row(statTable('user_item'), crossRow(3, 1, 64)).set([2, 2]);
  const f = new StatFeatures(s);
  t.equal(f.width, 2);
  // (3, 1) the repeat; (3, 2) and (0, 1) share a user or an item with it, not the pair.
  t.not(crossRow(3, 2, 64), crossRow(3, 1, 64));
  t.not(crossRow(0, 1, 64), crossRow(3, 1, 64));
  const { x, counts } = f.build({ size: 3, ids: Int32Array.of(3, 1, 3, 2, 0, 1) }, w, Float32Array.of(1, 0, 0));
  const want = [logit(0.5) - logit(0.3), Math.log1p(2) / 4, 0, 0, 0, 0];
  want.forEach((v, i) => t.ok(Math.abs(x[i] - v) < 1e-6, `x[${i}] ${x[i]} vs ${v}`));
  const c = counts!.get(statTable('user_item'))!;
  t.same([...c.rows], [crossRow(3, 1, 64), crossRow(3, 2, 64), crossRow(0, 1, 64)]);
  t.same([...c.grads], [1, 1, 1, 0, 1, 0], 'each pair counts its impression and its positive');
  t.end();
});

t.test('statistics\' weights against finite differences; the counts ride in StepResult.sparse', async (t) => {
  await tf.setBackend('cpu');
  const spec = ctrParamSpec('grad', 3, CFG);
  t.same(statKeys(CFG), ['user', 'item', 'category', 'user_category', 'user_item'], 'auto: every key whose fields are there');
  const model = new CtrModel(spec, CFG);
  const w = new MapWeights(spec);
  const rnd = mulberry32(4);
  const B = 10;
  const ids = Int32Array.from({ length: B * 3 }, () => Math.floor(rnd() * 4));
  const targets = Float32Array.from({ length: B }, () => (rnd() < 0.5 ? 1 : 0));
  // Counters with some history, so the features are not all zero; wide weights off zero.
  w.row(STAT_TOTALS_TABLE, 0).set([40, 12]);
  for (const k of statKeys(CFG)) for (let r = 0; r < 8; r++) w.row(statTable(k), r).set([r * 3, r]);
  w.row(STAT_WIDE_TABLE, 0).forEach((_, j, a) => { a[j] = rnd() - 0.5; });
  // Every first-layer unit far on the active side of its relu, so that a central difference
  // never straddles a kink: what is checked here is the statistics' blocks, not the relu.
  w.dense('l0.b').fill(5);
  const batch = { size: B, ids, targets };
  const step = model.trainStep(batch, w);
  const eps = 1e-2;
  const numeric = (x: Float32Array, k: number) => {
    const keep = x[k];
    x[k] = keep + eps; const lp = model.trainStep(batch, w).loss;
    x[k] = keep - eps; const lm = model.trainStep(batch, w).loss;
    x[k] = keep;
    return (lp - lm) / (2 * eps);
  };
  const close = (a: number, n: number) => Math.abs(a - n) <= 2e-4 + 1e-2 * Math.abs(n);
  const wide = step.sparse.get(STAT_WIDE_TABLE)!;
  t.same([...wide.rows], [0], 'the wide table: one row');
  const wideRow = w.row(STAT_WIDE_TABLE, 0);
  const bad: string[] = [];
  // Every example touches the one row: its per-row mean is d(mean loss)/d w itself.
  for (let j = 0; j < wideRow.length; j++) if (!close(wide.grads[j], numeric(wideRow, j))) bad.push(`wide[${j}] ${wide.grads[j]} vs ${numeric(wideRow, j)}`);
  const deep = step.dense.get(STAT_FIRST_LAYER)!;
  const deepW = w.dense(STAT_FIRST_LAYER);
  t.equal(deep.length, deepW.length);
  for (let j = 0; j < deepW.length; j++) if (!close(deep[j], numeric(deepW, j))) bad.push(`${STAT_FIRST_LAYER}[${j}] ${deep[j]} vs ${numeric(deepW, j)}`);
  t.same(bad, [], 'analytic == numeric');
  t.ok(wide.grads.some((g) => Math.abs(g) > 1e-3), 'the wide gradient is not trivially zero');
  const totals = step.sparse.get(STAT_TOTALS_TABLE)!;
  t.same([...totals.grads], [B, targets.reduce((a, b) => a + b, 0)], 'totals: the batch\'s impressions and positives');
  const users = step.sparse.get(statTable('user'))!;
  t.equal(users.grads.filter((_, i) => i % 2 === 0).reduce((a, b) => a + b, 0), B, 'user impressions add up to the batch');
  t.same(Array.from(model.predict(batch, w)), Array.from(step.predictions), 'predict() == the step\'s scores');
});

t.test('through LocalParams the counter tables hold the counts, and the next batch reads them', async (t) => {
  await tf.setBackend('cpu');
  const cfg: CtrModelConfig = { ...CFG, statsInto: 'wide' };
  const spec = ctrParamSpec('local', 2, cfg);
  const params = new LocalParams(spec, { learningRate: 0.01, momentum: 0.9, nesterov: false, clipNorm: 100 });
  const model = new CtrModel(spec, cfg);
  // Two batches: user 1 shows twice with one positive, then once more with a positive.
  const b1 = { size: 3, ids: Int32Array.of(1, 0, 0, 1, 2, 0, 5, 2, 1), targets: Float32Array.of(1, 0, 0) };
  const b2 = { size: 1, ids: Int32Array.of(1, 3, 0), targets: Float32Array.of(1) };
  params.apply(model.trainStep(b1, params));
  params.apply(model.trainStep(b2, params));
  const row = (table: string, r: number) => { const o = new Float32Array(2); params.readRows(table, Int32Array.of(r), o); return [...o]; };
  t.same(row(statTable('user'), 1), [3, 2], 'user 1: 3 impressions, 2 positives');
  t.same(row(statTable('user'), 5), [1, 0], 'user 5');
  t.same(row(statTable('category'), 0), [3, 2], 'category 0');
  t.same(row(STAT_TOTALS_TABLE, 0), [4, 2], 'totals');
  // Scoring reads the counters: user 1's log count feature is now log1p(3) / 4.
  const f = new StatFeatures(cfg).build({ size: 1, ids: Int32Array.of(1, 7, 7) }, params);
  t.ok(Math.abs(f.x[1] - Math.log1p(3) / 4) < 1e-6, `user log count ${f.x[1]}`);
});

t.test('settings: a statistic without its fields is refused by name; [] turns them off', (t) => {
  const r = ctrConfigSchema.safeParse({ fields: ['user', 'item'], stats: ['user', 'user_category'] });
  t.notOk(r.success);
  t.match(JSON.stringify(r.error?.issues), /"path":\["stats",1\].*needs field \\"category\\"/);
  t.notOk(ctrConfigSchema.safeParse({ stats: ['user', 'user'] }).success, 'a key named twice');
  t.notOk(ctrConfigSchema.safeParse({ stats: ['clicks'] }).success, 'an unknown key');
  const off = ctrConfigSchema.parse({ stats: [] });
  t.same(statKeys(off), []);
  t.notOk(ctrParamSpec('m', 1, off).tables.some((x) => x.name.startsWith('stat.')), 'no statistics tables when off');
  t.same(statKeys(ctrConfigSchema.parse({ fields: ['user', 'item', 'hour'] })), ['user', 'item', 'user_item']);
  t.end();
});

// The retrieval kind in-process: baskets and the history each example carries (before its
// basket), the streaming frequency estimate, the metric on ranks worked by hand, the model's
// gradients against finite differences under both softmaxes, its ranks against a scan of the
// catalogue done here, the index against exhaustive search with upserts and removals, and
// the kind learning a planted preference that popularity cannot see.
import t from 'tap';
import type { FlywheelEvent } from '../../events.ts';
import { hashRow } from '../../features.ts';
import { LocalParams } from '../../model/local-params.ts';
import { mulberry32 } from '../../index.ts';
import { concatBatches, sliceBatch, type Batch } from '../batch.ts';
import { retrievalConfigSchema, type RetrievalModelConfig } from './config.ts';
import { RetrievalExampleSource } from './examples.ts';
import { FrequencyEstimator } from './frequency.ts';
import { RetrievalMetric } from './metric.ts';
import { RetrievalModel } from './model.ts';
import { COUNT_WEIGHTS } from './count-features.ts';
import { rankOf } from './ranking.ts';
import { ID_HISTORY, ID_ITEM, REPEAT, TABLES, retrievalParamSpec } from './spec.ts';
import { VectorIndex } from './vector-index.ts';

const cfgOf = (o: Record<string, unknown> = {}): RetrievalModelConfig => retrievalConfigSchema.parse({ history: 3, userBuckets: 1 << 12, itemBuckets: 1 << 12, dim: 4, ...o });
const buy = (u: string, i: string, ts: number): FlywheelEvent => ({ userId: u, itemId: i, type: 'buy', ts });
const row = (i: string, c: RetrievalModelConfig) => hashRow(i, c.itemBuckets);

t.test('source: a basket is emitted when the shard moves past its time, with the history before it', async (t) => {
  const c = cfgOf();
  const s = new RetrievalExampleSource(c);
  let b = s.push([buy('u', 'a', 1), buy('u', 'b', 1), buy('u', 'a', 1)]);
  t.equal(b.size, 0, 'the basket at ts 1 is still open');
  b = s.push([buy('v', 'x', 2)]);
  t.equal(b.size, 2, 'a later event closes it: its 2 distinct items');
  const W = b.idWidth;
  t.same([b.ids[ID_ITEM], b.ids[W + ID_ITEM]], [row('a', c), row('b', c)]);
  t.same(Array.from(b.ids.subarray(ID_HISTORY, ID_HISTORY + 3)), [-1, -1, -1], 'a first basket has no history');
  t.same(Array.from(b.targets), [0, 0, 0, 0], 'and is not scored (no history)');
  b = s.push([buy('u', 'c', 3), buy('u', 'a', 3)]);
  t.equal(b.size, 1, "v's basket closes at ts 3");
  b = s.flush();
  t.equal(b.size, 2);
  t.same(Array.from(b.ids.subarray(ID_HISTORY, ID_HISTORY + 3)), [row('b', c), row('a', c), -1], "u's history: b (most recent), a");
  t.same(Array.from(b.targets), [2, 1, 2, 1], 'both scored, basket of 2');
  t.same(s.counters().baskets, 3);
  const n = new RetrievalExampleSource(cfgOf({ newItemsOnly: true }));
  n.push([buy('u', 'a', 1), buy('u', 'a', 2), buy('u', 'b', 2)]);
  const f = n.flush();
  t.same(Array.from(f.targets), [1, 0, 1, 1], 'newItemsOnly: the repeat a is not scored; the basket counts 1 scored item');
  const e = new RetrievalExampleSource(cfgOf({ basketBy: 'event', interactions: ['buy'], minValue: 4 }));
  const x = e.push([{ ...buy('u', 'a', 1), value: 5 }, { ...buy('u', 'b', 1), value: 3 }, { ...buy('u', 'c', 1), value: 4 }, { userId: 'u', itemId: 'd', type: 'view', ts: 1 }]);
  t.equal(x.size, 2, "basketBy event emits at once; a value under minValue and a type not listed are skipped");
  t.same(e.counters().belowMinValue, 1);
  t.same(e.counters().notInteractions, 1);
});

t.test('frequency estimator: the gap between sightings (Yi et al. 2019)', async (t) => {
  const f = new FrequencyEstimator(8, 0.5);
  f.see(1); f.see(2); f.see(1); f.see(2); f.see(1);
  // row 1 at steps 1, 3, 5: first gap 1 (step), then (1-0.5)*1 + 0.5*2 = 1.5, then 0.75 + 1 = 1.75
  t.equal(f.logQ(1), -Math.log(1.75));
  t.equal(f.logQ(7), -Math.log(5), 'never seen: once in the 5 steps so far');
});

t.test('metric: ranks to HR@10, NDCG@10, recall@50, a basket counted once', async (t) => {
  const c = cfgOf();
  const s = new RetrievalExampleSource(c);
  const b = concatBatches(s.shape, [s.push([buy('u', 'a', 1), buy('u', 'b', 2), buy('u', 'c', 2), buy('u', 'd', 3)]), s.flush()]);
  // examples: a (unscored), b and c (basket of 2), d (basket of 1)
  const m = new RetrievalMetric();
  m.add(new Float32Array([0, 0, 30, 12]), b, 0, b.size);
  const f = m.figures();
  // basket {b,c}: a hit (b); hits@10 1 of min(2,10) -> 0.5; DCG 1/log2(2) = 1 over IDCG 1 + 1/log2(3); recall@50 2/2
  // basket {d}: rank 12, no hit@10; recall@50 1
  t.equal(f.hr10, 0.5, 'one of the two baskets has a hit in the top 10');
  t.equal(f.recall10, 0.25, '{b,c}: 1 of min(2,10); {d}: 0');
  t.ok(Math.abs(f.ndcg10 - (1 / (1 + 1 / Math.log2(3))) / 2) < 1e-9);
  t.equal(f.recall50, 1);
  t.equal(m.count, 3);
  t.equal(m.counts().baskets, 2);
  const m2 = new RetrievalMetric();
  m2.merge(m.state());
  t.same(m2.figures(), f, 'a state merges to the same figures');
  t.equal(rankOf(new Float32Array([3, 1, 3, 2]), 4, 0), 0.5, 'a tie counts half');
  t.equal(rankOf(new Float32Array([3, 1, 3, 2]), 4, 3, [0]), 1, 'a skipped item is not counted');
  t.equal(rankOf(new Float32Array([3, 1]), 2, -1), 2, 'an item not in the catalogue ranks last');
});

/** A small stream: users prefer items of their own group. */
function plantedStream(c: RetrievalModelConfig, n: number, seed = 3): Batch {
  const r = mulberry32(seed);
  const evs: FlywheelEvent[] = [];
  for (let k = 0; k < n; k++) {
    const u = Math.floor(r() * 60);
    // popularity is flat across groups; a user's group decides the item 90% of the time
    const group = r() < 0.9 ? u % 4 : Math.floor(r() * 4);
    const it = group * 25 + Math.floor(r() * 25);
    evs.push(buy(`u${u}`, `i${it}`, k));
  }
  const s = new RetrievalExampleSource(c);
  return concatBatches(s.shape, [s.push(evs), s.flush()]);
}

for (const negatives of ['batch', 'catalogue'] as const) {
  t.test(`model (${negatives} negatives): gradients match finite differences of the loss`, async (t) => {
    const c = cfgOf({ negatives, temperature: 0.5, countFeatures: ['own', 'popularity'] });
    const spec = retrievalParamSpec('m', 1, c);
    const p = new LocalParams(spec, { learningRate: 0.05, momentum: 0, nesterov: false, clipNorm: 0 });
    const model = new RetrievalModel(c);
    const all = plantedStream(c, 400);
    for (let a = 0; a < 300; a += 50) p.apply(model.trainStep(sliceBatch(all, a, a + 50), p));
    p.dense(REPEAT).set([0.3, 0.1, -0.2]);
    const fw = p.updater.tables.get(COUNT_WEIGHTS)!.arena;
    fw.weights.set([0.4, 0.3], fw.slotOf(0) * 2);
    const b = sliceBatch(all, 300, 340);
    const r = model.trainStep(b, p, { scores: false });
    const lossOf = () => model.trainStep(b, p, { scores: false }).loss;
    const check = (table: string, g: { rows: Int32Array; grads: Float32Array }, dim: number) => {
      const a = p.updater.tables.get(table)!.arena;
      let worst = 0;
      // Rows held already: materialising one (a positive first seen in this batch) would add it
      // to the catalogue, and so change the function being differentiated.
      const held = [...g.rows.keys()].filter((k) => a.index.get(g.rows[k]) >= 0);
      for (const k of [held[0], held[Math.floor(held.length / 2)], held[held.length - 1]]) {
        for (const d of [0, dim - 1]) {
          const s = a.slotOf(g.rows[k]);
          const x = a.weights[s * dim + d];
          const h = 1e-3;
          a.weights[s * dim + d] = x + h; const up = lossOf();
          a.weights[s * dim + d] = x - h; const dn = lossOf();
          a.weights[s * dim + d] = x;
          worst = Math.max(worst, Math.abs((up - dn) / (2 * h) - g.grads[k * dim + d]));
        }
      }
      return worst;
    };
    // The model's per-row gradients are means over the examples a row plays its part in; the
    // loss is a mean over the batch: a user row's gradient is d(loss)/d(row) x B / (its examples).
    const users = r.sparse.get(TABLES.user)!;
    const W = b.idWidth;
    const perUser = new Map<number, number>();
    for (let i = 0; i < b.size; i++) perUser.set(b.ids[i * W], (perUser.get(b.ids[i * W]) ?? 0) + 1);
    const scaled = { rows: users.rows, grads: users.grads.map((g, j) => g * perUser.get(users.rows[Math.floor(j / c.dim)])! / b.size) };
    t.ok(check(TABLES.user, scaled, c.dim) < 2e-3, 'user rows');
    if (negatives === 'catalogue') t.ok(check(TABLES.item, r.sparse.get(TABLES.item)!, c.dim + 1) < 2e-3, 'item rows (every catalogue row, mean over the batch)');
    t.ok(check(COUNT_WEIGHTS, r.sparse.get(COUNT_WEIGHTS)!, 2) < 2e-3, 'the count features\' weights (own, popularity)');
    t.ok(Math.abs(r.sparse.get(COUNT_WEIGHTS)!.grads[0]) > 1e-4 && Math.abs(r.sparse.get(COUNT_WEIGHTS)!.grads[1]) > 1e-4, 'both features take part');
    const beta = p.dense(REPEAT);
    for (let k = 0; k < c.history; k++) {
      const x = beta[k];
      beta[k] = x + 1e-3; const up = lossOf();
      beta[k] = x - 1e-3; const dn = lossOf();
      beta[k] = x;
      t.ok(Math.abs((up - dn) / 2e-3 - r.dense.get(REPEAT)![k]) < 2e-3, `the repeat bonus of history position ${k}`);
    }
  });
}

t.test('model: its ranks are those of a scan of the catalogue done here', async (t) => {
  const c = cfgOf({ newItemsOnly: false });
  const spec = retrievalParamSpec('m', 1, c);
  const p = new LocalParams(spec, { learningRate: 0.05, momentum: 0, nesterov: false, clipNorm: 0 });
  const model = new RetrievalModel(c);
  const all = plantedStream(c, 600);
  for (let a = 0; a < 500; a += 100) p.apply(model.trainStep(sliceBatch(all, a, a + 100), p));
  p.dense(REPEAT).set([0.2, 0.2, 0.2]);
  const b = sliceBatch(all, 500, 520);
  const ranks = model.predict(b, p);
  const cat = p.heldRows(TABLES.item);
  const D = c.dim, W = b.idWidth;
  const v = new Float32Array(cat.length * (D + 1));
  p.readRows(TABLES.item, cat, v);
  const uv = model.userVectors(b, p);
  let same = 0;
  for (let i = 0; i < b.size; i++) {
    const hist = new Set(Array.from(b.ids.subarray(i * W + ID_HISTORY, (i + 1) * W)));
    const score = (k: number) => {
      let s = v[k * (D + 1) + D] + (hist.has(cat[k]) ? 0.2 : 0);
      for (let d = 0; d < D; d++) s += uv.u[i * D + d] * v[k * (D + 1) + d];
      return s;
    };
    const target = Array.from(cat).indexOf(b.ids[i * W + ID_ITEM]);
    const st = score(target);
    let above = 0, ties = 0;
    for (let k = 0; k < cat.length; k++) if (k !== target) { const s = score(k); if (s > st + 1e-6) above++; else if (Math.abs(s - st) <= 1e-6) ties++; }
    if (Math.abs(ranks[i] - (above + ties / 2)) < 0.51) same++;
  }
  t.equal(same, b.size, 'every rank agrees');
});

t.test('model: learns the planted groups, which popularity cannot see', async (t) => {
  for (const negatives of ['batch', 'catalogue'] as const) {
    const c = cfgOf({ negatives, lrScale: 10 });
    const p = new LocalParams(retrievalParamSpec('m', 1, c), { learningRate: 0.01, momentum: 0, nesterov: false, clipNorm: 100 });
    const model = new RetrievalModel(c);
    const all = plantedStream(c, 12_000);
    const early = new RetrievalMetric(), late = new RetrievalMetric();
    for (let a = 0; a < all.size; a += 128) {
      const b = sliceBatch(all, a, Math.min(all.size, a + 128));
      const r = model.trainStep(b, p);
      p.apply(r);
      (a < 1500 ? early : a >= all.size - 3000 ? late : undefined)?.add(r.predictions, b, 0, b.size);
    }
    // 100 items, a user's 25 take 90% + 2.5% of the picks: a perfect ranking hits ~37% in the top 10,
    // popularity (flat) ~10%.
    t.ok(late.figures().hr10 > 0.25, `${negatives}: late HR@10 ${late.figures().hr10.toFixed(3)} (early ${early.figures().hr10.toFixed(3)})`);
    t.ok(late.figures().hr10 > early.figures().hr10 + 0.08, `${negatives}: it learnt`);
  }
});

t.test('vector index: exhaustive search, upserts and removals', async (t) => {
  const r = mulberry32(5);
  const W = 9;
  const ix = new VectorIndex(W, 4);
  const truth = new Map<number, Float32Array>();
  for (let k = 0; k < 500; k++) {
    const row = Math.floor(r() * 300);
    const v = Float32Array.from({ length: W }, () => r() - 0.5);
    if (r() < 0.2) { ix.remove(row); truth.delete(row); } else { ix.upsert(row, v); truth.set(row, v); }
  }
  t.equal(ix.size, truth.size);
  const q = Float32Array.from({ length: W }, () => r() - 0.5);
  const dot = (v: Float32Array) => v.reduce((s, x, d) => s + x * q[d], 0);
  const want = [...truth].map(([row, v]) => ({ row, score: dot(v) })).sort((a, b) => b.score - a.score).slice(0, 10).map((h) => h.row);
  t.same(ix.search(q, 10).map((h) => h.row), want, 'the top 10 of a scan');
  const ex = new Set([ix.slotOf(want[0])]);
  t.same(ix.search(q, 3, { exclude: ex }).map((h) => h.row), want.slice(1, 4), 'an excluded slot is skipped');
  const bonus = new Map([[ix.slotOf(want[9]), 100]]);
  t.equal(ix.search(q, 1, { bonus })[0].row, want[9], 'a bonus lifts a slot');
  t.same(ix.search(q, 5, { allow: new Set([ix.slotOf(want[4])]) }).map((h) => h.row), [want[4]], 'allow restricts');
});

t.test('baselines: ranks on a stream worked by hand', async (t) => {
  const c = cfgOf();
  const s = new RetrievalExampleSource(c);
  // u1: a@1, b@2 | u2: a@3, c@4 | u1: c@5 (scored: u1 has history b, a)
  const b = concatBatches(s.shape, [s.push([buy('u1', 'a', 1), buy('u1', 'b', 2), buy('u2', 'a', 3), buy('u2', 'c', 4), buy('u1', 'c', 5), buy('u1', 'd', 6)]), s.flush()]);
  const lastBefore = (bl: import('../types.ts').Baseline) => {
    bl.learn(sliceBatch(b, 0, 4));
    return bl.predict(sliceBatch(b, 4, 6));
  };
  const [pop, recent, knn, own] = (await import('./baselines.ts')).retrievalBaselines(c);
  // learnt: a x2, b, c; u1's c: counts a 2, b 1, c 1 -> c ties with b: rank 1 + 0.5
  t.same(Array.from(lastBefore(pop)), [1.5, 3], 'popularity: a above c, c ties b; d unseen ranks last (3 items)');
  // recent: a at baskets 1 and 3, b at 2, c at 4: c is the most recent single count, above b; a (2 counts) still first
  t.equal(lastBefore(recent)[0], 1, 'recent popularity: c above the older b');
  // knn: u1's history (b, a). a co-occurred with b (u1) and with c (u2), once each; cosine by
  // counts (a 2, b 1, c 1): a 1/sqrt(1x2) (from b), b 1/sqrt(2x1), c 1/sqrt(2x1) (from a) all
  // 0.707; popularity breaks the tie: a first, c ties b
  t.equal(lastBefore(knn)[0], 1.5, 'item-knn: equal co-occurrence, popularity breaks the tie');
  const sk = new RetrievalExampleSource(c);
  const bk = concatBatches(sk.shape, [sk.push([buy('u1', 'a', 1), buy('u1', 'b', 2), buy('u2', 'a', 3), buy('u2', 'c', 4), buy('u3', 'a', 5), buy('u3', 'c', 6), buy('u1', 'c', 7)]), sk.flush()]);
  const knn2 = (await import('./baselines.ts')).retrievalBaselines(c)[2];
  knn2.learn(sliceBatch(bk, 0, 6));
  // now c co-occurred with a twice: 2/sqrt(3x2) = 0.82 against b's 1/sqrt(3x1) = 0.58 and a's 0.58
  t.same(Array.from(knn2.predict(sliceBatch(bk, 6, 7))), [0], 'item-knn: c, which co-occurs most with the user\'s a, first');
  // own: u1 took a and b: both above c
  t.equal(lastBefore(own)[0], 2, 'own-then-popularity: the user\'s a and b come first');
  const n = retrievalConfigSchema.parse({ ...c, newItemsOnly: true });
  const sn = new RetrievalExampleSource(n);
  const bn = concatBatches(sn.shape, [sn.push([buy('u1', 'a', 1), buy('u1', 'b', 2), buy('u2', 'a', 3), buy('u2', 'c', 4), buy('u1', 'c', 5)]), sn.flush()]);
  const p2 = (await import('./baselines.ts')).retrievalBaselines(n)[0];
  p2.learn(sliceBatch(bn, 0, 4));
  t.same(Array.from(p2.predict(sliceBatch(bn, 4, 5))), [0], 'newItemsOnly: the user\'s a and b are left out of the ranking');
});

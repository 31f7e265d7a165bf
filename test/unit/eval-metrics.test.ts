// The evaluation's figures against brute-force computations on small hand-made inputs:
// HR@K and NDCG@K by sorting, precision/recall/F1 by counting, windows of equal example count,
// any kind's metric per window, overall and per segment, baselines predict-then-learn.
import t from 'tap';
import { ScoreHistogram, binaryFigures as figuresOf, emptyBatch, type Batch } from '../../shared/index.ts';
import { hitAtK, ndcgAtK, rankFigures, rankOfPositive } from '../../shared/models/ctr/ranking.ts';
import { eventOfExamples, popularityBucket } from '../../shared/models/ctr/eval-extras.ts';
import { CTR_MODEL_DEFAULTS } from '../../shared/models/ctr/config.ts';
import { regressionMetric } from '../../shared/models/value/metric.ts';
import { RunningMean } from '../../shared/models/value/baselines.ts';
import { runBaselines } from '../../tools/eval/baselines.ts';
import { wayFigures } from '../../tools/eval/metrics.ts';
import { EVAL_DEFAULTS, chooseBucketMs, evalOptions, firstEvalWindow, windowOfExample, windowStart } from '../../tools/eval/protocol.ts';
import type { EvalStream } from '../../tools/eval/stream.ts';
import { evalOverrides } from '../../tools/eval/command.ts';
import { loadSchema } from '../../shared/datasets/schema.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { loadConfig } from '../../shared/index.ts';
import { REPO_ROOT } from '../../cluster/processes.ts';
import { join } from 'node:path';

/** Brute force: sort the set by score, descending, the positive after any candidate it ties with. */
function bruteRank(set: number[]): number {
  const order = set.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s || (a.i === 0 ? 1 : b.i === 0 ? -1 : 0));
  return order.findIndex((x) => x.i === 0);
}

t.test('rank, HR@K, NDCG@K', async (t) => {
  // Positive 0.7; candidates 0.9 and 0.8 above it, 0.7 ties (counts against), 0.1 below: rank 3.
  const set = [0.7, 0.9, 0.1, 0.8, 0.7];
  t.equal(rankOfPositive(set, 0, set.length), 3);
  t.equal(bruteRank(set), 3);
  t.equal(hitAtK(3, 10), 1);
  t.equal(hitAtK(3, 3), 0, 'rank 3 is the 4th place: not in the top 3');
  t.equal(ndcgAtK(0, 10), 1, 'first place: 1 / log2(2) = 1');
  t.equal(ndcgAtK(3, 10), 1 / Math.log2(5), 'fourth place: 1 / log2(5) = 0.4307');
  t.equal(ndcgAtK(10, 10), 0);
  // Random sets against the brute force.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const sets: number[][] = Array.from({ length: 200 }, () => Array.from({ length: 21 }, () => Math.round(rnd() * 20) / 20));
  const flat = Float32Array.from(sets.flat());
  let hr = 0, ndcg = 0;
  for (const s of sets) {
    const r = bruteRank(Array.from(Float32Array.from(s)));
    hr += r < 10 ? 1 : 0;
    ndcg += r < 10 ? 1 / Math.log2(r + 2) : 0;
  }
  const got = rankFigures(flat, 200, 21, 10, () => true);
  t.equal(got.sets, 200);
  t.ok(Math.abs(got.hr - hr / 200) < 1e-12, `HR@10 ${got.hr} = brute force ${hr / 200}`);
  t.ok(Math.abs(got.ndcg - ndcg / 200) < 1e-12, `NDCG@10 ${got.ndcg} = brute force ${ndcg / 200}`);
  const half = rankFigures(flat, 200, 21, 10, (s) => s % 2 === 0);
  t.equal(half.sets, 100, 'keep selects sets');
});

t.test('precision, recall, F1 at 0.5', async (t) => {
  const scores = [0.9, 0.8, 0.6, 0.4, 0.3, 0.55, 0.2, 0.7];
  const labels = [1, 1, 0, 1, 0, 0, 0, 1];
  // Predicted positive (>= 0.5): 0.9 0.8 0.6 0.55 0.7 -> tp = 3 (0.9, 0.8, 0.7), fp = 2 (0.6, 0.55)
  // Positives with p < 0.5: 0.4 -> fn = 1; tn = 2 (0.3, 0.2).
  // precision 3/5 = 0.6, recall 3/4 = 0.75, F1 = 2*0.6*0.75/1.35 = 0.6667, accuracy 5/8.
  const h = new ScoreHistogram();
  h.addBatch(Float32Array.from(scores), Float32Array.from(labels));
  const f = figuresOf(h);
  t.equal(f.precision, 0.6);
  t.equal(f.recall, 0.75);
  t.ok(Math.abs(f.f1 - 2 / 3) < 1e-12);
  t.equal(f.accuracy, 5 / 8);
  let tp = 0, fp = 0, fn = 0;
  scores.forEach((s, i) => { if (s >= 0.5 && labels[i]) tp++; else if (s >= 0.5) fp++; else if (labels[i]) fn++; });
  t.equal(f.precision, tp / (tp + fp), 'brute force precision');
  t.equal(f.recall, tp / (tp + fn), 'brute force recall');
});

t.test('windows of equal example count, popularity buckets, options', async (t) => {
  // 25 examples in 10 windows: floor(i * 10 / 25) -> sizes 3,2,3,2,3,2,3,2,3,2.
  const sizes = new Array(10).fill(0);
  for (let i = 0; i < 25; i++) sizes[windowOfExample(i, 25, 10)]++;
  t.same(sizes, [3, 2, 3, 2, 3, 2, 3, 2, 3, 2]);
  for (let w = 0; w <= 10; w++) t.equal(windowStart(w, 25, 10), [0, 3, 5, 8, 10, 13, 15, 18, 20, 23, 25][w], `start of window ${w}`);
  t.equal(firstEvalWindow({ windows: 10, evalFromFraction: 0.3 }), 3);
  t.same([0, 1, 9, 10, 99, 100, 5000].map(popularityBucket), [0, 1, 1, 2, 2, 3, 4]);
  t.equal(chooseBucketMs(Float64Array.from([0, 500, 1500, 2500])), 1000, 'the finest bucket when few');
  t.equal(chooseBucketMs(Float64Array.from({ length: 100 }, (_, i) => i * 1000), 10), 10_000, '100 s of events in at most 10 buckets');
  t.equal(evalOptions({ 'max-events': '20000' }).maxEvents, 20000);
  t.throws(() => evalOptions({ epochs: '0' }), /--epochs/);
});

/** A stream of n regression examples (target = i % 7, one id) in W windows, with one segmentation by parity. */
function regressionStream(n: number, W: number): EvalStream {
  const examples: Batch = emptyBatch({ idWidth: 1, denseWidth: 0, targetWidth: 1 }, n);
  for (let i = 0; i < n; i++) { examples.targets[i] = i % 7; examples.ids[i] = i % 3; examples.eventTs[i] = 1000 * i; }
  const window = Uint16Array.from({ length: n }, (_, i) => windowOfExample(i, n, W));
  return {
    events: n, size: n, examples, windows: W, window,
    extras: { segments: [{ name: 'parity', groups: ['even', 'odd'], groupOf: Uint8Array.from({ length: n }, (_, i) => i % 2) }], notes: [] },
  };
}

t.test('any kind\'s metric per window, overall and per segment (regression: RMSE by brute force)', async (t) => {
  const n = 95, W = 5;
  const s = regressionStream(n, W);
  const o = { ...EVAL_DEFAULTS, windows: W, evalFromFraction: 0.4 };
  const pred = Float32Array.from({ length: n }, (_, i) => (i * 13) % 5);
  const f = wayFigures(s, regressionMetric, pred, o, undefined);
  const rmse = (keep: (i: number) => boolean) => {
    let sq = 0, c = 0;
    for (let i = 0; i < n; i++) if (keep(i)) { sq += (pred[i] - s.examples.targets[i]) ** 2; c++; }
    return Math.sqrt(sq / c);
  };
  t.equal(f.windows.length, W);
  f.windows.forEach((r, w) => {
    t.ok(Math.abs(r.rmse - rmse((i) => s.window[i] === w)) < 1e-9, `window ${w} RMSE ${r.rmse}`);
    t.equal(r.examples, windowStart(w + 1, n, W) - windowStart(w, n, W));
    t.equal(r.fromMs, 1000 * windowStart(w, n, W), 'first event time of the window');
  });
  t.equal(Object.keys(f.overall)[1], 'rmse', 'the headline comes first after the count');
  t.ok(Math.abs(f.overall.rmse - rmse((i) => s.window[i] >= 2)) < 1e-9, 'overall = windows 3-5');
  const pooled = Math.sqrt(f.windows.slice(2).reduce((a, r) => a + r.examples * r.rmse ** 2, 0) / f.windows.slice(2).reduce((a, r) => a + r.examples, 0));
  t.ok(Math.abs(f.overall.rmse - pooled) < 1e-9, 'overall RMSE = pooled from the windows');
  t.ok(Math.abs(f.segments.parity.odd.rmse - rmse((i) => s.window[i] >= 2 && i % 2 === 1)) < 1e-9, 'segment: odd examples of the evaluated part');
  t.equal(f.segments.parity.even.examples + f.segments.parity.odd.examples, f.overall.examples);
});

t.test('baselines predict each batch before learning it', async (t) => {
  const s = regressionStream(50, 2);
  const [b] = runBaselines(s, [new RunningMean()], 8, 1);
  t.equal(b.name, 'mean');
  for (let i = 0; i < 50; i++) {
    const from = Math.floor(i / 8) * 8; // the batch's first example: the mean of everything before it
    let sum = 0;
    for (let j = 0; j < from; j++) sum += s.examples.targets[j];
    t.ok(Math.abs(b.scores[i] - (from ? sum / from : 0)) < 1e-5, `example ${i}`);
  }
});

t.test('the CTR stream\'s example -> event map', async (t) => {
  const implicit = { ...CTR_MODEL_DEFAULTS, labels: { kind: 'implicit' as const, negatives: 2 } };
  const b = emptyBatch({ idWidth: 1, denseWidth: 0, targetWidth: 1 }, 6);
  b.targets.set([1, 0, 0, 1, 1, 0]); // event 0 with two negatives, event 1 with none yet, event 2 with one
  t.same([...eventOfExamples(implicit, b, 3)], [0, 0, 0, 1, 2, 2]);
  t.throws(() => eventOfExamples(implicit, b, 4), /examples of 3 events, expected 4/);
  t.same([...eventOfExamples(CTR_MODEL_DEFAULTS, b, 6)], [0, 1, 2, 3, 4, 5], 'explicit labels: one example per event');
});

t.test('--kind: another kind than the schema\'s starts from its own settings', async (t) => {
  const schema = loadSchema(join(REPO_ROOT, 'datasets/online-retail.json'));
  const own = evalOverrides(schema);
  t.equal(own.kind, 'ctr');
  t.ok((own.settings as { labels?: unknown }).labels, 'the schema\'s label rule for its own kind');
  const value = evalOverrides(schema, 'value');
  t.equal(value.kind, 'value');
  t.equal(value.settings, undefined, 'no CTR fields or label rule for the value kind');
  t.equal(resolveModel(loadConfig({ overrides: value, env: {} })).kind.kind, 'value', 'the overrides make a valid value config');
  t.throws(() => evalOverrides(schema, 'nope'), /unknown model kind "nope" \(known: .*value/);
});

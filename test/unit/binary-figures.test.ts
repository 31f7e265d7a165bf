// The binary metric's figures for a low positive rate: PR-AUC (average precision) from the score
// histogram against the exact per-example AP, the best-F1 threshold against a brute force over
// the bin thresholds, and F1/precision/recall of a window at the previous window's best
// threshold, worked by hand, through the training report's windows and the eval's.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUC_BINS, BinaryMetric, ReportAggregator, ScoreHistogram, bestF1Threshold, binaryMetric, emptyBatch,
  exactAveragePrecision, mulberry32, scoreBin, type Batch,
} from '../../shared/index.ts';
import { wayFigures } from '../../tools/eval/metrics.ts';
import { EVAL_DEFAULTS, windowOfExample } from '../../tools/eval/protocol.ts';
import { writeReport } from '../../tools/eval/report.ts';
import type { EvalStream } from '../../tools/eval/stream.ts';

const hist = (scores: number[], labels: number[]) => {
  const h = new ScoreHistogram();
  scores.forEach((p, i) => h.add(p, labels[i]));
  return h;
};

function batchOf(labels: number[]): Batch {
  const b = emptyBatch({ idWidth: 1, denseWidth: 0, targetWidth: 1 }, labels.length);
  labels.forEach((y, i) => { b.targets[i] = y; b.eventTs[i] = 1000 * i; });
  return b;
}

function metricOf(scores: number[], labels: number[]): BinaryMetric {
  const m = new BinaryMetric();
  m.add(Float32Array.from(scores), batchOf(labels), 0, labels.length);
  return m;
}

t.test('PR-AUC on cases worked by hand', async (t) => {
  // High to low: + - + - +: precision at each positive 1, 2/3, 3/5 -> AP = (1 + 2/3 + 3/5) / 3 = 34/45.
  const s = [0.9, 0.8, 0.7, 0.3, 0.2], y = [1, 0, 1, 0, 1];
  t.ok(new Set(s.map(scoreBin)).size === 5, 'every score in its own bin');
  t.ok(Math.abs(exactAveragePrecision(s, y) - 34 / 45) < 1e-12);
  t.ok(Math.abs(hist(s, y).prAuc() - 34 / 45) < 1e-12, `histogram ${hist(s, y).prAuc()} = 34/45`);
  // A tie (one bin, one threshold): 0.9 holds a positive and a negative -> precision 1/2 there,
  // then 0.2's positive at 2/3: AP = (1/2 + 2/3) / 2 = 7/12.
  t.ok(Math.abs(hist([0.9, 0.9, 0.2], [1, 0, 1]).prAuc() - 7 / 12) < 1e-12);
  t.ok(Math.abs(exactAveragePrecision([0.9, 0.9, 0.2], [1, 0, 1]) - 7 / 12) < 1e-12);
  t.ok(Number.isNaN(hist([0.4, 0.3], [0, 0]).prAuc()), 'no positives: NaN');
  t.equal(hist([0.1, 0.3], [1, 1]).prAuc(), 1, 'only positives: 1');
});

/** AP with each bin's examples ordered negatives first (low) or positives first (high): bounds of any order within the bins. */
function binOrderBounds(h: ScoreHistogram): [number, number] {
  let tp = 0, fp = 0, lo = 0, hi = 0, P = 0;
  for (let k = 0; k < AUC_BINS; k++) P += h.pos[k];
  for (let k = AUC_BINS - 1; k >= 0; k--) {
    for (let j = 1; j <= h.pos[k]; j++) {
      lo += (tp + j) / (tp + fp + h.neg[k] + j);
      hi += (tp + j) / (tp + fp + j);
    }
    tp += h.pos[k]; fp += h.neg[k];
  }
  return [lo / P, hi / P];
}

t.test('histogram PR-AUC agrees with the exact per-example AP within what the bins allow', async (t) => {
  const rand = mulberry32(11);
  for (const [n, rate, sep] of [[50, 0.3, 1], [300, 0.05, 2], [2000, 0.02, 1.5], [2000, 0.2, 0]] as const) {
    const scores: number[] = [], labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const y = rand() < rate ? 1 : 0;
      const z = (rand() + rand() + rand() - 1.5) * 2 + (y ? sep : 0) - 3;
      scores.push(1 / (1 + Math.exp(-z))); labels.push(y);
    }
    const h = hist(scores, labels);
    const exact = exactAveragePrecision(scores, labels);
    const [lo, hi] = binOrderBounds(h);
    t.ok(lo <= exact + 1e-12 && exact <= hi + 1e-12, `n ${n}: exact AP ${exact.toFixed(4)} within the bin-order bounds [${lo.toFixed(4)}, ${hi.toFixed(4)}]`);
    t.ok(lo <= h.prAuc() + 1e-12 && h.prAuc() <= hi + 1e-12, `histogram AP ${h.prAuc().toFixed(4)} within them too`);
    // Bins 24/512 logits wide hold few examples each at these sizes: the bounds are tight.
    t.ok(Math.abs(h.prAuc() - exact) < 0.02, `n ${n}, rate ${rate}: histogram ${h.prAuc().toFixed(4)} vs exact ${exact.toFixed(4)}`);
  }
});

t.test('best-F1 threshold = the brute force over every bin threshold', async (t) => {
  const rand = mulberry32(3);
  for (let trial = 0; trial < 20; trial++) {
    const scores: number[] = [], labels: number[] = [];
    for (let i = 0; i < 200; i++) { const y = rand() < 0.1 ? 1 : 0; scores.push(Math.min(0.45, rand() * (y ? 0.5 : 0.3))); labels.push(y); }
    if (!labels.includes(1)) continue;
    let bestF1 = -1, bestBin = -1;
    for (let k = AUC_BINS - 1; k >= 0; k--) {
      let tp = 0, fp = 0, fn = 0;
      scores.forEach((p, i) => { const pos = scoreBin(p) >= k; if (labels[i]) { if (pos) tp++; else fn++; } else if (pos) fp++; });
      const f1 = (2 * tp) / (2 * tp + fp + fn);
      if (f1 > bestF1) { bestF1 = f1; bestBin = k; }
    }
    const b = bestF1Threshold(hist(scores, labels))!;
    t.ok(Math.abs(b.f1 - bestF1) < 1e-12, `trial ${trial}: F1 ${b.f1} = brute force ${bestF1}`);
    // Empty bins between two occupied ones give the same F1; the brute force keeps the highest.
    t.ok(b.bin <= bestBin, 'threshold at or below the brute force\'s highest best');
    t.equal(scoreBin(b.threshold * (1 + 1e-9)), b.bin, 'the threshold is the lower edge of its bin');
  }
  t.equal(bestF1Threshold(hist([0.2, 0.1], [0, 0])), undefined, 'no positives: no best threshold');
});

// Window A (all scores below 0.5, positives 0.30 and 0.10): thresholds from the top give
// F1 = 2TP/(TP+FP+P): 0.30 -> 2/3, 0.20 -> 2/4, 0.10 -> 4/5 (the best), 0.05 -> 4/6.
const A = { s: [0.3, 0.2, 0.1, 0.05, 0.04, 0.03], y: [1, 0, 1, 0, 0, 0] };
// Window B at A's best threshold (between 0.05 and 0.10; 0.09 falls below it, 0.11 above):
// predicted positive 0.40(-), 0.15(+), 0.12(-), 0.11(+) -> TP 2, FP 2, FN 2 (0.09, 0.01):
// precision 1/2, recall 1/2, F1 = 4/8 = 1/2.
// Windows of equal example count: A padded to B's 7 with a low negative (its best threshold stays).
const A7 = { s: [...A.s, 0.001], y: [...A.y, 0] };
const B = { s: [0.4, 0.15, 0.12, 0.09, 0.11, 0.06, 0.01], y: [0, 1, 0, 1, 1, 0, 1] };

t.test('F1, precision, recall at the previous window\'s best threshold, by hand', async (t) => {
  const a = metricOf(A.s, A.y), b = metricOf(B.s, B.y);
  const best = bestF1Threshold(a.h)!;
  t.ok(Math.abs(best.f1 - 0.8) < 1e-12, `A's best F1 ${best.f1} = 4/5`);
  t.ok(best.threshold > 0.09 && best.threshold <= 0.1, `A's best threshold ${best.threshold} between 0.09 and 0.10`);
  t.ok(Number.isNaN(a.figures().f1) && Number.isNaN(a.figures().precision), 'at 0.5 nothing is predicted positive: NaN');
  const f = b.figuresAfter(a);
  t.equal(f.precisionAtPrevBest, 0.5); t.equal(f.recallAtPrevBest, 0.5); t.equal(f.f1AtPrevBest, 0.5);
  t.equal(f.prevBestThreshold, best.threshold);
  const first = a.figuresAfter(undefined);
  t.ok(Object.values(first).every(Number.isNaN), 'first window: NaN');
  t.ok(Object.values(b.figuresAfter(metricOf([0.3], [0]))).every(Number.isNaN), 'previous window without positives: NaN');
  t.same(b.counts(), { positives: 4 });
  t.throws(() => b.figuresAfter({ count: 0 } as never), /not a binary metric/);
});

t.test('the training report\'s windows take the threshold from the window before', async (t) => {
  const agg = new ReportAggregator(1000, binaryMetric);
  const bucket = (key: number, d: { s: number[]; y: number[] }) => {
    const h = hist(d.s, d.y);
    return { key, n: h.n, model: h.toJSON(), baselines: { same: h.toJSON() } };
  };
  agg.add({ worker: 'a', backend: 'cpu', atMs: 0, eventsTrained: 13, eventsRetried: 0, examples: 13, steps: 1, lossSum: 0, buckets: [bucket(0, A7), bucket(1, B)] });
  const w = agg.windows(2);
  t.equal(w.length, 2);
  t.ok(Number.isNaN(w[0].figures.f1AtPrevBest), 'window 0: NaN');
  t.equal(w[1].figures.f1AtPrevBest, 0.5); t.equal(w[1].figures.precisionAtPrevBest, 0.5); t.equal(w[1].figures.recallAtPrevBest, 0.5);
  t.equal(w[1].baselines.same.f1AtPrevBest, 0.5, 'a baseline from its own previous window');
  t.equal(w[1].figures.positives, 4);
  t.notOk('f1AtPrevBest' in agg.overall().figures, 'overall has no previous window');
});

t.test('eval: per-window figures at the previous window\'s threshold, positives per segment, counts as integers', async (t) => {
  const W = 2;
  const sc = [...A7.s, ...B.s], lab = [...A7.y, ...B.y];
  const examples = batchOf(lab);
  const stream: EvalStream = {
    events: sc.length, size: sc.length, examples, windows: W, window: Uint16Array.from(sc, (_, i) => windowOfExample(i, sc.length, W)),
    extras: { segments: [{ name: 'half', groups: ['first', 'second'], groupOf: Uint8Array.from(sc, (_, i) => (i < 7 ? 0 : 1)) }], notes: [] },
  };
  const o = { ...EVAL_DEFAULTS, windows: W, evalFromFraction: 0 };
  const f = wayFigures(stream, binaryMetric, Float32Array.from(sc), o, undefined);
  t.ok(Number.isNaN(f.windows[0].f1AtPrevBest), 'window 0: NaN');
  t.equal(f.windows[1].f1AtPrevBest, 0.5, 'A padded with a 0.001 negative has the same best threshold');
  t.equal(f.windows[1].examples, 7); t.equal(f.windows[1].positives, 4);
  t.equal(f.segments.half.first.positives, 2); t.equal(f.segments.half.second.positives, 4);
  t.equal(f.overall.positives, 6);
  t.notOk('f1AtPrevBest' in f.overall);
  const dir = mkdtempSync(join(tmpdir(), 'binfigs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = writeReport(dir, {
    dataset: 'hand', kind: 'ctr', eventsRead: sc.length, examples: sc.length, notes: [],
    metric: { headline: 'auc', higherIsBetter: true, counts: ['examples', 'positives'], figures: ['auc', 'prAuc'], windowFigures: ['f1AtPrevBest'] },
    protocol: { windows: W, firstEvalWindow: 0 }, ways: { incrementalTwin: f },
  });
  const html = readFileSync(files.html, 'utf8');
  t.match(html, /<th>half: second<\/th><td>7<\/td><td>4<\/td>/, 'a segment row: examples and positives as integers');
  t.notMatch(html, /<td>4\.0000<\/td>/, 'no count printed with decimals');
  t.match(html, /f1AtPrevBest/, 'the window figure is charted');
  const json = JSON.parse(readFileSync(files.json, 'utf8'));
  t.equal(json.ways.incrementalTwin.segments.half.second.positives, 4);
  t.ok(Number.isInteger(json.ways.incrementalTwin.overall.examples));
});

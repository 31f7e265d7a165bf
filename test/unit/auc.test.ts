import t from 'tap';
import { ScoreHistogram, exactAuc, mulberry32, ReportAggregator, binaryMetric } from '../../shared/index.ts';

t.test('exact AUC on a case worked by hand', async (t) => {
  // positives 0.8, 0.4; negatives 0.6, 0.4, 0.1: pairs won 0.8>all (3), 0.4>0.1 (1), 0.4=0.4 (0.5) -> 4.5/6
  t.equal(exactAuc([0.8, 0.4, 0.6, 0.4, 0.1], [1, 1, 0, 0, 0]), 0.75);
});

t.test('streaming (histogram) AUC agrees with the brute-force pairwise AUC', async (t) => {
  const rand = mulberry32(5);
  for (const sep of [0, 0.5, 2]) {
    const scores: number[] = [];
    const labels: number[] = [];
    const h = new ScoreHistogram();
    for (let i = 0; i < 20_000; i++) {
      const y = rand() < 0.2 ? 1 : 0;
      const z = (rand() + rand() + rand() - 1.5) * 2 + (y ? sep : 0) - 1.5;
      const p = 1 / (1 + Math.exp(-z));
      scores.push(p); labels.push(y); h.add(p, y);
    }
    let pairs = 0; let won = 0;
    for (let i = 0; i < 2000; i++) for (let j = 0; j < 2000; j++) {
      if (labels[i] === 1 && labels[j] === 0) { pairs++; won += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0; }
    }
    const brute = won / pairs;
    t.ok(Math.abs(exactAuc(scores.slice(0, 2000), labels.slice(0, 2000)) - brute) < 1e-9, 'rank AUC = pairwise AUC');
    t.ok(Math.abs(h.auc() - exactAuc(scores, labels)) < 2e-3, `sep ${sep}: histogram ${h.auc().toFixed(4)} vs exact ${exactAuc(scores, labels).toFixed(4)}`);
  }
});

t.test('histograms merge exactly; logloss and confusion counts', async (t) => {
  const a = new ScoreHistogram(); const b = new ScoreHistogram(); const all = new ScoreHistogram();
  const data: [number, number][] = [[0.9, 1], [0.2, 0], [0.7, 0], [0.4, 1]];
  data.forEach(([p, y], i) => { (i % 2 ? a : b).add(p, y); all.add(p, y); });
  a.merge(b);
  t.equal(a.auc(), all.auc());
  // logloss = -(ln .9 + ln .8 + ln .3 + ln .4)/4
  t.ok(Math.abs(a.logLoss() - -(Math.log(0.9) + Math.log(0.8) + Math.log(0.3) + Math.log(0.4)) / 4) < 1e-12);
  t.same([a.tp, a.fp, a.tn, a.fn], [1, 1, 1, 1]);
});

t.test('windows cut the stream into equal example counts in time order', async (t) => {
  const agg = new ReportAggregator(1000, binaryMetric);
  const mk = (key: number, n: number, good: boolean) => {
    const h = new ScoreHistogram();
    for (let i = 0; i < n; i++) { h.add(good ? 0.9 : 0.1, 1); h.add(good ? 0.1 : 0.9, 0); }
    return { key, n: h.n, model: h.toJSON(), baselines: {} };
  };
  agg.add({ worker: 'a', backend: 'cpu', atMs: 0, eventsTrained: 5, eventsRetried: 0, examples: 0, steps: 0, lossSum: 0, buckets: [mk(1, 50, false), mk(3, 50, true)] });
  agg.add({ worker: 'b', backend: 'cpu', atMs: 0, eventsTrained: 7, eventsRetried: 0, examples: 0, steps: 0, lossSum: 0, buckets: [mk(2, 50, false), mk(4, 50, true)] });
  const w = agg.windows(2);
  t.equal(w.length, 2);
  t.equal(w[0].headline, 0); t.equal(w[1].figures.auc, 1);
  t.equal(agg.total('eventsTrained'), 12);
});

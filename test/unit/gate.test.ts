import t from 'tap';
import { DEFAULT_CONFIG, binaryMetric, emptyBatch, mulberry32, type Batch, type MetricDef } from '../../shared/index.ts';
import { GateRules } from '../../services/validator/gate.ts';

type ExampleChunk = Batch;
const shape = { idWidth: 1, denseWidth: 0, targetWidth: 1 };

// One field; the planted truth: label 1 iff id is even. A "good" scorer knows it, a "bad" one
// has it backwards, a "noisy" one knows it 80% of the time.
const rand = mulberry32(3);
function chunk(n: number, flipped = false): ExampleChunk {
  const b = emptyBatch(shape, n);
  for (let i = 0; i < n; i++) {
    b.ids[i] = Math.floor(rand() * 1000);
    const truth = b.ids[i] % 2 === 0 ? 1 : 0;
    b.targets[i] = flipped ? 1 - truth : truth;
  }
  return b;
}
const good = (c: ExampleChunk) => Float32Array.from(c.ids, (id) => (id % 2 === 0 ? 0.9 : 0.1));
const noisy = (c: ExampleChunk) => Float32Array.from(c.ids, (id) => ((id % 2 === 0) !== (id % 5 === 0) ? 0.8 : 0.2));
const bad = (c: ExampleChunk) => Float32Array.from(c.ids, (id) => (id % 2 === 0 ? 0.1 : 0.9));

const cfg = { ...DEFAULT_CONFIG.gate, minHoldoutExamples: 500, chunkExamples: 100, maxQuarantineRounds: 3, tolerance: 0.01 };

t.test('first candidate is accepted; a worse one is rejected and the learning rate decays', async (t) => {
  const g = new GateRules(cfg, shape, binaryMetric);
  t.ok(g.decide(good, undefined)!.accepted, 'nothing serving yet');
  t.equal(g.decide(good, good), undefined, 'no judgement without enough holdout');
  g.judgeChunk(chunk(600), undefined);
  const worse = g.decide(noisy, good)!;
  t.notOk(worse.accepted, `rejected: ${worse.reason}`);
  t.equal(g.lrFactor, 0.5);
  t.notOk(g.decide(bad, good)!.accepted);
  t.equal(g.lrFactor, 0.25);
  const better = g.decide(good, noisy)!;
  t.ok(better.accepted, 'a better candidate passes');
  t.equal(g.lrFactor, 0.5, 'and the rate recovers');
  t.ok(better.candidate > better.serving);
  t.equal(better.metric, 'auc');
});

t.test('flipped-label data is quarantined, then accepted as drift after the limit', async (t) => {
  const g = new GateRules(cfg, shape, binaryMetric);
  g.judgeChunk(chunk(600), undefined);
  t.equal(g.judgeChunk(chunk(100), good), 'admitted', 'clean data joins the holdout');
  for (let i = 0; i < 3; i++) t.equal(g.judgeChunk(chunk(100, true), good), 'quarantined');
  t.equal(g.holdout.size, 700, 'holdout unchanged by poisoned chunks');
  t.equal(g.judgeChunk(chunk(100, true), good), 'admitted-as-drift', 'a lasting change is accepted after maxQuarantineRounds');
  t.equal(g.quarantinedChunks, 3);
  // While the holdout is clean, a model that learned the flipped labels is rejected.
  const g2 = new GateRules(cfg, shape, binaryMetric);
  g2.judgeChunk(chunk(600), undefined);
  g2.judgeChunk(chunk(100, true), good);
  t.notOk(g2.decide(bad, good)!.accepted, 'poisoned candidate rejected on the clean holdout');
});

t.test('rejections in a row call for a rollback of the weights, once per run of rejections', async (t) => {
  const g = new GateRules({ ...cfg, rollbackAfterRejections: 2 }, shape, binaryMetric);
  g.judgeChunk(chunk(600), undefined);
  g.decide(bad, good);
  t.notOk(g.takeRollback(), 'one rejection: not yet');
  g.decide(bad, good);
  t.ok(g.takeRollback(), 'two in a row: roll back');
  t.notOk(g.takeRollback(), 'and the count starts again');
  for (let i = 0; i < 10; i++) g.decide(bad, good);
  t.equal(g.lrFactor, 1 / 16, 'the rate never decays below 1/16');
});

t.test('for a lower-is-better metric the gate turns round: a higher error is the worse candidate', async (t) => {
  // Mean absolute error of the prediction against the target: lower is better.
  const mae: MetricDef = {
    headline: 'mae', higherIsBetter: false,
    create: () => {
      let sum = 0; let n = 0;
      return {
        get count() { return n; },
        add: (p, b, from, to) => { for (let i = from; i < to; i++) { sum += Math.abs(p[i] - b.targets[i]); n++; } },
        state: () => ({ sum, n }),
        merge: (s) => { sum += s.sum as number; n += s.n as number; },
        figures: () => ({ mae: n ? sum / n : NaN }),
      };
    },
  };
  const g = new GateRules(cfg, shape, mae);
  g.judgeChunk(chunk(600), undefined);
  const rejected = g.decide(noisy, good)!;
  t.notOk(rejected.accepted, `the noisier candidate has the higher error: ${rejected.reason}`);
  t.ok(rejected.candidate > rejected.serving, 'its MAE is above serving');
  t.match(rejected.reason, /holdout mae .* > serving/);
  t.ok(g.decide(good, noisy)!.accepted, 'the lower error passes');
});

t.test('the gate on a kind where lower is better: demand forecasts judged by WRMSSE, NaN-target forecasts ignored', async (t) => {
  const { DemandExampleSource } = await import('../../shared/models/demand/examples.ts');
  const { demandConfigSchema } = await import('../../shared/models/demand/config.ts');
  const { demandMetric } = await import('../../shared/models/demand/metric.ts');
  const { demandLayout } = await import('../../shared/models/demand/spec.ts');
  const { DEMO_DATA_PATH, onlineRetailEventBatches } = await import('../../shared/datasets/online-retail.ts');
  const settings = demandConfigSchema.parse({});
  const src = new DemandExampleSource(settings);
  const L = demandLayout(settings.horizon);
  const g = new GateRules({ ...cfg, minHoldoutExamples: 2000 }, src.shape, demandMetric);
  for await (const evs of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: 30_000, returns: true })) {
    const b = src.push(evs);
    if (b.size) g.judgeChunk(b, undefined);
  }
  t.ok(g.holdout.size >= 2000, `holdout of ${g.holdout.size} examples, forecasts and completed ones`);
  // The line-weekday yardstick, and the same forecasts three times too high.
  const yardstick = (b: Batch) => {
    const H = b.targetWidth;
    const out = new Float32Array(b.size * H);
    for (let i = 0; i < b.size; i++) for (let h = 0; h < H; h++) out[i * H + h] = b.dense[i * b.denseWidth + L.lineWeekday + h];
    return out;
  };
  const tooHigh = (b: Batch) => yardstick(b).map((x) => 3 * x);
  const worse = g.decide(tooHigh, yardstick)!;
  t.notOk(worse.accepted, `over-forecasting rejected: ${worse.reason}`);
  t.equal(worse.metric, 'wrmsse1');
  t.ok(worse.candidate > worse.serving, 'its WRMSSE is higher');
  t.ok(g.decide(yardstick, tooHigh)!.accepted, 'the better forecast replaces the worse');
});

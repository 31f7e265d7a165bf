// The aggregator's counters wait for the buckets they stand for: a worker sends its counters
// before every ack and its bucket increments only every metricsIntervalMs, so a reader that
// waits for total('eventsTrained') must find every scored example of those events merged.
import t from 'tap';
import { BucketMetrics, ReportAggregator, binaryMetric, type WorkerReport } from '../../shared/index.ts';

/** A bucket of `n` examples (scores 0.5, labels alternating) in its report form. */
function bucket(key: number, n: number) {
  const m = new BucketMetrics(binaryMetric);
  const preds = new Float32Array(n).fill(0.5);
  const targets = Float32Array.from({ length: n }, (_, i) => i % 2);
  m.model.add(preds, { targets } as never, 0, n);
  m.n = n;
  return m.toReport(key);
}

const report = (worker: string, eventsTrained: number, scored: number | undefined, buckets: ReturnType<typeof bucket>[]): WorkerReport => ({
  worker, backend: 'cpu', atMs: 0, eventsTrained, eventsRetried: 0, examples: scored ?? 0, steps: 1, lossSum: 0, buckets,
  ...(scored === undefined ? {} : { scored }),
});

t.test('counters ahead of their buckets are not counted until the buckets arrive', async (t) => {
  const agg = new ReportAggregator(1000, binaryMetric);
  agg.add(report('w1', 4, 8, [bucket(0, 8)]));
  t.equal(agg.total('eventsTrained'), 4, 'a full report is settled');
  agg.add(report('w1', 9, 18, []));
  t.equal(agg.total('eventsTrained'), 4, 'counters-only, 10 scored examples not merged yet: still the last settled figure');
  t.equal(agg.workers.get('w1')!.eventsTrained, 9, 'the newest counters are kept apart');
  agg.add(report('w1', 10, 20, [bucket(0, 6), bucket(1, 6)]));
  t.equal(agg.total('eventsTrained'), 10, 'the bucket report catches up');
  t.equal(agg.overall().examples, 20, 'and the figures cover every scored example');
});

t.test('workers settle independently; reports without a scored count settle at once', async (t) => {
  const agg = new ReportAggregator(1000, binaryMetric);
  agg.add(report('a', 5, 10, [bucket(0, 10)]));
  agg.add(report('b', 7, undefined, []));
  t.equal(agg.total('eventsTrained'), 12);
  agg.add(report('a', 6, 12, []));
  t.equal(agg.total('eventsTrained'), 12, 'a waits for its buckets, b is counted');
});

t.test('a restarted worker of the same name counts from its own report', async (t) => {
  const agg = new ReportAggregator(1000, binaryMetric);
  agg.add(report('w', 100, 200, [bucket(0, 200)]));
  agg.add(report('w', 3, 4, [bucket(1, 4)]));
  t.equal(agg.total('eventsTrained'), 3);
  agg.add(report('w', 5, 8, []));
  t.equal(agg.total('eventsTrained'), 3, 'its later counters wait for their buckets like any');
  agg.add(report('w', 5, 8, [bucket(1, 4)]));
  t.equal(agg.total('eventsTrained'), 5);
});

t.test('a reader that missed a worker\'s first reports settles on its next report with buckets', async (t) => {
  const agg = new ReportAggregator(1000, binaryMetric);
  // The reports up to scored 50 went out before this reader subscribed.
  agg.add(report('w', 30, 60, []));
  t.equal(agg.total('eventsTrained'), 0, 'counters whose buckets it has not seen');
  agg.add(report('w', 32, 64, [bucket(0, 14)]));
  t.equal(agg.total('eventsTrained'), 32, 'settled: that report held every increment up to 64');
  t.equal(agg.overall().examples, 14, 'the figures lack what it missed');
});

t.test('a worker gone silent counts with its newest counters: its buckets died with it', async (t) => {
  let now = 0;
  const agg = new ReportAggregator(1000, binaryMetric, 10_000, () => now);
  agg.add(report('killed', 4, 8, [bucket(0, 8)]));
  agg.add(report('live', 2, 4, [bucket(0, 4)]));
  // Its counters before an ack, then kill -9 before the next full report.
  agg.add(report('killed', 9, 18, []));
  now = 10_000;
  t.equal(agg.total('eventsTrained'), 6, 'silent for the bound, not past it: still waiting for its buckets');
  now = 10_001;
  agg.add(report('live', 3, 6, []));
  t.equal(agg.total('eventsTrained'), 11, 'past it: its 9 trained events count; the live one (3 now) still waits for its own buckets (2)');
  t.equal(agg.overall().examples, 12, 'the figures hold what arrived, no more');
});

// 2 PS shards and 2 worker processes over the real NATS (JetStream) and Redis learn a planted
// rule from a synthetic stream: prequential AUC starts near 0.5 and ends above 0.9.
import t from 'tap';
import {
  JetStreamEventLog, NatsTransport, ReportAggregator, binaryMetric, connectNats, decode, mulberry32, subjects,
  type FlywheelEvent, type WorkerReport,
} from '../../shared/index.ts';
import { ProcessGroup } from '../../cluster/processes.ts';
import { publishToEventLog, replayUntilTrained } from '../../cluster/replay-until-trained.ts';
import { cleanupModel, integrationConfig } from '../helpers/integration.ts';

const N_EVENTS = 60_000;

t.test('2 PS shards + 2 workers learn a planted rule', async (t) => {
  const { cfg, file, dir } = await integrationConfig('planted', {
    psShards: 2, workers: 2, eventShards: 4,
    // The model this test was written for: momentum biases and no online statistics. Per-id
    // counts catch this rule within the first window (AUC 0.74-0.75 there), and the test is
    // about the machinery learning over time, so it keeps the slower learner.
    settings: {
      labels: { kind: 'types', positive: ['buy'] }, fields: ['user', 'item'], buckets: 1 << 16, hidden: [16], embDim: 4, embLrScale: 20,
      biasLrScale: 20, biasOptimizer: 'momentum', stats: [],
    },
    ps: { learningRate: 0.03, publishIntervalMs: 50 },
    // Static shard assignment: lease handovers redeliver events, which would be scored twice.
    worker: { batchSize: 128, evalBucketMs: 1000, metricsIntervalMs: 200, leaseTtlMs: 0 },
  });
  const nc = await connectNats(cfg.natsUrl, 'test-planted');
  const transport = new NatsTransport(nc);
  const log = new JetStreamEventLog(nc, { model: cfg.model, eventShards: cfg.eventShards });
  await log.ensure();
  const group = new ProcessGroup(dir);
  t.teardown(async () => {
    await group.stop();
    await transport.close();
    await cleanupModel(cfg);
  });
  const agg = new ReportAggregator(cfg.worker.evalBucketMs, binaryMetric);
  transport.subscribe(subjects.metrics(cfg.model), (m) => agg.add(decode(m.data) as WorkerReport));
  for (let k = 0; k < 2; k++) group.start(`ps-${k}`, 'ps', ['--config', file, '--shard', String(k)]);
  for (let i = 0; i < 2; i++) group.start(`worker-${i}`, 'worker', ['--config', file, '--index', String(i)]);
  const died = group.watch();
  died.catch(() => undefined);

  // The planted truth: a user buys an item iff the item is in the "good" quarter or the user
  // is a "big spender" (a fifth of users). 5,000 users x 5,000 items: each id is seen ~12 times; the first window hardly repeats one.
  const rand = mulberry32(9);
  const t0 = Date.UTC(2024, 0, 1);
  const events: FlywheelEvent[] = [];
  for (let i = 0; i < N_EVENTS; i++) {
    const u = Math.floor(rand() * 5000);
    const it = Math.floor(rand() * 5000);
    const buy = it % 4 === 0 || u % 5 === 0;
    events.push({ userId: `u${u}`, itemId: `i${it}`, type: buy ? 'buy' : 'view', ts: t0 + i * 10 });
  }
  // As ingest does: each slice of the stream, in time order, split by hash(user) mod S.
  const r = await replayUntilTrained({
    events, to: { publish: publishToEventLog(log, 4), batchEvents: 400 }, trained: () => agg.total('eventsTrained'),
    expected: N_EVENTS, failed: died, drainTimeoutMs: 180_000,
  });
  t.ok(r.caughtUp, `every event trained and acked within 180 s (${r.trained} of ${N_EVENTS})`);
  const w = agg.windows(60);
  t.comment(`prequential AUC by window: ${w.map((x) => x.figures.auc.toFixed(3)).join(' ')}`);
  t.ok(w[0].figures.auc < 0.75, `first window near chance (${w[0].figures.auc.toFixed(3)})`);
  t.ok(w[w.length - 1].figures.auc > 0.9, `last window above 0.9 (${w[w.length - 1].figures.auc.toFixed(3)})`);
  t.equal(agg.workers.size, 2, 'both workers reported');
  for (const r of agg.workers.values()) t.ok(r.eventsTrained > 0, `${r.worker} trained ${r.eventsTrained} events`);
  const backlog = await Promise.all([0, 1, 2, 3].map((s) => log.backlog(s)));
  t.same(backlog.map((b) => b.pending + b.ackPending), [0, 0, 0, 0], 'every message acked');
});

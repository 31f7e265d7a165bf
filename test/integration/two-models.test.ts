// One ingest feeds two models of different kinds from one event stream: the CTR kind (sharded
// by user) and the small value kind (units per purchase, sharded by item, shared/models/value).
// Each has its own PS shard, worker and inference node over the real NATS and Redis, trains
// every event of a real Online Retail prefix, and serves its own routes naming its versions.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { NatsTransport, ReportAggregator, connectNats, decode, subjects, waitFor, type WorkerReport } from '../../shared/index.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { modelKind } from '../../shared/models/registry.ts';
import { ProcessGroup } from '../../cluster/processes.ts';
import { freePort, resetModel } from '../../cluster/local-cluster.ts';
import { forModel } from '../../shared/index.ts';
import { integrationConfig, uniqueModel } from '../helpers/integration.ts';

const N_EVENTS = 20_000;

t.test('a ctr and a value model train from one ingest and serve side by side', async (t) => {
  const id = uniqueModel('two');
  const { cfg: assigned, file, dir } = await integrationConfig('two', {
    model: undefined, stream: id,
    models: [
      { name: `${id}_ctr`, kind: 'ctr', settings: { labels: { kind: 'implicit', negatives: 2 }, fields: ['user', 'item'], buckets: 1 << 14, hidden: [8], embDim: 4 } },
      { name: `${id}_val`, kind: 'value', settings: { buckets: 1 << 14 } },
    ],
    psShards: 1, workers: 1, eventShards: 2,
    ps: { publishIntervalMs: 50 },
    worker: { leaseTtlMs: 0, metricsIntervalMs: 200, evalBucketMs: 86_400_000 },
  });
  // Two models' services on one host: no per-index metrics ports (they would collide).
  const cfg = { ...assigned, psMetricsBasePort: 0, workerMetricsBasePort: 0 };
  writeFileSync(file, JSON.stringify(cfg));
  const [ctr, val] = cfg.models.map((m) => m.name);
  const nc = await connectNats(cfg.natsUrl, 'test-two-models');
  const transport = new NatsTransport(nc);
  const group = new ProcessGroup(dir);
  t.teardown(async () => {
    await group.stop();
    await transport.close();
    for (const m of [val, ctr]) await resetModel(forModel(cfg, m)).catch(() => undefined);
  });
  const aggs = new Map(cfg.models.map((m) => [m.name, new ReportAggregator(cfg.worker.evalBucketMs, modelKind(m.kind).metric)]));
  for (const [name, agg] of aggs) transport.subscribe(subjects.metrics(name), (m) => agg.add(decode(m.data) as WorkerReport));
  const ports = new Map<string, number>();
  for (const m of [ctr, val]) {
    ports.set(m, await freePort());
    const env = { FLYWHEEL_MODEL: m };
    group.start(`ps-${m}`, 'ps', ['--config', file, '--shard', '0'], env);
    group.start(`worker-${m}`, 'worker', ['--config', file, '--index', '0'], env);
    group.start(`inference-${m}`, 'inference', ['--config', file, '--port', String(ports.get(m))], env);
  }
  group.start('ingest', 'ingest', ['--config', file]);
  const died = group.watch();
  died.catch(() => undefined);
  const ingestUrl = `http://127.0.0.1:${cfg.ingest.port}`;
  const up = (url: string) => fetch(url).then((r) => r.ok, () => false);
  await Promise.race([waitFor(() => up(`${ingestUrl}/healthz`), 120_000, 'ingest up', 100), died]);
  for (const p of ports.values()) await Promise.race([waitFor(() => up(`http://127.0.0.1:${p}/healthz`), 120_000, 'inference up', 100), died]);

  let sent = 0;
  for await (const batch of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: N_EVENTS })) {
    const res = await fetch(`${ingestUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    t.equal(res.status, 200, 'ingest accepts', { diagnostic: false });
    sent += batch.length;
  }
  const trained = (m: string) => aggs.get(m)!.total('eventsTrained');
  await Promise.race([waitFor(() => trained(ctr) >= sent && trained(val) >= sent, 240_000, 'both models trained every event', 100), died]);
  t.equal(trained(ctr), sent, `ctr: ${trained(ctr)} of ${sent} events trained once`);
  t.equal(trained(val), sent, `value: ${trained(val)} of ${sent} events trained once`);

  // Each kind built its own examples from the same events: ctr a positive and (up to) 2
  // sampled negatives per purchase (fewer while few items are known), value one per purchase.
  const ctrFig = aggs.get(ctr)!.overall();
  t.ok(ctrFig.examples > 2.9 * sent && ctrFig.examples <= 3 * sent, `ctr scored ${ctrFig.examples} examples (prequential AUC ${ctrFig.headline.toFixed(3)})`);
  t.ok(Number.isFinite(ctrFig.figures.logLoss), 'ctr reports its logloss');
  const v = aggs.get(val)!;
  const w = v.windows(4);
  const overall = v.overall();
  t.comment(`value RMSE by window ${w.map((x) => x.headline.toFixed(3)).join(' ')}; overall ${overall.headline.toFixed(3)}, baselines ${JSON.stringify(Object.fromEntries(Object.entries(overall.baselines).map(([k, f]) => [k, Number(f.rmse.toFixed(3))])))}`);
  t.equal(overall.examples, aggs.get(val)!.total('examples'), 'every value example was scored');
  const last = w[w.length - 1];
  t.ok(last.headline < last.baselines.mean.rmse, `value beats the running mean in the last window (RMSE ${last.headline.toFixed(3)} < ${last.baselines.mean.rmse.toFixed(3)})`);

  const valUrl = `http://127.0.0.1:${ports.get(val)}`;
  const ctrUrl = `http://127.0.0.1:${ports.get(ctr)}`;
  const info = await (await fetch(`${valUrl}/v1/model`)).json() as { kind: string; routes: string[]; versions: number[] };
  t.equal(info.kind, 'value');
  t.same(info.routes, ['POST /v1/value'], 'the value node serves its kind\'s route');
  t.ok(info.versions[0] > 0, `value weights at version ${info.versions[0]}`);
  const pred = await (await fetch(`${valUrl}/v1/value`, { method: 'POST', body: JSON.stringify({ events: [{ userId: '17850', itemId: '85123A' }, { userId: 'new', itemId: 'new' }] }) })).json() as { values: number[]; versions: number[] };
  t.equal(pred.values.length, 2);
  t.ok(pred.values.every((x) => Number.isFinite(x) && x >= 0), `expected units ${pred.values.map((x) => x.toFixed(2)).join(', ')}`);
  t.same(pred.versions, info.versions.length ? pred.versions : [], 'names the versions used');
  t.equal((await fetch(`${valUrl}/v1/predict`, { method: 'POST', body: '{}' })).status, 404, 'no CTR route on the value node');
  const scores = await (await fetch(`${ctrUrl}/v1/predict`, { method: 'POST', body: JSON.stringify({ events: [{ userId: '17850', itemId: '85123A' }] }) })).json() as { scores: number[] };
  t.ok(scores.scores[0] > 0 && scores.scores[0] < 1, 'the ctr node predicts a probability');
  const bad = await fetch(`${valUrl}/v1/value`, { method: 'POST', body: JSON.stringify({ events: [{ userId: '' }] }) });
  t.equal(bad.status, 400, 'a bad event is refused with a reason');
});

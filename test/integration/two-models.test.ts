// One ingest feeds two models of different kinds from one event stream: the CTR kind (sharded
// by user) and the small value kind (units per purchase, sharded by item, shared/models/value).
// Each has its own PS shard, worker and inference node over the real NATS and Redis, trains
// every event of a real Online Retail prefix, and serves its own routes naming its versions.
import t from 'tap';
import { ReportAggregator, waitFor } from '../../shared/index.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { modelKind } from '../../shared/models/registry.ts';
import { resetModel, startLocalCluster } from '../../cluster/local-cluster.ts';
import { integrationConfig, uniqueModel } from '../helpers/integration.ts';

const N_EVENTS = 20_000;

t.test('a ctr and a value model train from one ingest and serve side by side', async (t) => {
  const id = uniqueModel('two');
  const { cfg: assigned, dir } = await integrationConfig('two', {
    model: undefined, stream: id,
    models: [
      { name: `${id}_ctr`, kind: 'ctr', settings: { labels: { kind: 'implicit', negatives: 2 }, fields: ['user', 'item'], buckets: 1 << 14, hidden: [8], embDim: 4 } },
      { name: `${id}_val`, kind: 'value', settings: { buckets: 1 << 14 } },
    ],
    psShards: 1, workers: 1, eventShards: 2,
    ps: { publishIntervalMs: 50 },
    worker: { leaseTtlMs: 0, metricsIntervalMs: 200, evalBucketMs: 86_400_000 },
  });
  // startLocalCluster, as the demo does: each model's processes on their own ports, one ingest.
  const cluster = await startLocalCluster(assigned, { embedded: false, logDir: dir });
  t.teardown(async () => {
    await cluster.stop();
    await resetModel(assigned).catch(() => undefined);
  });
  const cfg = cluster.cfg;
  t.same(cluster.models.map((m) => m.kind), ['ctr', 'value'], 'the cluster runs every declared model');
  const [ctr, val] = cluster.models.map((m) => m.name);
  const aggs = new Map(cluster.models.map((m) => [m.name, new ReportAggregator(cfg.worker.evalBucketMs, modelKind(m.kind).metric)]));
  for (const m of cluster.models) m.onReport((r) => aggs.get(m.name)!.add(r));
  const died = cluster.failed;
  const ingestUrl = cluster.ingestUrl;
  const urls = new Map(cluster.models.map((m) => [m.name, m.inferenceUrl]));
  t.not(urls.get(ctr), urls.get(val), 'each model has its own inference node');

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

  const valUrl = urls.get(val)!;
  const ctrUrl = urls.get(ctr)!;
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

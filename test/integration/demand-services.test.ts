// The demand kind through the real services: ingest, two workers on four item-sharded event
// shards (two each, merged by event time), a PS shard and an inference node over NATS and
// Redis, fed a real Online Retail prefix with its returns. Each worker closes the days of its
// own items; the forecasts they
// score are exactly the ones an in-process source makes of the same events; the inference
// node, which keeps its own copy of the items' days, answers /v1/forecast for items and for
// the store, dated by the trading calendar, with the versions used.
import t from 'tap';
import { ReportAggregator, waitFor, type FlywheelEvent } from '../../shared/index.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { modelKind } from '../../shared/models/registry.ts';
import { demandConfigSchema } from '../../shared/models/demand/config.ts';
import { DemandExampleSource } from '../../shared/models/demand/examples.ts';
import { weekdayOf } from '../../shared/models/demand/calendar.ts';
import { resetModel, startLocalCluster } from '../../cluster/local-cluster.ts';
import { integrationConfig, uniqueModel } from '../helpers/integration.ts';

const N_EVENTS = 60_000;
const SETTINGS = { closures: [['2010-12-24', '2011-01-03'], ['2011-04-22', '2011-04-25']], buckets: 1 << 14 };

t.test('demand: day closes on each worker, forecasts scored before their days, /v1/forecast', async (t) => {
  const id = uniqueModel('dem');
  const { cfg: assigned, dir } = await integrationConfig('dem', {
    model: undefined, stream: id,
    models: [{ name: `${id}_demand`, kind: 'demand', settings: SETTINGS }],
    psShards: 1, workers: 2, eventShards: 4,
    ps: { publishIntervalMs: 50 },
    gate: { holdoutPermille: 0 },
    worker: { leaseTtlMs: 0, metricsIntervalMs: 200, evalBucketMs: 86_400_000 },
  });
  const cluster = await startLocalCluster(assigned, { embedded: false, logDir: dir });
  t.teardown(async () => {
    await cluster.stop();
    await resetModel(assigned).catch(() => undefined);
  });
  const [m] = cluster.models;
  t.equal(m.kind, 'demand');
  const agg = new ReportAggregator(cluster.cfg.worker.evalBucketMs, modelKind('demand').metric);
  m.onReport((r) => agg.add(r));

  const events: FlywheelEvent[] = [];
  for await (const batch of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: N_EVENTS, returns: true })) {
    const res = await fetch(`${cluster.ingestUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    t.equal(res.status, 200, 'ingest accepts', { diagnostic: false });
    events.push(...batch);
  }
  t.ok(events.some((e) => e.type === 'return'), 'the replay carries returns');
  await Promise.race([waitFor(() => agg.total('eventsTrained') >= events.length, 240_000, 'every event trained', 100), cluster.failed]);
  t.equal(agg.total('eventsTrained'), events.length, 'every event trained once');

  // The same events through one in-process source: the forecasts that have come due.
  const src = new DemandExampleSource(demandConfigSchema.parse(SETTINGS));
  for (let i = 0; i < events.length; i += 1000) src.push(events.slice(i, i + 1000));
  await waitFor(() => agg.overall().examples >= src.stats.trainingExamples, 60_000, 'the workers scored every due forecast', 100);
  const overall = agg.overall();
  t.equal(overall.examples, src.stats.trainingExamples,
    `the workers scored ${overall.examples} forecasts whose days have happened, as one source does (${src.stats.daysClosed} days closed)`);
  const f = overall.figures;
  t.ok(Number.isFinite(f.wrmsse1) && Number.isFinite(f.storeWape1), `WRMSSE h=1 ${f.wrmsse1.toFixed(3)}, store WAPE ${f.storeWape1.toFixed(3)}`);
  for (const name of ['zero', 'ma24', 'ma24-weekday']) t.ok(Number.isFinite(overall.baselines[name]?.wrmsse1), `baseline ${name} scored on the same forecasts`);
  t.equal(overall.baselines.zero.wape1, 1, 'the zero forecast has WAPE 1');

  // Inference: its own copy of the days, the served weights.
  const url = m.inferenceUrl;
  const post = (body: unknown) => fetch(`${url}/v1/forecast`, { method: 'POST', body: JSON.stringify(body) });
  const latest = src.latestForecasts()!;
  await waitFor(async () => (await post({ itemIds: 'store' })).status === 200, 30_000, 'inference has closed a day', 100);
  await waitFor(async () => ((await (await post({ itemIds: 'store' })).json()) as { origin: string }).origin === new Date(latest.day * 86_400_000).toISOString().slice(0, 10),
    30_000, 'inference has closed the same last day', 100);
  const res = await post({ itemIds: ['85123A', 'NO-SUCH-ITEM'], horizonDays: 3 });
  t.equal(res.status, 200);
  const body = await res.json() as { origin: string; days: string[]; forecasts: Record<string, number[]>; inactive: string[]; versions: number[] };
  t.equal(body.days.length, 3, 'three trading days');
  t.ok(body.days.every((d) => d > body.origin && weekdayOf(Date.parse(`${d}T00:00:00Z`) / 86_400_000) !== 6), `after the origin ${body.origin}, no Saturday: ${body.days.join(' ')}`);
  t.equal(body.forecasts['85123A'].length, 3);
  t.ok(body.forecasts['85123A'].every((x) => Number.isFinite(x) && x >= 0), `85123A: ${body.forecasts['85123A'].join(', ')} units`);
  t.same(body.inactive, ['NO-SUCH-ITEM'], 'an item not sold lately is named, not guessed');
  t.ok(body.versions[0] > 0, `version ${body.versions[0]}`);
  const store = await (await post({ itemIds: 'store' })).json() as { store: number[]; items: number };
  t.equal(store.store.length, 6, 'the store total over the default horizon');
  t.equal(store.items, latest.batch.size, `summed over every active item (${store.items} here, ${latest.batch.size} in-process)`);
  t.ok(store.store.every((x) => x > 0), `store: ${store.store.join(', ')} units`);
  t.equal((await post({ itemIds: ['85123A'], horizonDays: 7 })).status, 400, 'a horizon beyond the kind\'s is refused');
  t.equal((await post({ itemIds: [] })).status, 400, 'no items is refused');
  t.equal((await post({ itemIds: [3] })).status, 400, 'ids must be strings');
});

// The demand kind through the real services: ingest, two workers on four item-sharded event
// shards (two each, merged by event time), a PS shard and an inference node over NATS and
// Redis, fed a real Online Retail prefix with its returns, a worker killed and restarted
// half way. Each worker closes the days of its own items; the forecasts they
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
import { integrationConfig, postEvents, trainedEvents, uniqueModel } from '../helpers/integration.ts';

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
  for await (const batch of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: N_EVENTS, returns: true })) events.push(...batch);
  t.ok(events.some((e) => e.type === 'return'), 'the replay carries returns');
  // The same events through one in-process source: every example it makes, and the forecasts that come due.
  const src = new DemandExampleSource(demandConfigSchema.parse(SETTINGS));
  let made = 0;
  for (let i = 0; i < events.length; i += 1000) made += src.push(events.slice(i, i + 1000)).size;
  const send = (part: FlywheelEvent[]) => postEvents(t, cluster.ingestUrl, part);
  const trainedAll = (n: number) => trainedEvents(agg, cluster.failed, n);
  const half = events.length / 2;
  await send(events.slice(0, half));
  await trainedAll(half);
  // kill -9 a worker between the halves and start it again: its per-shard sources (the items'
  // days so far) are rebuilt from the log, so it makes the same examples as if it had not died.
  // Reports are cumulative: one from every worker sent after a moment counts all it trained before it.
  const reportedSince = (ms: number) => waitFor(() => agg.workers.size > 0 && [...agg.workers.values()].every((w) => w.atMs > ms), 30_000, 'a report from every worker', 50);
  await reportedSince(Date.now());
  const before = agg.total('examples');
  await reportedSince(Date.now());
  t.equal(agg.total('examples'), before, 'the first half is trained and reported');
  await cluster.processes!.kill('worker-1');
  cluster.processes!.restart('worker-1');
  await send(events.slice(half));
  await trainedAll(events.length);
  t.equal(agg.total('eventsTrained'), events.length, 'every event trained once, across the restart');
  await waitFor(() => agg.total('examples') >= made, 60_000, 'the workers trained every example one source makes', 100);
  t.equal(agg.total('examples'), made, `the workers trained ${agg.total('examples')} examples, as one in-order source makes of the same events (${made}), a restart included`);
  const overall = agg.overall();
  t.ok(overall.examples > 0.9 * src.stats.trainingExamples && overall.examples <= src.stats.trainingExamples,
    `the workers scored ${overall.examples} of the ${src.stats.trainingExamples} forecasts that came due (${src.stats.daysClosed} days closed): those made by the killed process before it died are trained, not scored`);
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
  // kill -9 the inference node and start it again: it rebuilds its copy of the days from the log.
  await cluster.processes!.kill('inference');
  cluster.processes!.restart('inference');
  let again = { origin: '', items: 0 };
  await waitFor(async () => {
    try {
      const r = await post({ itemIds: 'store' });
      if (r.status === 200) again = await r.json() as typeof again;
      return again.origin === body.origin;
    } catch { return false; }
  }, 60_000, 'the restarted inference node has read the log up to the last closed day', 200);
  t.equal(again.origin, body.origin, `after a restart it forecasts from the same last closed day (${again.origin})`);
  t.equal(again.items, latest.batch.size, 'over the same active items: its copy of the days was rebuilt from the log');
  t.equal((await post({ itemIds: [] })).status, 400, 'no items is refused');
  t.equal((await post({ itemIds: [3] })).status, 400, 'ids must be strings');
});

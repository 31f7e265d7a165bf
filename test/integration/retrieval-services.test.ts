// The retrieval kind through the real services: ingest, two workers on four user-sharded event
// shards, two PS shards and an inference node over NATS and Redis, fed a real Online Retail
// prefix. The workers score every basket against the catalogue the weights hold before they
// train on it; the inference node answers /v1/recommend over the whole catalogue with the
// versions used, follows the deltas so that an item first bought now is recommendable within
// a bound (measured), falls back to recency-decayed popularity for a user it has never seen,
// and refuses bad requests with a clear 400.
import t from 'tap';
import { ReportAggregator, waitFor, type FlywheelEvent } from '../../shared/index.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { modelKind } from '../../shared/models/registry.ts';
import { hashRow } from '../../shared/features.ts';
import { retrievalConfigSchema } from '../../shared/models/retrieval/config.ts';
import { resetModel, startLocalCluster } from '../../cluster/local-cluster.ts';
import { integrationConfig, postEvents, trainedEvents, uniqueModel } from '../helpers/integration.ts';

const N_EVENTS = 30_000;

t.test('retrieval: baskets scored over the catalogue, /v1/recommend follows the deltas', async (t) => {
  const id = uniqueModel('rt');
  const { cfg: assigned, dir } = await integrationConfig('rt', {
    model: undefined, stream: id,
    models: [{ name: `${id}_rt`, kind: 'retrieval', settings: {} }],
    psShards: 2, workers: 2, eventShards: 4,
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
  t.equal(m.kind, 'retrieval');
  const agg = new ReportAggregator(cluster.cfg.worker.evalBucketMs, modelKind('retrieval').metric);
  m.onReport((r) => agg.add(r));

  const events: FlywheelEvent[] = [];
  for await (const batch of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: N_EVENTS })) events.push(...batch);
  await postEvents(t, cluster.ingestUrl, events);
  await trainedEvents(agg, cluster.failed, events.length);
  t.equal(agg.total('eventsTrained'), events.length, 'every event trained');
  const overall = agg.overall();
  const f = overall.figures;
  t.ok(overall.examples > 1000, `${overall.examples} items of returning customers' baskets scored before training`);
  t.ok(f.hr10 > 0 && f.hr10 < 1, `HR@10 ${f.hr10.toFixed(3)}, NDCG@10 ${f.ndcg10.toFixed(3)}, recall@50 ${f.recall50.toFixed(3)}`);
  for (const name of ['popularity', 'own-then-popularity']) t.ok(Number.isFinite(overall.baselines[name]?.hr10), `baseline ${name} scored on the same baskets: ${overall.baselines[name]?.hr10.toFixed(3)}`);

  const url = m.inferenceUrl;
  const post = async (body: unknown) => {
    const res = await fetch(`${url}/v1/recommend`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() as Record<string, any> };
  };
  const known = events[events.length - 1].userId;
  await waitFor(async () => (await post({ userId: known, k: 10 })).body.source === 'model', 30_000, 'inference follows the log', 100);
  const r = await post({ userId: known, k: 10 });
  t.equal(r.status, 200);
  t.equal(r.body.items.length, 10, 'ten items out of the whole catalogue');
  t.ok(r.body.items.every((x: any, i: number, a: any[]) => i === 0 || a[i - 1].score >= x.score), 'best first');
  t.ok(Array.isArray(r.body.versions) && r.body.versions.length === 2, `with the versions used (${r.body.versions})`);
  const cat = await (await fetch(`${url}/v1/catalogue`)).json() as Record<string, number>;
  t.ok(cat.items > 1000, `the index holds ${cat.items} items`);
  const seen = new Set(events.filter((e) => e.userId === known).map((e) => e.itemId));
  const ex = await post({ userId: known, k: 20, excludeSeen: true });
  t.ok(ex.body.items.every((x: any) => !seen.has(x.itemId)), 'excludeSeen leaves out what the user bought');
  const cold = await post({ userId: 'nobody-at-all', k: 5 });
  t.equal(cold.body.source, 'popularity', 'a user without history gets popularity, and is told so');
  t.equal(cold.body.items.length, 5);

  // Freshness: a new item, bought now, becomes recommendable once its first delta lands.
  const lag: number[] = [];
  // Ids whose hash row no item of the replay has: a colliding one would be in the catalogue already.
  const buckets = retrievalConfigSchema.parse({}).itemBuckets;
  const taken = new Set(events.map((e) => hashRow(e.itemId, buckets)));
  const fresh = Array.from({ length: 50 }, (_, j) => `NEW-${id}-${j}`).filter((x) => !taken.has(hashRow(x, buckets))).slice(0, 5);
  for (let k = 0; k < 5; k++) {
    const item = fresh[k];
    const t0 = Date.now();
    await postEvents(t, cluster.ingestUrl, [{ userId: known, itemId: item, type: 'buy', ts: events[events.length - 1].ts + 1000 * (k + 1) },
      // a later event on every shard closes the basket
      ...Array.from({ length: 8 }, (_, j) => ({ userId: `closer${j}`, itemId: '85123A', type: 'buy' as const, ts: events[events.length - 1].ts + 1000 * (k + 1) + 1 }))]);
    await waitFor(async () => (await post({ userId: known, k: 1, filter: { itemIds: [item] } })).body.items.length === 1, 30_000, `${item} recommendable`, 20);
    lag.push(Date.now() - t0);
  }
  t.ok(lag.every((x) => x < 30_000), `a new item became recommendable after ${lag.join(', ')} ms (max ${Math.max(...lag)})`);

  for (const [body, why] of [[{ k: 5 }, 'userId is required'], [{ userId: 'u', k: 0 }, 'k must be'], [{ userId: 'u', k: '5' }, 'k must be'],
    [{ userId: 'u', excludeSeen: 'yes' }, 'excludeSeen'], [{ userId: 'u', filter: { colour: 'red' } }, 'filter.colour']] as const) {
    const bad = await post(body);
    t.equal(bad.status, 400, `400 for ${JSON.stringify(body)}`);
    t.match(String(bad.body.error), why);
  }
});

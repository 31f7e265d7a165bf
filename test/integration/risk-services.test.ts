// The risk kind through the real services: ingest, two workers on four event shards (sharded
// by the claim's reference, so a claim and its outcome meet on one shard), a PS shard and an
// inference node over NATS and Redis, fed the real claims file with each fraud finding 28 days
// after its claim. A worker is killed (kill -9) twice: once half way, with claims waiting in
// its label joiner for their outcomes, and once while messages are in flight. Its joiner is
// rebuilt from the log each time: no pending claim is lost (every claim is trained with its
// outcome) and none is trained twice (exactly as many examples as one in-order source makes,
// when the kill finds nothing in flight). Then /v1/score with its reasons.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ReportAggregator, eventShardOf, waitFor, type FlywheelEvent } from '../../shared/index.ts';
import { SHARED_DATA_DIR } from '../../shared/datasets/movie-ratings.ts';
import { loadSchema, schemaEvents } from '../../shared/datasets/schema.ts';
import { modelKind } from '../../shared/models/registry.ts';
import { riskConfigSchema } from '../../shared/models/risk/config.ts';
import { RiskExampleSource } from '../../shared/models/risk/examples.ts';
import { resetModel, startLocalCluster } from '../../cluster/local-cluster.ts';
import { integrationConfig, postEvents, trainedEvents, uniqueModel } from '../helpers/integration.ts';

const CLAIMS = join(SHARED_DATA_DIR, 'risk-claims', 'vehicle_claims_fraud_oracle.csv');
const SCHEMA = join(import.meta.dirname, '../../datasets/risk-claims.json');
const SHARDS = 4;

t.test('risk: late labels through the services, a worker killed with claims pending, /v1/score', { skip: existsSync(CLAIMS) ? false : `no claims data at ${CLAIMS}` }, async (t) => {
  const schema = loadSchema(SCHEMA);
  const settings = (schema.model.config as { settings: Record<string, unknown> }).settings;
  const id = uniqueModel('risk');
  const { cfg: assigned, dir } = await integrationConfig('risk', {
    model: undefined, stream: id,
    models: [{ name: `${id}_risk`, kind: 'risk', settings }],
    psShards: 1, workers: 2, eventShards: SHARDS,
    ps: { publishIntervalMs: 50 },
    gate: { holdoutPermille: 0 },
    worker: { leaseTtlMs: 0, metricsIntervalMs: 200, evalBucketMs: 30 * 86_400_000, batchSize: 128, readOwnWrites: true, ackWaitMs: 5000 },
  });
  const cluster = await startLocalCluster(assigned, { embedded: false, logDir: dir });
  t.teardown(async () => {
    await cluster.stop();
    await resetModel(assigned).catch(() => undefined);
  });
  const [m] = cluster.models;
  t.equal(m.kind, 'risk');
  const agg = new ReportAggregator(cluster.cfg.worker.evalBucketMs, modelKind('risk').metric);
  m.onReport((r) => agg.add(r));

  const events: FlywheelEvent[] = [];
  for await (const b of schemaEvents(schema)) events.push(...b);
  t.equal(events.length, 2 * 15_420, 'every claim and its outcome');
  const send = (part: FlywheelEvent[]) => postEvents(t, cluster.ingestUrl, part);
  const trainedAll = (n: number) => trainedEvents(agg, cluster.failed, n);
  // Reports are cumulative per worker process: one from each of the two live workers sent after
  // a moment counts all they trained before it (a killed process's last report stays as it was).
  const reportedSince = (ms: number) => waitFor(() => [...agg.workers.values()].filter((w) => w.atMs > ms).length >= 2, 30_000, 'a report from both live workers', 50);

  // What worker 1 (event shards 1 and 3) holds in its joiners half way: claims scored, outcomes not yet in.
  const half = events.length / 2;
  const cfg = riskConfigSchema.parse(settings);
  const sources = Array.from({ length: SHARDS }, () => new RiskExampleSource(cfg));
  for (const e of events.slice(0, half)) sources[eventShardOf(e.itemId, SHARDS)].push([e]);
  const pendingOnWorker1 = sources[1].joiner.pending + sources[3].joiner.pending;
  t.ok(pendingOnWorker1 > 100, `half way, ${pendingOnWorker1} claims of worker 1's shards wait for their outcome`);

  await send(events.slice(0, half));
  await trainedAll(half);
  await reportedSince(Date.now());
  const before = agg.total('examples');
  await reportedSince(Date.now());
  t.equal(agg.total('examples'), before, 'the first half is trained and reported');
  await cluster.processes!.kill('worker-1');
  cluster.processes!.restart('worker-1');
  const threeQuarters = Math.round(events.length * 0.75);
  await send(events.slice(half, threeQuarters));
  await trainedAll(threeQuarters);
  await reportedSince(Date.now());
  // Exactly what one in-order source per shard makes of the same events: nothing the killed
  // process held pending was lost, nothing was emitted twice.
  const exact = Array.from({ length: SHARDS }, () => new RiskExampleSource(cfg));
  let madeByThreeQuarters = 0;
  let maxPendingOnWorker1 = 0;
  events.forEach((e, i) => {
    const n = exact[eventShardOf(e.itemId, SHARDS)].push([e]).size;
    if (i < threeQuarters) madeByThreeQuarters += n;
    maxPendingOnWorker1 = Math.max(maxPendingOnWorker1, exact[1].joiner.pending + exact[3].joiner.pending);
  });
  t.equal(agg.total('examples'), madeByThreeQuarters, `${madeByThreeQuarters} examples by three quarters, as in-process sources make them: the killed joiner was rebuilt whole`);
  // The second kill finds messages in flight: sending goes on meanwhile.
  const sending = send(events.slice(threeQuarters));
  await waitFor(() => agg.total('eventsTrained') >= threeQuarters + 2000, 120_000, 'more trained after three quarters', 20);
  await cluster.processes!.kill('worker-1');
  cluster.processes!.restart('worker-1');
  await sending;
  await trainedAll(events.length).catch((e: unknown) => {
    throw new Error(`${String(e)}; reports: ${[...agg.workers.values()].map((w) => `${w.worker} trained ${w.eventsTrained} retried ${w.eventsRetried}`).join(', ')}`);
  });
  await reportedSince(Date.now());
  t.comment([...agg.workers.values()].map((w) => `${w.worker} trained ${w.eventsTrained} retried ${w.eventsRetried}`).join(', '));
  t.equal(agg.total('eventsTrained'), events.length, 'every event trained, across both kills');
  const made = 2 * 15_420;
  const examples = agg.total('examples');
  // In-flight messages of the killed process that it trained but had not acked are trained
  // again by its successor (at least once); nothing is lost, nothing pending is emitted twice.
  t.ok(examples >= made && examples <= made + 2 * 256 * 128, `${examples} examples trained: each claim scored once and trained once with its outcome (${made}), plus what the in-flight kill retrained`);
  const overall = agg.overall();
  // Counted: each claim once, less those scored by a killed process and labelled after it died
  // (trained, not counted), plus at most the in-flight examples both processes trained (and scored).
  const retrained = examples - made;
  t.ok(overall.examples <= 15_420 + retrained && overall.examples >= 15_420 - pendingOnWorker1 - maxPendingOnWorker1,
    `${overall.examples} claims counted with the score they got before their outcome (${pendingOnWorker1} pending at the first kill, at most ${maxPendingOnWorker1} at the second, ${retrained} examples retrained after it)`);
  const f = overall.figures;
  const lr = overall.baselines['online LR'];
  t.ok(f.auc > 0.7 && f.auc > overall.baselines['running rate'].auc + 0.15, `AUC ${f.auc.toFixed(4)} with outcomes 28 days late (running rate ${overall.baselines['running rate'].auc.toFixed(4)}, online LR ${lr.auc.toFixed(4)})`);

  // The joiner's counts are exported by each worker (worker 0 was never killed).
  const text = await (await fetch(`http://127.0.0.1:${cluster.cfg.workerMetricsBasePort}/metrics`)).text();
  const count = (name: string) => Number(new RegExp(`fw_worker_source_count\\{[^}]*count="${name}"[^}]*\\} (\\S+)`).exec(text)?.[1] ?? NaN);
  t.equal(count('pending'), 0, 'worker 0: nothing pending at the end (every outcome came)');
  t.ok(count('joined') > 5000 && count('dropped') === 0 && count('badLabels') === 0, `worker 0 joined ${count('joined')} outcomes, dropped none`);

  // /v1/score: a score, the version, and why.
  const url = m.inferenceUrl;
  const claim = events.find((e) => e.type === 'transaction')!;
  const post = (body: unknown) => fetch(`${url}/v1/score`, { method: 'POST', body: JSON.stringify(body) });
  await waitFor(async () => (await post({ events: [{ context: claim.context }] })).status === 200, 30_000, 'inference scores', 100);
  const res = await post({ events: [{ context: claim.context }, { context: { ...claim.context, Fault: 'Third Party' } }], top: 3 });
  t.equal(res.status, 200);
  const body = await res.json() as { scores: number[]; explanations: { feature: string; value: string; contribution: number }[][]; versions: number[] };
  t.equal(body.scores.length, 2);
  t.ok(body.scores.every((p) => p > 0 && p < 1), `scores ${body.scores.map((p) => p.toFixed(4)).join(', ')}`);
  t.equal(body.explanations[0].length, 3, 'the three features that moved the score most');
  const c = body.explanations[0].map((x) => Math.abs(x.contribution));
  t.ok(c.every((x, i) => i === 0 || x <= c[i - 1]), `largest first: ${body.explanations[0].map((x) => `${x.feature}=${x.value} ${x.contribution}`).join('; ')}`);
  t.ok(body.versions[0] > 0, `version ${body.versions[0]}`);
  t.equal((await post({ events: [] })).status, 400, 'no events is refused');
  t.equal((await post({ events: [{ context: { Age: 3 } }] })).status, 400, 'a context value that is not a string is refused');
  t.equal((await post({ events: [{ context: claim.context }], top: 99 })).status, 400, 'top beyond 20 is refused');
});

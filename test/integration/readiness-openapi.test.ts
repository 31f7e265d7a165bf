// Over the real NATS and Redis, every service's /readyz and /openapi.json: inference is alive
// but not ready until it has weights from every PS shard; each service's document lists
// every route it answers, and each route of the document is answered.
import t from 'tap';
import { connectInfra, waitFor } from '../../shared/index.ts';
import { startInference } from '../../services/inference/service.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { startPs } from '../../services/ps/service.ts';
import { startWorker } from '../../services/worker/service.ts';
import { startValidator } from '../../services/validator/service.ts';
import { checkOpenApi } from '../helpers/openapi-check.ts';
import { cleanupModel, integrationConfig } from '../helpers/integration.ts';

const BUILTIN = ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json'];

async function readyz(url: string): Promise<{ status: number; body: { ready: boolean; reason?: string } }> {
  const r = await fetch(`${url}/readyz`);
  return { status: r.status, body: await r.json() as { ready: boolean; reason?: string } };
}

t.test('readiness and the OpenAPI document of every service', async (t) => {
  const { cfg } = await integrationConfig('ready', {
    psShards: 2, workers: 1, eventShards: 1,
    settings: { fields: ['user', 'item'], buckets: 1024, hidden: [4], embDim: 2 }, ps: { publishIntervalMs: 50 },
  });
  const infra = await connectInfra(cfg, 'test-ready');
  const stops: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await infra.close();
    await cleanupModel(cfg);
  });

  // Inference first, before any PS shard has written anything: alive, not ready, and why.
  const inf = await startInference(cfg, infra, 0);
  stops.push(() => inf.stop());
  const infUrl = `http://127.0.0.1:${inf.port}`;
  t.equal((await fetch(`${infUrl}/healthz`)).status, 200, 'inference is alive at once');
  const before = await readyz(infUrl);
  t.equal(before.status, 503, 'but not ready without weights');
  t.same(before.body, { ready: false, reason: 'no weights yet from PS shards 0, 1 of 2' }, 'and says which shards it waits for');

  const ps0 = await startPs(cfg, 0, infra);
  stops.push(() => ps0.stop());
  await waitFor(async () => (await readyz(infUrl)).body.reason === 'no weights yet from PS shard 1 of 2', 10_000, 'inference to have shard 0\'s weights', 20);
  t.pass('one shard up: still not ready, waiting for the other');
  const ps1 = await startPs(cfg, 1, infra);
  stops.push(() => ps1.stop());
  await waitFor(async () => (await readyz(infUrl)).status === 200, 10_000, 'inference ready', 20);
  t.same((await readyz(infUrl)).body, { ready: true }, 'ready once every shard\'s weights are in');

  const ingest = await startIngest(cfg, infra, 0);
  stops.push(() => ingest.stop());
  const worker = await startWorker(cfg, 0, infra);
  stops.push(() => worker.stop());
  const validator = await startValidator(cfg, infra, 0);
  stops.push(() => validator.stop());

  const model = await (await fetch(`${infUrl}/v1/model`)).json() as { routes: string[] };
  t.ok(model.routes.length >= 1, `inference serves the kind's routes ${model.routes.join(', ')}`);
  const services: [string, string, string[]][] = [
    ['inference', infUrl, [...model.routes, 'GET /v1/model']],
    ['ingest', `http://127.0.0.1:${ingest.port}`, ['POST /v1/events', 'DELETE /v1/users/{id}']],
    ['validator', `http://127.0.0.1:${validator.port}`, ['GET /v1/gate']],
    ['ps 0', `http://127.0.0.1:${cfg.psMetricsBasePort}`, []],
    ['ps 1', `http://127.0.0.1:${cfg.psMetricsBasePort + 1}`, []],
    ['worker 0', `http://127.0.0.1:${cfg.workerMetricsBasePort}`, []],
  ];
  for (const [name, url, own] of services) {
    // The validator's replica loaded the shards' snapshots when it started: ready at once too.
    t.same(await readyz(url), { status: 200, body: { ready: true } }, `${name} is ready`);
    const { problems, operations } = await checkOpenApi(url, [...own, ...BUILTIN]);
    t.same(problems, [], `${name}: its /openapi.json (${operations.length} operations) matches what it answers`);
  }
});

// A real ingest bound outside loopback: POST /v1/events without a valid API token is a 401,
// counted as fw_ingest_requests_rejected_total{reason="unauthorized"}, publishes nothing and
// records no Idempotency-Key (its retry with the token publishes); with the token it is
// accepted. The same ingest with ingest.metricsPort answers /metrics on that port only, and so
// do the validator and the dashboard with validator.metricsPort and dashboard.metricsPort.
import t from 'tap';
import { ApiTokens, EmbeddedInfra, loadConfig } from '../../shared/index.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { startValidator } from '../../services/validator/service.ts';
import { startDashboard } from '../../services/dashboard/service.ts';
import { rejectedByReason, send } from '../corpus/http-client.ts';

const TOKEN = 'ingest-token-0123456789abcdef';
const events = Buffer.from(JSON.stringify([{ userId: 'u1', itemId: 'i1', type: 'view', ts: Date.now() }]));

const accepted = async (port: number): Promise<number> => {
  const r = await send(port, { method: 'GET', path: '/metrics' }, Buffer.alloc(0));
  return Number(/^fw_ingest_events_accepted_total(?:\{[^}]*\})? (\S+)$/m.exec(r.body)?.[1] ?? NaN);
};

t.test('ingest on 0.0.0.0: a token or a 401, counted, with nothing published', async (t) => {
  const cfg = loadConfig({ overrides: { model: 'secauth', eventShards: 2 }, env: {} });
  const infra = new EmbeddedInfra(cfg);
  const ingest = await startIngest(cfg, infra.forService(), 0, { host: '0.0.0.0', tokens: new ApiTokens([TOKEN]) });
  t.teardown(() => ingest.stop());
  const post = (headers: Record<string, string>) => send(ingest.port, { contentType: 'application/json', headers }, events);

  const none = await post({ 'idempotency-key': 'k-1' });
  t.equal(none.status, 401, 'no token: 401');
  t.same(JSON.parse(none.body).code, 'unauthorized');
  t.equal((await post({ authorization: `Bearer ${TOKEN.slice(0, -1)}g` })).status, 401, 'one character off: 401');
  t.equal((await post({ 'x-api-key': `${TOKEN}x` })).status, 401, 'one longer: 401');
  t.equal((await post({ authorization: TOKEN })).status, 401, 'no Bearer scheme: 401');
  t.equal((await rejectedByReason(ingest.port)).get('unauthorized'), 4, 'each counted as unauthorized');
  t.equal(await accepted(ingest.port), 0, 'nothing published');

  const ok = await post({ authorization: `Bearer ${TOKEN}`, 'idempotency-key': 'k-1' });
  t.equal(ok.status, 200, 'with the token: accepted');
  t.notOk(/idempotent-replayed/i.test(ok.body), 'the refused request recorded no Idempotency-Key: its retry published');
  t.equal(await accepted(ingest.port), 1);
  t.equal((await send(ingest.port, { method: 'GET', path: '/healthz' }, Buffer.alloc(0))).status, 200, '/healthz needs no token');
});

t.test('ingest on loopback (the local cluster): no token needed, none configured', async (t) => {
  const cfg = loadConfig({ overrides: { model: 'secauthlo', eventShards: 2 }, env: {} });
  const infra = new EmbeddedInfra(cfg);
  const ingest = await startIngest(cfg, infra.forService(), 0, { host: '127.0.0.1', tokens: new ApiTokens([]) });
  t.teardown(() => ingest.stop());
  t.equal((await send(ingest.port, { contentType: 'application/json' }, events)).status, 200);
});

t.test('ingest on 0.0.0.0 without tokens does not start', async (t) => {
  const cfg = loadConfig({ overrides: { model: 'secauthno', eventShards: 2 }, env: {} });
  const infra = new EmbeddedInfra(cfg);
  await t.rejects(startIngest(cfg, infra.forService(), 0, { host: '0.0.0.0', tokens: new ApiTokens([]) }), { message: /FLYWHEEL_API_TOKENS/ });
});

t.test('ingest.metricsPort: /metrics on its own loopback listener, not on the API port', async (t) => {
  const cfg = loadConfig({ overrides: { model: 'secauthmx', eventShards: 2 }, env: {} });
  const infra = new EmbeddedInfra(cfg);
  const split = await startIngest(await freeMetricsConfig(cfg), infra.forService(), 0, { host: '0.0.0.0', tokens: new ApiTokens([TOKEN]) });
  t.teardown(() => split.stop());
  t.ok(split.metricsPort, `metrics on ${split.metricsPort}`);
  t.equal((await send(split.port, { method: 'GET', path: '/metrics' }, Buffer.alloc(0))).status, 404, 'the API port serves no /metrics');
  await send(split.port, { contentType: 'application/json' }, events);
  t.equal((await rejectedByReason(split.metricsPort as number)).get('unauthorized'), 1, 'the refusal is counted on the metrics listener');
});

t.test('validator.metricsPort and dashboard.metricsPort: /metrics on their own listener only', async (t) => {
  const base = loadConfig({ overrides: { model: 'secauthvd', eventShards: 1, settings: { fields: ['user', 'item'], buckets: 64, hidden: [2], embDim: 2 } }, env: {} });
  const infra = new EmbeddedInfra(base);
  const cfg = { ...base, validator: { metricsPort: await freePort() }, dashboard: { port: 0, metricsPort: await freePort() } };
  const get = (port: number, path: string) => send(port, { method: 'GET', path }, Buffer.alloc(0));
  const validator = await startValidator(cfg, infra.forService(), await freePort());
  t.teardown(() => validator.stop());
  const dashboard = await startDashboard(cfg, infra.forService(), { tickMs: 60_000 });
  t.teardown(() => dashboard.stop());
  for (const [name, s, series] of [['validator', validator, 'fw_gate_decisions_total'], ['dashboard', dashboard, 'fw_dashboard_']] as const) {
    t.equal(s.metricsPort, name === 'validator' ? cfg.validator.metricsPort : cfg.dashboard.metricsPort, `${name}: metrics on ${s.metricsPort}`);
    t.equal((await get(s.port as number, '/metrics')).status, 404, `${name}: the main port serves no /metrics`);
    t.equal((await get(s.port as number, '/healthz')).status, 200, `${name}: the probes stay on the main port`);
    const m = await get(s.metricsPort as number, '/metrics');
    t.equal(m.status, 200, `${name}: the metrics listener serves /metrics`);
    t.ok(m.body.includes(series), `${name}: with its own series (${series}...)`);
    t.equal((await get(s.metricsPort as number, '/v1/gate')).status, 404, `${name}: and nothing else`);
  }
  await t.rejects(startValidator(cfg, infra.forService(), cfg.validator.metricsPort), { message: /"validator\.metricsPort": must differ/ }, 'the validator refuses --port equal to its metricsPort');
});

/** A port free now. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** The config with ingest.metricsPort set to a port free now. */
async function freeMetricsConfig(cfg: ReturnType<typeof loadConfig>) {
  return { ...cfg, ingest: { ...cfg.ingest, metricsPort: await freePort() } };
}

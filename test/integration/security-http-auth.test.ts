// A real ingest bound outside loopback: POST /v1/events without a valid API token is a 401,
// counted as fw_ingest_requests_rejected_total{reason="unauthorized"}, publishes nothing and
// records no Idempotency-Key (its retry with the token publishes); with the token it is
// accepted. The same ingest with ingest.metricsPort answers /metrics on that port only.
import t from 'tap';
import { ApiTokens, EmbeddedInfra, loadConfig } from '../../shared/index.ts';
import { startIngest } from '../../services/ingest/service.ts';
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

/** The config with ingest.metricsPort set to a port free now. */
async function freeMetricsConfig(cfg: ReturnType<typeof loadConfig>) {
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as import('node:net').AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  return { ...cfg, ingest: { ...cfg.ingest, metricsPort: port } };
}

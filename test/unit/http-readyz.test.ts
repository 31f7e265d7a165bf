// /readyz (may this service get traffic now?) is separate from /healthz (is the process
// alive?): a service can be alive and not ready, and it says why.
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { closeServer, startHttpServer, type HttpServerOptions } from '../../shared/index.ts';

async function serve(t: { teardown: (f: () => Promise<void>) => void }, o: Omit<HttpServerOptions, 'port'>) {
  const server = await startHttpServer({ port: 0, host: '127.0.0.1', ...o });
  t.teardown(() => closeServer(server));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return async (path: string) => {
    const r = await fetch(`${url}${path}`);
    return { status: r.status, body: await r.json() as Record<string, unknown> };
  };
}

t.test('default: ready when healthy', async (t) => {
  let healthy = true;
  const get = await serve(t, { healthy: () => healthy });
  t.same(await get('/readyz'), { status: 200, body: { ready: true } });
  healthy = false;
  const r = await get('/readyz');
  t.equal(r.status, 503, 'an unhealthy service is not ready');
  t.equal(r.body.ready, false);
  t.match(r.body.reason, /healthy/, 'and says so');
  t.same(await serve(t, {}).then((g) => g('/readyz')), { status: 200, body: { ready: true } }, 'no health check: ready');
});

t.test('the service\'s own rule: a reason is a 503 with that reason; liveness is untouched', async (t) => {
  let reason: true | string = 'no weights yet from PS shard 1 of 2';
  const get = await serve(t, { healthy: () => true, ready: () => reason });
  t.same(await get('/readyz'), { status: 503, body: { ready: false, reason: 'no weights yet from PS shard 1 of 2' } });
  t.same(await get('/healthz'), { status: 200, body: { ok: true } }, '/healthz stays ok while not ready');
  reason = true;
  t.same(await get('/readyz'), { status: 200, body: { ready: true } }, 'ready once the rule says so');
});

t.test('an unhealthy service is not ready whatever its rule says', async (t) => {
  const get = await serve(t, { healthy: () => false, ready: () => true });
  const r = await get('/readyz');
  t.equal(r.status, 503);
  t.equal(r.body.ready, false);
});

t.test('a route key the document cannot describe fails the start with the key named', async (t) => {
  await t.rejects(startHttpServer({ port: 0, host: '127.0.0.1', routes: { 'FETCH v1/x': () => ({}) } }), /route "FETCH v1\/x" is not/);
});

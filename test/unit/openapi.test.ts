// Every model kind's serving routes are described beside them, and a server's /openapi.json
// lists exactly what it answers: each kind's routes on a real HTTP server, probed one by one.
import t from 'tap';
import type { AddressInfo } from 'node:net';
import { MemoryShardStore, Replica, buildOpenApi, closeServer, loadConfig, startHttpServer, createRegistry } from '../../shared/index.ts';
import { KIND_NAMES } from '../../shared/models/kind-specs.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { checkOpenApi } from '../helpers/openapi-check.ts';

t.before(() => initTensorBackend(() => undefined));

for (const kind of KIND_NAMES) {
  t.test(`kind ${kind}: every serving route is described, and every described route answers`, async (t) => {
    const m = resolveModel(loadConfig({ overrides: { model: `oa_${kind}`, kind } }));
    const replica = new Replica(m.spec, 1, new MemoryShardStore());
    const plugin = m.kind.serving?.({
      model: m.name, settings: m.settings, spec: m.spec, predictor: m.kind.create(m.spec, m.settings), maxBatch: 64,
      weights: () => replica, versionInfo: () => ({ versions: replica.versions() }),
    });
    if (!plugin) { t.pass(`${kind} serves nothing`); return; }
    t.same(Object.keys(plugin.docs ?? {}).sort(), Object.keys(plugin.routes).sort(), 'a description for each route, and no description of a route it lacks');
    const server = await startHttpServer({ port: 0, host: '127.0.0.1', routes: plugin.routes, docs: plugin.docs, registry: createRegistry('test') });
    t.teardown(() => { plugin.stop?.(); return closeServer(server); });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { problems, operations } = await checkOpenApi(url, [...Object.keys(plugin.routes), 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json']);
    t.same(problems, [], `the document of ${operations.length} operations agrees with the server`);
  });
}

t.test('a route without a description still appears, flagged', async (t) => {
  const doc = buildOpenApi({ title: 'x', version: '1' }, ['GET /v1/new'], {}) as { paths: Record<string, Record<string, Record<string, unknown>>> };
  t.equal(doc.paths['/v1/new'].get['x-undocumented'], true);
  t.ok(doc.paths['/healthz'].get && doc.paths['/readyz'].get && doc.paths['/openapi.json'].get, 'the built-in routes are described');
  t.notOk(doc.paths['/metrics'], 'no /metrics without a registry');
  t.throws(() => buildOpenApi({ title: 'x', version: '1' }, ['POST v1/x']), /route "POST v1\/x" is not "<METHOD> \/<path>"/);
});

t.test('the checker finds a document that lies', async (t) => {
  // A route answered but missing from the document, and a described route nobody answers.
  const server = await startHttpServer({
    port: 0, host: '127.0.0.1', routes: { 'GET /v1/a': () => ({}) },
    docs: { 'GET /v1/a': { summary: 'a', response: { type: 'object' } } },
  });
  t.teardown(() => closeServer(server));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { problems } = await checkOpenApi(url, ['GET /v1/a', 'GET /v1/b']);
  t.same(problems, ['GET /v1/b is answered but not in the document']);
});

// API tokens on the HTTP routes (shared/http-auth.ts, shared/http.ts): each rule, and a
// request that tries to get past it. A server decides by the address it binds, so the
// "outside loopback" cases bind 0.0.0.0 and are reached through 127.0.0.1.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  ApiTokens, ConfigError, closeServer, createRegistry, isLoopbackHost, loadApiTokens, loadConfig, metricsServerOf, presentedTokens, readEnv,
  startHttpServer, type HttpError, type HttpServerOptions,
} from '../../shared/index.ts';

const TOKEN = 'k7Q2v9XbT4mN8pLr3sWd';
const OTHER = 'z1Y2x3W4v5U6t7S8r9Q0';
const tokens = new ApiTokens([TOKEN, OTHER]);

interface Reply { status: number; headers: Headers; body: Record<string, unknown> | string }

async function serve(t: { teardown: (f: () => Promise<void>) => void }, o: Omit<HttpServerOptions, 'port'>) {
  const server = await startHttpServer({ port: 0, ...o });
  t.teardown(() => closeServer(server));
  return { server, call: caller((server.address() as AddressInfo).port) };
}

function caller(port: number) {
  return async (method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await r.text();
    let parsed: Record<string, unknown> | string = text;
    try { parsed = JSON.parse(text) as Record<string, unknown>; } catch { /* the metrics text */ }
    return { status: r.status, headers: r.headers, body: parsed };
  };
}

/** A server with one write route that counts its calls, one read route, and the refusals it saw. */
function writeServer(extra: Partial<HttpServerOptions> = {}) {
  const state = { writes: 0, refused: [] as string[] };
  const o: Omit<HttpServerOptions, 'port'> = {
    registry: createRegistry('test'),
    routes: {
      'POST /v1/events': () => { state.writes++; return { accepted: 1 }; },
      'DELETE /v1/thing': () => { state.writes++; return { deleted: 1 }; },
      'GET /v1/model': () => ({ version: 1 }),
      'POST /v1/predict': () => ({ scores: [0.5] }),
    },
    queries: ['POST /v1/predict'],
    onRefused: (e: HttpError) => { state.refused.push(e.code); },
    ...extra,
  };
  return { state, o };
}

t.test('tokens: read from FLYWHEEL_API_TOKENS and FLYWHEEL_API_TOKENS_FILE, checked, never echoed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-tokens-'));
  const file = join(dir, 'tokens');
  writeFileSync(file, `# ops tokens\n${OTHER}\n\n  ${'f'.repeat(24)}  \r\n`);
  const both = loadApiTokens(readEnv({ FLYWHEEL_API_TOKENS: ` ${TOKEN} ,`, FLYWHEEL_API_TOKENS_FILE: file }));
  t.equal(both.size, 3, 'comma list, then the file\'s lines without comments or blanks');
  t.ok(both.matches(TOKEN) && both.matches(OTHER) && both.matches('f'.repeat(24)));
  t.equal(loadApiTokens(readEnv({})).size, 0, 'none configured: empty');
  const short = 'short-token';
  t.throws(() => loadApiTokens(readEnv({ FLYWHEEL_API_TOKENS: `${TOKEN},${short}` })), { message: /FLYWHEEL_API_TOKENS.*token 2 is shorter than 16/ });
  try { loadApiTokens(readEnv({ FLYWHEEL_API_TOKENS: `${TOKEN},${short}` })); } catch (e) {
    t.notMatch((e as Error).message, short, 'the error names the position, not the token');
  }
  t.throws(() => loadApiTokens(readEnv({ FLYWHEEL_API_TOKENS: 'has a space in it, long enough' })), { message: /printable ASCII/ });
  t.throws(() => loadApiTokens(readEnv({ FLYWHEEL_API_TOKENS_FILE: join(dir, 'missing') })), { message: /FLYWHEEL_API_TOKENS_FILE.*cannot read .*ENOENT/ });
});

t.test('a token matches only itself: one character or one length off is no match', async (t) => {
  t.ok(tokens.matches(TOKEN));
  t.notOk(tokens.matches(`${TOKEN.slice(0, -1)}X`), 'last character differs');
  t.notOk(tokens.matches(`X${TOKEN.slice(1)}`), 'first character differs');
  t.notOk(tokens.matches(TOKEN.slice(0, -1)), 'one shorter (a prefix)');
  t.notOk(tokens.matches(`${TOKEN}a`), 'one longer');
  t.notOk(tokens.matches(TOKEN.toUpperCase()), 'case matters');
  t.notOk(tokens.matches(''), 'empty');
  t.notOk(new ApiTokens([]).matches(''), 'no tokens: nothing matches, not even empty');
});

t.test('what a request presents: Bearer (any case) or X-Api-Key, nothing else', async (t) => {
  const p = (headers: Record<string, string>) => presentedTokens({ headers });
  t.same(p({ authorization: `Bearer ${TOKEN}` }), [TOKEN]);
  t.same(p({ authorization: `bearer ${TOKEN}` }), [TOKEN], 'the scheme is case-insensitive');
  t.same(p({ 'x-api-key': TOKEN }), [TOKEN]);
  t.same(p({ authorization: TOKEN }), [], 'a bare token in Authorization is no Bearer');
  t.same(p({ authorization: `Token ${TOKEN}` }), [], 'another scheme');
  t.same(p({ authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }), [], 'Basic');
  t.same(p({ authorization: `Bearer ${TOKEN} extra` }), [], 'two credentials');
  t.same(p({ authorization: 'Bearer ' }), [], 'no credential');
});

t.test('loopback is 127.0.0.0/8, ::1 and localhost; 0.0.0.0, :: and real addresses are not', async (t) => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) t.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '', '10.0.0.5', '128.0.0.1', '127.0.0.1.example.com', 'localhost.evil']) t.notOk(isLoopbackHost(h), h || '(empty)');
});

t.test('auto, bound outside loopback: write routes need a token, and every way around it is a 401', async (t) => {
  const { state, o } = writeServer();
  const { call } = await serve(t, { ...o, host: '0.0.0.0', auth: { tokens } });
  const body = '[{"userId":"u"}]';
  const attempts: [string, Record<string, string>][] = [
    ['no header', {}],
    ['a wrong token', { authorization: `Bearer ${'x'.repeat(20)}` }],
    ['one character off', { authorization: `Bearer ${TOKEN.slice(0, -1)}X` }],
    ['one shorter', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['one longer', { 'x-api-key': `${TOKEN}0` }],
    ['the token without "Bearer"', { authorization: TOKEN }],
    ['the token as Basic credentials', { authorization: `Basic ${TOKEN}` }],
    ['the token in another header', { 'x-auth-token': TOKEN }],
    ['the token in the query string', {}],
    ['an empty X-Api-Key', { 'x-api-key': '' }],
  ];
  let first: Reply | undefined;
  for (const [what, headers] of attempts) {
    const r = await call('POST', what.includes('query') ? `/v1/events?token=${TOKEN}` : '/v1/events', headers, body);
    t.equal(r.status, 401, `${what}: 401`);
    t.match(r.headers.get('www-authenticate'), /^Bearer/, `${what}: WWW-Authenticate: Bearer`);
    first ??= r;
    t.same(r.body, first.body, `${what}: the same answer as any other refusal (no hint which part was wrong)`);
  }
  t.same(first?.body, { error: 'this route needs a valid API token: send "Authorization: Bearer <token>" or "X-Api-Key: <token>"', code: 'unauthorized' });
  t.notMatch(JSON.stringify(first?.body), TOKEN, 'the answer holds no token');
  t.equal((await call('DELETE', '/v1/thing')).status, 401, 'DELETE is a write too');
  t.equal(state.writes, 0, 'no refused request reached its route');
  t.same(state.refused, Array(attempts.length + 1).fill('unauthorized'), 'every refusal counted as unauthorized');

  t.equal((await call('POST', '/v1/events', { authorization: `Bearer ${TOKEN}` }, body)).status, 200, 'Bearer: accepted');
  t.equal((await call('POST', '/v1/events', { 'x-api-key': OTHER }, body)).status, 200, 'X-Api-Key, the second token: accepted');
  t.equal((await call('POST', '/v1/events', { authorization: 'Basic dTpw', 'x-api-key': TOKEN }, body)).status, 200, 'a valid X-Api-Key beside another Authorization: accepted');
  t.equal(state.writes, 3);

  for (const [m, p] of [['GET', '/v1/model'], ['POST', '/v1/predict'], ['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/openapi.json']]) {
    t.equal((await call(m, p, {}, m === 'POST' ? '{}' : undefined)).status, 200, `${m} ${p}: no token needed (a read)`);
  }
  t.equal((await call('POST', '/v1/nothing', {}, '{}')).status, 404, 'an unknown route is still a 404');
});

t.test('a refused write is refused before its body is read', async (t) => {
  const { state, o } = writeServer({ maxBodyBytes: 100 });
  const { call } = await serve(t, { ...o, host: '0.0.0.0', auth: { tokens } });
  const r = await call('POST', '/v1/events', {}, 'x'.repeat(10_000));
  t.equal(r.status, 401, 'an oversize body without a token: 401, not 413 (its bytes were never taken)');
  t.equal(state.writes, 0);
});

t.test('auto on loopback: no token needed and none required to start', async (t) => {
  const { state, o } = writeServer();
  const { call } = await serve(t, { ...o, host: '127.0.0.1', auth: { tokens: new ApiTokens([]) } });
  t.equal((await call('POST', '/v1/events', {}, '[]')).status, 200);
  t.equal(state.writes, 1);
  t.same(state.refused, []);
});

t.test('required: a token on loopback too', async (t) => {
  const { state, o } = writeServer();
  const { call } = await serve(t, { ...o, host: '127.0.0.1', auth: { mode: 'required', tokens } });
  t.equal((await call('POST', '/v1/events', {}, '[]')).status, 401);
  t.equal((await call('POST', '/v1/events', { 'x-api-key': TOKEN }, '[]')).status, 200);
  t.equal((await call('GET', '/v1/model')).status, 200, 'reads stay open');
  t.same(state.refused, ['unauthorized']);
});

t.test('a server that needs tokens and has none refuses to start, naming the variables', async (t) => {
  const { o } = writeServer();
  await t.rejects(startHttpServer({ ...o, port: 0, host: '0.0.0.0', auth: { tokens: new ApiTokens([]) } }),
    { name: 'ConfigError', message: /http\.auth.*0\.0\.0\.0.*POST \/v1\/events.*FLYWHEEL_API_TOKENS.*FLYWHEEL_API_TOKENS_FILE/ }, 'auto on 0.0.0.0');
  await t.rejects(startHttpServer({ ...o, port: 0, host: '127.0.0.1', auth: { mode: 'required', tokens: new ApiTokens([]) } }),
    ConfigError, 'required on loopback');
  // Default tokens come from the environment.
  const saved = process.env.FLYWHEEL_API_TOKENS;
  delete process.env.FLYWHEEL_API_TOKENS;
  t.teardown(() => { if (saved !== undefined) process.env.FLYWHEEL_API_TOKENS = saved; else delete process.env.FLYWHEEL_API_TOKENS; });
  await t.rejects(startHttpServer({ ...o, port: 0, host: '0.0.0.0' }), { message: /FLYWHEEL_API_TOKENS/ }, 'none in the environment');
  process.env.FLYWHEEL_API_TOKENS = TOKEN;
  const { call } = await serve(t, { ...o, host: '0.0.0.0' });
  t.equal((await call('POST', '/v1/events', { authorization: `Bearer ${TOKEN}` }, '[]')).status, 200, 'the environment\'s token is accepted');
  t.equal((await call('POST', '/v1/events', {}, '[]')).status, 401);
  // A server with nothing to protect (a PS shard's, a worker's) starts without tokens anywhere.
  delete process.env.FLYWHEEL_API_TOKENS;
  const reads = await serve(t, { host: '0.0.0.0', registry: createRegistry('test'), routes: { 'GET /v1/gate': () => ({}) } });
  t.equal((await reads.call('GET', '/v1/gate')).status, 200, 'read-only server on 0.0.0.0: up without tokens');
  const inference = await serve(t, { host: '0.0.0.0', routes: { 'POST /v1/predict': () => ({}) }, queries: ['POST /v1/predict'] });
  t.equal((await inference.call('POST', '/v1/predict', {}, '{}')).status, 200, 'queries only: up without tokens, open');
});

t.test('off: no tokens anywhere, with a warning at start outside loopback', async (t) => {
  const { state, o } = writeServer();
  const warnings: string[] = [];
  const { call } = await serve(t, { ...o, host: '0.0.0.0', auth: { mode: 'off', tokens: new ApiTokens([]) }, onWarning: (m) => warnings.push(m) });
  t.equal((await call('POST', '/v1/events', {}, '[]')).status, 200);
  t.equal(state.writes, 1);
  t.equal(warnings.length, 1);
  t.match(warnings[0], /off on a server bound to 0\.0\.0\.0.*POST \/v1\/events/);
  await serve(t, { ...o, host: '127.0.0.1', auth: { mode: 'off' }, onWarning: (m) => warnings.push(m) });
  t.equal(warnings.length, 1, 'no warning on loopback');
});

t.test('authRoutes all: reads and /metrics need a token too; probes and /openapi.json do not', async (t) => {
  const { state, o } = writeServer();
  const { call } = await serve(t, { ...o, host: '127.0.0.1', auth: { mode: 'required', routes: 'all', tokens } });
  for (const [m, p] of [['GET', '/v1/model'], ['POST', '/v1/predict'], ['GET', '/metrics'], ['POST', '/v1/events']]) {
    t.equal((await call(m, p, {}, m === 'POST' ? '{}' : undefined)).status, 401, `${m} ${p}: 401 without`);
    t.equal((await call(m, p, { authorization: `Bearer ${TOKEN}` }, m === 'POST' ? '{}' : undefined)).status, 200, `${m} ${p}: 200 with`);
  }
  for (const p of ['/healthz', '/readyz', '/openapi.json']) t.equal((await call('GET', p)).status, 200, `${p}: open`);
  t.equal(state.refused.length, 4);
});

t.test('/metrics on a separate listener: served there only, closed with the server', async (t) => {
  const registry = createRegistry('test');
  const { server, call } = await serve(t, { host: '127.0.0.1', registry, metrics: { port: 0 }, routes: { 'GET /v1/model': () => ({}) } });
  const ms = metricsServerOf(server) as Server;
  t.ok(ms, 'a second listener');
  t.equal((ms.address() as AddressInfo).address, '127.0.0.1', 'bound to loopback by default');
  const metrics = caller((ms.address() as AddressInfo).port);
  const m = await metrics('GET', '/metrics');
  t.equal(m.status, 200);
  t.match(m.body, /process_cpu_user_seconds_total|# HELP/, 'Prometheus text');
  t.equal((await metrics('GET', '/healthz')).status, 404, 'the metrics listener serves nothing else');
  t.equal((await metrics('POST', '/metrics', {}, '{}')).status, 404);
  t.equal((await call('GET', '/metrics')).status, 404, 'the main port no longer serves /metrics');
  t.equal((await call('GET', '/healthz')).status, 200, 'probes stay on the main port');
  const doc = (await call('GET', '/openapi.json')).body as { paths: Record<string, unknown> };
  t.notOk('/metrics' in doc.paths, 'nor documents it');
  await closeServer(server);
  t.notOk(ms.listening, 'closeServer closed the metrics listener too');
  t.equal(metricsServerOf(server), undefined);
});

t.test('config: http.auth, http.authRoutes, metricsPort are validated', async (t) => {
  const c = loadConfig({ env: {} });
  t.same(c.http, { auth: 'auto', authRoutes: 'writes', metricsHost: '127.0.0.1' }, 'defaults');
  t.equal(c.ingest.metricsPort, 0);
  t.throws(() => loadConfig({ overrides: { http: { auth: 'sometimes' } }, env: {} }), { message: /"http\.auth"/ });
  t.throws(() => loadConfig({ overrides: { http: { authRoutes: 'reads' } }, env: {} }), { message: /"http\.authRoutes"/ });
  t.throws(() => loadConfig({ overrides: { http: { tokens: ['x'] } }, env: {} }), { message: /"http\.tokens": unknown option/, }, 'tokens never go in the config file');
  t.throws(() => loadConfig({ overrides: { ingest: { port: 9000, metricsPort: 9000 } }, env: {} }), { message: /"ingest\.metricsPort": must differ/ });
  t.throws(() => loadConfig({ overrides: { inference: { metricsPort: 8081 } }, env: {} }), { message: /"inference\.metricsPort": must differ/ });
  t.throws(() => loadConfig({ overrides: { dashboard: { metricsPort: 8090 } }, env: {} }), { message: /"dashboard\.metricsPort": must differ/ });
  t.same([c.dashboard.metricsPort, c.validator.metricsPort], [0, 0], 'the validator and the dashboard serve /metrics on their main port by default');
  t.equal(loadConfig({ overrides: { validator: { metricsPort: 9300 } }, env: {} }).validator.metricsPort, 9300);
  t.throws(() => loadConfig({ overrides: { validator: { port: 8082 } }, env: {} }), { message: /"validator\.port": unknown option/ }, "the validator's main port is its --port");
});

t.test('/openapi.json says which routes need a token, as this server was started', async (t) => {
  const { o } = writeServer({ auth: { mode: 'required', tokens } });
  const { call } = await serve(t, o);
  const doc = (await call('GET', '/openapi.json')).body as Record<string, any>;
  t.same(doc.paths['/v1/events'].post.security, [{ bearerToken: [] }, { apiKeyHeader: [] }], 'a write route names both headers');
  t.ok(doc.paths['/v1/events'].post.responses['401'], 'and its 401');
  t.notOk(doc.paths['/v1/predict'].post.security, 'a declared query needs none');
  t.notOk(doc.paths['/healthz'].get.security, 'nor the probes');
  t.same(Object.keys(doc.components.securitySchemes), ['bearerToken', 'apiKeyHeader']);
  const open = await serve(t, writeServer().o);
  const plain = (await open.call('GET', '/openapi.json')).body as Record<string, any>;
  t.notOk(plain.paths['/v1/events'].post.security, 'on loopback in auto mode no route needs one');
  t.notOk(plain.components.securitySchemes, 'and no scheme is declared');
});

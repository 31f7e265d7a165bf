// SIGTERM under load: a service's HTTP server stops taking connections but answers the requests
// it already accepted (a client must not see a reset for a request that was in fact handled).
import t from 'tap';
import { connect, type AddressInfo } from 'node:net';
import { closeServer, startHttpServer } from '../../shared/index.ts';

const refused = (port: number) => new Promise<boolean>((resolve) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

t.test('closeServer drains: no new connections, the request in flight is answered', async (t) => {
  let entered!: () => void;
  const inRoute = new Promise<void>((r) => { entered = r; });
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const server = await startHttpServer({
    port: 0, host: '127.0.0.1',
    routes: { 'POST /slow': async () => { entered(); await gate; return { done: true }; } },
  });
  const port = (server.address() as AddressInfo).port;
  const inflight = fetch(`http://127.0.0.1:${port}/slow`, { method: 'POST', body: '{}' });
  await inRoute;
  let closed = false;
  const closing = closeServer(server).then(() => { closed = true; });
  t.ok(await refused(port), 'a new connection is refused once draining starts');
  t.notOk(closed, 'the server waits for the request in flight');
  release();
  const res = await inflight;
  t.equal(res.status, 200, 'the accepted request gets its answer');
  t.same(await res.json(), { done: true });
  t.equal(res.headers.get('connection'), 'close', 'and is told the connection closes');
  await closing;
  t.ok(closed, 'then the server closes');
});

t.test('a request that outlives the drain time is cut, and closing does not hang', async (t) => {
  let entered!: () => void;
  const inRoute = new Promise<void>((r) => { entered = r; });
  const server = await startHttpServer({
    port: 0, host: '127.0.0.1',
    routes: { 'POST /never': async () => { entered(); return new Promise(() => undefined); } },
  });
  const port = (server.address() as AddressInfo).port;
  const inflight = fetch(`http://127.0.0.1:${port}/never`, { method: 'POST', body: '{}' }).then(() => 'answered', () => 'cut');
  await inRoute;
  await closeServer(server, 50);
  t.equal(await inflight, 'cut');
});

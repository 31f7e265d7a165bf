// HTTP limits of a real ingest server: a body over the limit gets 413 naming the limit (also
// when chunked), a slowloris client that never finishes its body or its headers is cut off
// with 408 after requestTimeoutMs, each refusal is counted, and the server keeps serving.
import t from 'tap';
import { connect } from 'node:net';
import { EmbeddedInfra, loadConfig } from '../../shared/index.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { rejectedByReason, send } from '../corpus/http-client.ts';

/** Writes `head`, then nothing more; resolves with what the server said and how long it took. */
function stall(port: number, head: string): Promise<{ text: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(head));
    let text = '';
    sock.on('data', (d) => { text += d; });
    sock.on('error', () => undefined);
    sock.on('close', () => resolve({ text, ms: Date.now() - t0 }));
  });
}

t.test('body limits and request timeouts', async (t) => {
  const cfg = loadConfig({ overrides: { model: 'sechttp', eventShards: 2, ingest: { maxBodyBytes: 4096 } }, env: {} });
  const infra = new EmbeddedInfra(cfg);
  const ingest = await startIngest(cfg, infra.forService(), 0, { requestTimeoutMs: 400 });
  t.teardown(() => ingest.stop());
  const big = Buffer.alloc(100_000, 0x20);
  for (const chunked of [false, true]) {
    const r = await send(ingest.port, { contentType: 'application/json', chunked }, big);
    t.equal(r.status, 413, `${chunked ? 'chunked' : 'declared'} oversize body: 413`);
    t.match(r.body, /limit of 4096 bytes/, 'the message names the limit');
  }
  const body = await stall(ingest.port, 'POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"userId":');
  t.match(body.text, /^HTTP\/1.1 408/, `a body that never ends: 408 after ${body.ms} ms`);
  t.ok(body.ms < 5000, 'cut off near requestTimeoutMs, not after minutes');
  const head = await stall(ingest.port, 'POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  t.match(head.text, /^HTTP\/1.1 408/, `headers that never end: 408 after ${head.ms} ms`);
  const counts = await rejectedByReason(ingest.port);
  t.equal(counts.get('payload_too_large'), 2, 'both 413s counted');
  t.equal(counts.get('request_timeout'), 2, 'both timeouts counted');
  const ok = await send(ingest.port, { contentType: 'application/json' }, Buffer.from(JSON.stringify([{ userId: 'u', itemId: 'i', type: 'view', ts: Date.now() }])));
  t.equal(ok.status, 200, 'still serving');
});

// What request bodies may cost ingest: the shape check on a body's bytes (depth, members) and
// the budget of body bytes held at once over all requests, each refusal with its code, its
// counter and nothing published; then 8 concurrent 7 MB nested bodies against a real server.
import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { BodyBudget, EmbeddedInfra, loadConfig } from '../../shared/index.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { checkJsonShape } from '../../services/ingest/json-shape.ts';
import { metricReader, pendingMessages } from '../helpers/scrape.ts';

const LIMITS = { maxDepth: 8, maxTopLevelItems: 50, maxMembers: 128 };
const shape = (s: string, ndjson = false) => checkJsonShape(Buffer.from(s), ndjson, LIMITS)?.code;
const EV = { userId: 'u1', itemId: 'i1', type: 'view', ts: Date.now() - 1000 };

t.test('shape check: limits at their bounds, strings are not structure', async (t) => {
  t.equal(shape(`${'['.repeat(8)}${']'.repeat(8)}`), undefined, 'depth 8 passes');
  t.equal(shape(`${'['.repeat(9)}${']'.repeat(9)}`), 'too_deep', 'depth 9 is refused');
  t.equal(shape(`[${'{"a":'.repeat(7)}1${'}'.repeat(7)}]`), undefined, 'objects count as levels too: 8 pass');
  t.equal(shape(`[${'{"a":'.repeat(8)}1${'}'.repeat(8)}]`), 'too_deep');
  t.equal(shape(`[${Array(50).fill('{}').join(',')}]`), undefined, '50 top-level items pass');
  t.equal(shape(`[${Array(51).fill('{}').join(',')}]`), 'too_many_events', '51 are refused');
  t.equal(shape(`[[${Array(128).fill('1').join(',')}]]`), undefined, 'an inner array of 128 passes');
  t.equal(shape(`[[${Array(129).fill('1').join(',')}]]`), 'too_wide', '129 are refused');
  t.equal(shape(`{${Array.from({ length: 129 }, (_, i) => `"k${i}":1`).join(',')}}`), 'too_wide', 'a top-level object is held to maxMembers, not maxTopLevelItems');
  t.equal(shape(`${Array(500).fill(JSON.stringify(EV)).join('\n')}\n`, true), undefined, 'NDJSON: lines are not members');
  t.equal(shape(`[${JSON.stringify({ ...EV, userId: '['.repeat(50), itemId: `${'{'.repeat(20)}\\"${'['.repeat(20)}`, c: ','.repeat(500) })}]`), undefined,
    'brackets, commas and escaped quotes inside strings are content');
  t.equal(shape(`["a\\\\", ${'['.repeat(9)}${']'.repeat(9)}]`), 'too_deep', 'an escaped backslash ends the string before its quote');
  t.equal(shape(`["a\\\\\\"${'['.repeat(9)}"]`), undefined, 'an escaped quote after an escaped backslash does not');
  t.equal(shape('["unterminated'), undefined, 'malformed JSON is left to the parser');
  t.equal(shape(`["é€😀", ${'['.repeat(9)}`), 'too_deep', 'multi-byte UTF-8 does not confuse it');
});

t.test('BodyBudget: take, refuse, release once', async (t) => {
  const b = new BodyBudget(100);
  const h1 = b.hold(), h2 = b.hold();
  t.ok(h1.take(60));
  t.notOk(h2.take(41), 'past the budget: refused');
  t.equal(b.heldBytes, 60, 'a refused take holds nothing');
  t.ok(h2.take(40));
  h1.release();
  h1.release();
  t.equal(b.heldBytes, 40, 'release gives back what the hold took, once');
  const emptied = b.until((held) => held === 0);
  h2.release();
  await emptied;
  t.equal(b.heldBytes, 0, 'until() resolves on the release that empties it');
  t.throws(() => new BodyBudget(0), RangeError);
});

async function server(t: Test, ingest: Record<string, unknown> = {}) {
  const cfg = loadConfig({ overrides: { model: 'bodylimits', eventShards: 2, ingest }, env: {} });
  const emb = new EmbeddedInfra(cfg);
  const srv = await startIngest(cfg, emb.forService(), 0);
  t.teardown(() => srv.stop());
  const base = `http://127.0.0.1:${srv.port}`;
  const metric = metricReader(base);
  const messages = () => pendingMessages(emb.eventLog, cfg.eventShards);
  return { port: srv.port, base, metric, messages, budget: srv.bodyBudget };
}

/** A valid one-event body padded with spaces to `size` bytes. */
const padded = (size: number) => {
  const s = JSON.stringify([EV]);
  return Buffer.from(`${s.slice(0, -1)}${' '.repeat(size - s.length)}]`);
};

/** Opens a POST announcing `declared` bytes and sends `sent` of them, then nothing more. */
function stalled(port: number, declared: number, sent: Buffer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => {
      sock.write(`POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`);
      sock.write(sent, () => resolve(sock));
    });
    sock.on('error', reject);
  });
}

t.test('the in-flight budget: a body that does not fit gets 503 with Retry-After, and the budget comes back', async (t) => {
  const KiB = 1024;
  const s = await server(t, { maxBodyBytes: 64 * KiB, maxInflightBodyBytes: 64 * KiB });
  const full = padded(60 * KiB);
  // A slow client holds the 40 KiB it has sent (not the 60 KiB it announced).
  const slow = await stalled(s.port, full.length, full.subarray(0, 40 * KiB));
  await s.budget.until((held) => held >= 40 * KiB);
  t.equal(await s.metric('fw_ingest_inflight_body_bytes'), 40 * KiB, 'the budget holds what arrived');
  const post = (body: Buffer, chunked = false) => fetch(`${s.base}/v1/events`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    // A stream makes fetch send the body chunked, with no Content-Length.
    body: chunked ? new Blob([new Uint8Array(body)]).stream() : body, ...(chunked ? { duplex: 'half' } : {}),
  } as RequestInit);
  const announced = await post(padded(30 * KiB));
  t.equal(announced.status, 503, 'a body announced larger than the room left: 503');
  t.equal(announced.headers.get('retry-after'), '1', 'with Retry-After');
  t.match(await announced.json(), { code: 'overloaded', error: /too many request bodies at once/ });
  const chunked = await post(padded(30 * KiB), true);
  t.equal(chunked.status, 503, 'a chunked body that outgrows the room left: 503 while it is read');
  await chunked.arrayBuffer();
  t.equal((await post(padded(20 * KiB))).status, 200, 'a body that fits beside it is accepted');
  t.equal(await s.metric('fw_ingest_requests_rejected_total', 'reason="overloaded"'), 2, 'both refusals counted');
  t.equal(await s.messages(), 1, 'the refused bodies published nothing');
  slow.destroy();
  await s.budget.until((held) => held === 0);
  t.pass('an aborted request gives its bytes back');
  const big = await post(padded(60 * KiB));
  t.equal(big.status, 200, 'and then a body of the whole budget fits');
  t.equal(await s.metric('fw_ingest_inflight_body_bytes'), 0, 'nothing is held once answered');
});

t.test('8 concurrent 7 MB nested bodies are refused, cheaply, with nothing published', async (t) => {
  // The defaults: 8 MiB bodies, 64 MiB in flight (the probe's 8 bodies fit in the budget and
  // are refused by the shape check). The RSS this costs is measured by loadtest/ingest-memory.ts.
  const s = await server(t);
  const nested = Buffer.from(`${'['.repeat(3_500_000)}${']'.repeat(3_500_000)}`);
  const objects = Buffer.from(`[${'{"a":'.repeat(1_166_000)}1${'}'.repeat(1_166_000)}]`);
  const answers = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    const res = await fetch(`${s.base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: i % 2 ? objects : nested });
    return { status: res.status, body: await res.json() as { code: string } };
  }));
  t.same(answers.map((a) => `${a.status} ${a.body.code}`), Array(8).fill('400 too_deep'), 'every one refused as too deep');
  t.equal(await s.metric('fw_ingest_requests_rejected_total', 'reason="too_deep"'), 8, 'each counted');
  t.equal(await s.messages(), 0, 'nothing published');
  t.equal(await s.metric('fw_ingest_inflight_body_bytes'), 0, 'the budget is whole again');
  t.equal((await fetch(`${s.base}/healthz`)).status, 200, 'the server is healthy');
  // With a budget for two such bodies, and two slow clients holding 10 MiB of it, the next
  // ones do not fit: refused before a byte of theirs is read.
  const MiB = 1024 * 1024;
  const tight = await server(t, { maxInflightBodyBytes: 16 * MiB });
  const slow = [await stalled(tight.port, nested.length, nested.subarray(0, 5 * MiB)), await stalled(tight.port, nested.length, nested.subarray(0, 5 * MiB))];
  await tight.budget.until((held) => held === 10 * MiB);
  const refused = await Promise.all(Array.from({ length: 8 }, async () => {
    const res = await fetch(`${tight.base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: nested });
    return `${res.status} ${(await res.json() as { code: string }).code} ${res.headers.get('retry-after')}`;
  }));
  t.same(refused, Array(8).fill('503 overloaded 1'), 'over the budget: 503 with Retry-After');
  t.equal(await tight.metric('fw_ingest_requests_rejected_total', 'reason="overloaded"'), 8, 'each counted');
  for (const sock of slow) sock.destroy();
  await tight.budget.until((held) => held === 0);
});

// Idempotency-Key on a real ingest server over in-process infrastructure. The in-process log
// has no de-duplication by message id, so every "publishes nothing" below is the key's record
// at work, as it must be after JetStream's duplicate window has passed. Each rule is checked
// where it could fail: messages in the log, publish calls, and the counters.
import t, { type Test } from 'tap';
import {
  EmbeddedInfra, MemoryIdempotencyStore, loadConfig, type FlywheelConfig, type IdempotencyStore, type Infra,
} from '../../shared/index.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { metricReader, pendingMessages } from '../helpers/scrape.ts';
import { IdempotencyGuard, PENDING_LEASE_MS } from '../../services/ingest/idempotency.ts';

const NOW = Date.now();
const events = (n: number, user = 'u') => Array.from({ length: n }, (_, i) => ({ userId: `${user}${i}`, itemId: `i${i % 7}`, type: 'view', ts: NOW - 1000 + i }));

interface Reply { status: number; headers: Headers; body: Record<string, unknown> }

async function setup(t: Test, overrides: Record<string, unknown> = {}, wrapStore?: (s: IdempotencyStore) => IdempotencyStore) {
  const cfg: FlywheelConfig = loadConfig({ overrides: { model: 'idem', eventShards: 2, ...overrides }, env: {} });
  const emb = new EmbeddedInfra(cfg);
  const infra: Infra = emb.forService();
  if (wrapStore) infra.idempotency = wrapStore(infra.idempotency);
  // Every publish passes through here: counted, and held or failed when a test says so.
  const hook = { calls: 0, before: async (): Promise<void> => undefined };
  const publish = infra.eventLog.publish.bind(infra.eventLog);
  infra.eventLog.publish = async (...args) => {
    hook.calls++;
    await hook.before();
    return publish(...args);
  };
  const ingest = await startIngest(cfg, infra, 0);
  t.teardown(() => ingest.stop());
  const base = `http://127.0.0.1:${ingest.port}`;
  const post = async (body: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> };
  };
  const messages = () => pendingMessages(emb.eventLog, cfg.eventShards);
  const metric = metricReader(base);
  return { cfg, emb, hook, post, messages, metric };
}

t.test('a retry with the same key and body replays the answer and publishes nothing', async (t) => {
  const s = await setup(t);
  const body = events(5);
  const first = await s.post(body, { 'idempotency-key': 'order-1' });
  t.equal(first.status, 200);
  t.equal(first.body.accepted, 5);
  t.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is no replay');
  const msgs = await s.messages();
  const calls = s.hook.calls;
  t.ok(msgs > 0, `${msgs} messages published`);
  for (let i = 0; i < 3; i++) {
    const again = await s.post(body, { 'idempotency-key': 'order-1' });
    t.equal(again.status, 200, 'a retry is answered 200');
    t.same(again.body, first.body, 'with the first answer (same acceptedAtMs)');
    t.equal(again.headers.get('idempotent-replayed'), 'true', 'marked as replayed');
  }
  t.equal(await s.messages(), msgs, 'no message published again');
  t.equal(s.hook.calls, calls, 'no publish attempted again');
  t.equal(await s.metric('fw_ingest_events_accepted_total'), 5, 'the events were counted once');
  t.equal(await s.metric('fw_ingest_idempotent_replays_total'), 3, 'each replay counted');
});

t.test('the same key with a different body is a 422 and changes nothing', async (t) => {
  const s = await setup(t);
  const a = events(50, 'a');
  t.equal((await s.post(a, { 'idempotency-key': 'k' })).status, 200);
  const msgs = await s.messages();
  // The probe's cases: another 50 events, and a 600-event body, under a used key.
  for (const b of [events(50, 'b'), events(600, 'c')]) {
    const r = await s.post(b, { 'idempotency-key': 'k' });
    t.equal(r.status, 422, `${b.length} other events under a used key: 422`);
    t.equal(r.body.code, 'idempotency_key_reused');
    t.match(r.body.error, /already used with a different body/, 'the message says why');
  }
  // The same events, spaced differently, are another body too: the key is bound to the bytes.
  t.equal((await s.post(JSON.stringify(a, null, 1), { 'idempotency-key': 'k' })).status, 422, 'the same events in other bytes: 422');
  t.equal(await s.messages(), msgs, 'nothing published');
  t.equal(await s.metric('fw_ingest_requests_rejected_total', 'reason="idempotency_key_reused"'), 3, 'each refusal counted under its reason');
  const replay = await s.post(a, { 'idempotency-key': 'k' });
  t.equal(replay.headers.get('idempotent-replayed'), 'true', 'the refusals left the record as it was');
});

t.test('a request with a key in flight: the same key gets 409, another body 422', async (t) => {
  const s = await setup(t);
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  let entered!: () => void;
  const publishing = new Promise<void>((r) => { entered = r; });
  s.hook.before = () => { entered(); return gate; };
  const body = events(3);
  const first = s.post(body, { 'idempotency-key': 'slow' });
  await publishing;
  const dup = await s.post(body, { 'idempotency-key': 'slow' });
  t.equal(dup.status, 409, 'same key and body while the first is publishing: 409');
  t.equal(dup.body.code, 'idempotency_in_flight');
  t.equal(dup.headers.get('retry-after'), '1', 'with Retry-After');
  t.equal((await s.post(events(3, 'x'), { 'idempotency-key': 'slow' })).status, 422, 'another body under it: 422');
  const callsWhileHeld = s.hook.calls;
  open();
  s.hook.before = async () => undefined;
  const r = await first;
  t.equal(r.status, 200, 'the first request completes');
  t.equal(s.hook.calls, callsWhileHeld, 'the refused requests published nothing');
  const msgs = await s.messages();
  const retry = await s.post(body, { 'idempotency-key': 'slow' });
  t.equal(retry.headers.get('idempotent-replayed'), 'true', 'a retry afterwards is a replay');
  t.equal(await s.messages(), msgs);
  t.equal(await s.metric('fw_ingest_requests_rejected_total', 'reason="idempotency_in_flight"'), 1, 'the 409 counted');
});

t.test('a request that failed is not recorded: its retry publishes', async (t) => {
  const s = await setup(t);
  s.hook.before = async () => { throw new Error('stream down'); };
  const body = events(4);
  const failed = await s.post(body, { 'idempotency-key': 'retry-me' });
  t.equal(failed.status, 503, 'publishing failed: 503');
  t.match(failed.body.error, /retry with the same Idempotency-Key/);
  t.equal(await s.messages(), 0, 'nothing in the log');
  s.hook.before = async () => undefined;
  const retry = await s.post(body, { 'idempotency-key': 'retry-me' });
  t.equal(retry.status, 200, 'the retry succeeds');
  t.equal(retry.headers.get('idempotent-replayed'), null, 'and is no replay: it did the work');
  t.equal(retry.body.accepted, 4);
  const msgs = await s.messages();
  t.ok(msgs > 0, 'its events are in the log');
  t.equal((await s.post(body, { 'idempotency-key': 'retry-me' })).headers.get('idempotent-replayed'), 'true', 'a further retry replays');
  t.equal(await s.messages(), msgs);
});

t.test('keys are per client: X-Api-Key, else Authorization, else one shared scope', async (t) => {
  const s = await setup(t);
  const body = events(2);
  const fresh = async (h: Record<string, string>, what: string) => {
    const r = await s.post(body, { 'idempotency-key': 'same', ...h });
    t.equal(r.status, 200, what);
    t.equal(r.headers.get('idempotent-replayed'), null, `${what}: published, not replayed`);
  };
  await fresh({}, 'no credentials');
  await fresh({ authorization: 'Bearer alice' }, 'alice by Authorization');
  await fresh({ authorization: 'Bearer bob' }, 'bob by Authorization');
  await fresh({ 'x-api-key': 'alice' }, 'alice by X-Api-Key');
  t.equal(await s.metric('fw_ingest_events_accepted_total'), 8, 'four scopes, four requests published');
  const replay = await s.post(body, { 'idempotency-key': 'same', authorization: 'Bearer alice' });
  t.equal(replay.headers.get('idempotent-replayed'), 'true', 'alice\'s retry replays her answer');
  const other = await s.post(events(2, 'z'), { 'idempotency-key': 'same', authorization: 'Bearer carol' });
  t.equal(other.status, 200, 'carol may use a key alice used, with another body');
  const shared = await s.post(events(2, 'z'), { 'idempotency-key': 'same' });
  t.equal(shared.status, 422, 'requests without credentials share one scope');
  t.equal(await s.metric('fw_ingest_events_accepted_total'), 10, '5 requests published: 4 scopes, then carol');
});

t.test('refused requests and requests without a key leave no record', async (t) => {
  const s = await setup(t);
  const store = s.emb.idempotency as MemoryIdempotencyStore;
  const body = events(2);
  t.equal((await s.post(body)).status, 200);
  t.equal((await s.post(body)).status, 200, 'without a key the same body is published again');
  t.equal(await s.metric('fw_ingest_events_accepted_total'), 4);
  const invalid = await s.post([{ ...body[0], type: 'nope' }], { 'idempotency-key': 'fixme' });
  t.equal(invalid.status, 400, 'an invalid body under a key: 400');
  t.equal((await s.post({ not: 'an array' }, { 'idempotency-key': 'fixme' })).status, 400);
  t.equal((await s.post(body, { 'idempotency-key': 'x'.repeat(256) })).status, 400, 'a key over 255 characters: 400');
  t.equal((await s.post(body, { 'idempotency-key': 'k'.repeat(255) })).status, 200, 'a key of 255 characters is fine');
  t.equal(store.size, 1, 'only the accepted keyed request was recorded');
  const fixed = await s.post(body, { 'idempotency-key': 'fixme' });
  t.equal(fixed.status, 200, 'the corrected body under the refused request\'s key is accepted (not 422)');
  t.equal(fixed.headers.get('idempotent-replayed'), null);
});

t.test('records last ingest.idempotencyTtlSeconds', async (t) => {
  // The store's clock is the test's: the TTL passes when the test says, not after a sleep.
  let clock = Date.now();
  const s = await setup(t, { ingest: { idempotencyTtlSeconds: 1 } }, () => new MemoryIdempotencyStore(() => clock));
  t.equal((await s.post(events(1, 'a'), { 'idempotency-key': 'ttl' })).status, 200);
  clock += 999;
  t.equal((await s.post(events(1, 'b'), { 'idempotency-key': 'ttl' })).status, 422, 'within the TTL the key is bound');
  clock += 2;
  const later = await s.post(events(1, 'b'), { 'idempotency-key': 'ttl' });
  t.equal(later.status, 200, 'after it the key is free');
  t.equal(later.headers.get('idempotent-replayed'), null);
});

t.test('the store failing: 503 before publishing; a lost record still answers 200 and is counted', async (t) => {
  let failClaim = true;
  const s = await setup(t, {}, (inner) => ({
    claim: (...a) => (failClaim ? Promise.reject(new Error('redis down')) : inner.claim(...a)),
    complete: () => Promise.reject(new Error('redis down')),
    release: (...a) => inner.release(...a),
    deleteStream: (st) => inner.deleteStream(st),
  }));
  const r = await s.post(events(2), { 'idempotency-key': 'a' });
  t.equal(r.status, 503, 'no claim, no publish: 503');
  t.equal(r.headers.get('retry-after'), '1');
  t.equal(s.hook.calls, 0, 'nothing published');
  failClaim = false;
  const ok = await s.post(events(2), { 'idempotency-key': 'a' });
  t.equal(ok.status, 200, 'published though the record could not be written');
  t.equal(await s.metric('fw_ingest_idempotency_unrecorded_total'), 1, 'and that is counted');
});

t.test('a claim of a request that never finished expires after its lease', async (t) => {
  let now = 1_000_000;
  const store = new MemoryIdempotencyStore(() => now);
  const guard = new IdempotencyGuard(store, 'st', 86_400_000);
  const first = await guard.begin('shared', 'k', 'h1');
  t.equal(first.kind, 'claimed');
  const inFlight = await guard.begin('shared', 'k', 'h1').catch((e: unknown) => e);
  t.match(inFlight, { status: 409, code: 'idempotency_in_flight' }, 'in flight: 409');
  now += PENDING_LEASE_MS;
  const second = await guard.begin('shared', 'k', 'h1');
  t.equal(second.kind, 'claimed', 'after the lease a retry can do the work');
  t.equal(first.kind === 'claimed' && await first.complete({ accepted: 1 }), false, 'the first request\'s claim is lost: it cannot record');
  t.equal(second.kind === 'claimed' && await second.complete({ accepted: 2 }), true);
  now += 1000;
  const replay = await guard.begin('shared', 'k', 'h1');
  t.same(replay, { kind: 'replay', response: { accepted: 2 } }, 'the answer of the request that held the claim');
  if (first.kind === 'claimed') await first.release();
  t.equal((await guard.begin('shared', 'k', 'h1')).kind, 'replay', 'a stale release does not drop a done record');
  await store.deleteStream('st');
  t.equal(store.size, 0, 'deleteStream empties the stream\'s records');
});

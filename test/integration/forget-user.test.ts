// DELETE /v1/users/{id} through the real services (NATS, JetStream, Redis; PS, worker, ingest,
// inference in this process): after it, the user's rows are gone from the PS store, the live
// replicas and a stored checkpoint; the user's own messages are gone from the stream (a
// message mixed with another user's is left and counted); inference scores the user exactly as
// a user never seen; another user's rows are untouched; an audit record names the user by hash
// only; a repeat removes nothing more; without a token it is refused.
import t from 'tap';
import { createHash } from 'node:crypto';
import {
  ApiTokens, FrozenWeights, Replica, connectInfra, decode, decodeCheckpoint, encodeCheckpoint, positionsOf, waitFor,
  type FlywheelEvent,
} from '../../shared/index.ts';
import { ctrKindSpec } from '../../shared/models/ctr/kind-spec.ts';
import { modelDecl } from '../../shared/config.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { startPs } from '../../services/ps/service.ts';
import { startWorker } from '../../services/worker/service.ts';
import { startIngest } from '../../services/ingest/service.ts';
import { startInference } from '../../services/inference/service.ts';
import { cleanupModel, integrationConfig } from '../helpers/integration.ts';

const TOKEN = 'forget-token-0123456789abcdef';

function userEvents(user: string, n: number, t0: number): FlywheelEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    userId: user, itemId: `item${i % 7}`, categoryId: `cat${i % 3}`, type: i % 4 === 0 ? 'buy' : 'view', ts: t0 + i * 1000,
  } as FlywheelEvent));
}

t.test('forgetting a user removes their rows, events and checkpoint rows; others keep theirs', async (t) => {
  const { cfg } = await integrationConfig('forget', {
    psShards: 2, workers: 1, eventShards: 1,
    settings: { fields: ['user', 'item', 'category'], buckets: 1024, hidden: [4], embDim: 4 }, ps: { publishIntervalMs: 50 },
  });
  const infra = await connectInfra(cfg, 'test-forget');
  const stops: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await infra.close();
    await cleanupModel(cfg);
  });
  for (let k = 0; k < cfg.psShards; k++) { const ps = await startPs(cfg, k, infra); stops.push(() => ps.stop()); }
  const worker = await startWorker(cfg, 0, infra);
  stops.push(() => worker.stop());
  const ingest = await startIngest(cfg, infra, 0, { tokens: new ApiTokens([TOKEN]) });
  stops.push(() => ingest.stop());
  const inf = await startInference(cfg, infra, 0);
  stops.push(() => inf.stop());
  const ingestUrl = `http://127.0.0.1:${ingest.port}`;
  const infUrl = `http://127.0.0.1:${inf.port}`;

  const t0 = Date.now() - 3_600_000;
  const post = async (events: FlywheelEvent[]) => t.equal((await fetch(`${ingestUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) })).status, 200);
  await post(userEvents('alice', 30, t0));
  await post(userEvents('bob', 30, t0 + 100));
  await post([...userEvents('alice', 1, t0 + 200), ...userEvents('bob', 1, t0 + 300)]);
  // Trained and acked: nothing pending on the event shard, and the users' rows in the store.
  const decl = modelDecl(cfg);
  const settings = decl.settings as Parameters<NonNullable<typeof ctrKindSpec.userRows>>[0];
  const storeRows = async (table: string) => {
    const ids = new Set<number>();
    for (let k = 0; k < cfg.psShards; k++) for (const x of (await infra.store.read(cfg.model, k, [table], false))?.sparse ?? []) for (const r of x.rows) ids.add(r);
    return ids;
  };
  const held = async (table: string) => Int32Array.from(await storeRows(table));
  const rowsOf = async (user: string) => ctrKindSpec.userRows!(settings, user, [], held);
  const holds = async (user: string) => {
    let n = 0;
    for (const x of await rowsOf(user)) { const s = await storeRows(x.table); n += x.rows.filter((r) => s.has(r)).length; }
    return n;
  };
  await waitFor(async () => {
    const b = await infra.eventLog.backlog(0);
    return b.pending === 0 && b.ackPending === 0 && (await holds('alice')) > 0 && (await holds('bob')) > 0;
  }, 60_000, 'both users trained and persisted', 100);
  const aliceRows = await holds('alice');
  const bobRows = await holds('bob');
  t.ok(aliceRows >= 4, `alice has ${aliceRows} rows in the store (embedding, bias, counters, user x category crosses)`);

  // A checkpoint holding alice's rows, as the gate would save one.
  const replica = new Replica(inf.replica.spec, cfg.psShards, infra.store);
  await replica.start(infra.transport, cfg.model);
  const ckptId = await infra.serving.saveCheckpoint(cfg.model, encodeCheckpoint(replica.checkpoint()));
  replica.stop();

  const predict = async (user: string) => ((await (await fetch(`${infUrl}/v1/predict`, {
    method: 'POST', body: JSON.stringify({ events: [{ userId: user, itemId: 'item1', categoryId: 'cat1' }] }),
  })).json()) as { scores: number[] }).scores[0];
  const aliceBefore = await predict('alice');
  const bobBefore = await predict('bob');

  const del = (headers: Record<string, string>) => fetch(`${ingestUrl}/v1/users/alice`, { method: 'DELETE', headers });
  t.equal((await del({})).status, 401, 'no token: refused');
  t.equal((await del({ authorization: 'Bearer wrong-token-0123456789' })).status, 401, 'a wrong token: refused');
  t.equal(await holds('alice'), aliceRows, 'a refused request removed nothing');
  const res = await del({ authorization: `Bearer ${TOKEN}` });
  t.equal(res.status, 200);
  const report = await res.json() as { userHash: string; events: { deleted: number; mixed: number }; models: { psRowsRemoved: number; checkpointsRewritten: number }[] };
  t.comment(`forget: ${JSON.stringify(report)}`);
  t.equal(report.events.deleted, 1, 'the message holding only alice\'s events is deleted');
  t.equal(report.events.mixed, 1, 'the mixed message is left and counted');
  t.equal(report.models[0].psRowsRemoved, aliceRows, 'every row of alice the store held was removed by the PS shards');
  t.equal(report.models[0].checkpointsRewritten, 1, 'the stored checkpoint was rewritten');

  await waitFor(async () => (await holds('alice')) === 0, 5000, 'the store without alice\'s rows', 50);
  t.pass('the PS store holds none of alice\'s rows');
  t.equal(await holds('bob'), bobRows, 'bob keeps every row');
  const ckpt = decodeCheckpoint((await infra.serving.loadCheckpoint(cfg.model, ckptId))!);
  // What alice's score must be: the same model with her rows at their initial values, i.e. the
  // rewritten checkpoint (nothing was trained after it was saved) scored in this process.
  const m = resolveModel(cfg);
  const frozen = new FrozenWeights(m.spec, ckpt);
  const plugin = m.kind.serving!({ model: cfg.model, settings: m.settings, spec: m.spec, predictor: m.kind.create(m.spec, m.settings), maxBatch: 16, weights: () => frozen, versionInfo: () => ({}) });
  const body = Buffer.from(JSON.stringify({ events: [{ userId: 'alice', itemId: 'item1', categoryId: 'cat1' }] }));
  const expected = ((await plugin.routes['POST /v1/predict']({} as never, body)) as { scores: number[] }).scores[0];
  t.not(expected, aliceBefore, 'her rows made a difference to her score');
  await waitFor(async () => (await predict('alice')) === expected, 5000, 'inference to drop alice\'s rows', 50);
  t.pass('inference scores alice as the model with her rows at their initial values does');
  t.equal(await predict('bob'), bobBefore, 'and bob as before');

  let inCkpt = 0;
  for (const x of await rowsOf('alice')) { const tb = ckpt.tables.find((c) => c.table === x.table); inCkpt += x.rows.filter((r) => tb?.rows.includes(r)).length; }
  t.equal(inCkpt, 0, 'the checkpoint holds none of alice\'s rows');

  const left: FlywheelEvent[] = [];
  await positionsOf(infra, cfg)!.readRange(0, 0, Number.MAX_SAFE_INTEGER, (data) => { left.push(...(decode(data) as { events: FlywheelEvent[] }).events); });
  t.equal(left.filter((e) => e.userId === 'alice').length, 1, 'of alice\'s events only the one in the mixed message is left in the stream');
  t.equal(left.filter((e) => e.userId === 'bob').length, 31, 'bob\'s are all there');

  const audit = await infra.serving.audit(cfg.model) as { action: string; userHash: string }[];
  t.equal(audit.length, 1, 'one audit record');
  t.equal(audit[0].action, 'forget-user');
  t.equal(audit[0].userHash, createHash('sha256').update('alice').digest('hex'), 'naming the user by the hash of their id');
  t.notOk(JSON.stringify(audit).includes('alice'), 'and never by the id');

  const again = await (await del({ authorization: `Bearer ${TOKEN}` })).json() as typeof report;
  t.equal(again.models[0].psRowsRemoved, 0, 'a repeat removes no more rows');
  t.equal(again.events.deleted, 0, 'nor messages');
});

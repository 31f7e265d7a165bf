// The event stream with 3 replicas on a 3-server NATS cluster (private ports, JetStream file
// stores in a temp dir: test/helpers/local-clusters.ts): Online Retail events, packed into
// messages per event shard as ingest packs them, are published through the project's event
// log (JetStreamEventLog.publish, a message id each as ingest gives them) while the stream's
// leader, also the server the publisher is connected to, is killed -9 a third of the way
// through. The publisher knows all three servers and retries a failed publish with the same
// message id, as a client retries ingest's 503 with its Idempotency-Key. Then the shards'
// durable consumers read everything back: every acknowledged message must be there, byte for
// byte, once. The figures (failed publishes by cause, failover time) go to the test's comments.
import t from 'tap';
import {
  JetStreamEventLog, JetStreamLedger, JetStreamRewindStore, REWIND_BUCKET, connectNats, consumerName, decode, encode, eventLogOptions, eventShardOf, loadConfig, streamName, waitFor,
  type EventBatchMessage, type EventConsumer, type FlywheelEvent,
} from '../../shared/index.ts';
import { DEMO_DATA_PATH, onlineRetailEventBatches } from '../../shared/datasets/online-retail.ts';
import { LocalNatsCluster, missingBinaries } from '../helpers/local-clusters.ts';
import { uniqueModel } from '../helpers/integration.ts';

const missing = missingBinaries(['nats-server']);
const EVENTS = 30_000;
const PER_MESSAGE = 32; // ingest.maxEventsPerMessage (128 by default): smaller, so more messages are in flight at the kill
const IN_FLIGHT = 16;

/** f() until it resolves (a JetStream API request times out while its group elects a leader), for up to 30 s. */
async function retrying<T>(f: () => Promise<T>, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message} for 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

t.test('JetStream, 3 replicas on 3 servers: a server killed -9 mid-replay loses no acked event', { skip: missing ? `${missing}: no local NATS cluster` : false }, async (t) => {
  const nats = await LocalNatsCluster.start({ nodes: 3 });
  t.teardown(() => nats.stop());
  const model = uniqueModel('js3');
  const cfg = loadConfig({ env: {}, overrides: { model, natsUrl: nats.url, streamReplicas: 3, eventShards: 4 } });
  const S = cfg.eventShards;
  const name = streamName(cfg.stream);

  const setup = await connectNats(cfg.natsUrl, 'test-js3-setup');
  t.teardown(() => setup.close());
  const warnings: string[] = [];
  await new JetStreamEventLog(setup, { ...eventLogOptions(cfg), onWarning: (m) => warnings.push(m) }).ensure();
  const jsm = await setup.jetstreamManager();
  const si = await jsm.streams.info(name);
  t.equal(si.config.num_replicas, 3, 'the stream is created with streamReplicas copies');
  t.same(warnings, [], 'no warning for a stream created as asked');
  await waitFor(async () => ((await jsm.streams.info(name)).cluster?.replicas ?? []).filter((r) => r.current).length === 2, 20_000, 'both followers current', 50);

  // A log asking for another replica count binds the stream as it is, and says so.
  await new JetStreamEventLog(setup, { ...eventLogOptions({ ...cfg, streamReplicas: 1 }), onWarning: (m) => warnings.push(m) }).ensure();
  t.match(warnings[0], /event stream .* exists with replicas 3 \(streamReplicas says 1\).*nats stream edit/, `an existing stream with other settings is reported: ${warnings[0]}`);
  t.equal((await jsm.streams.info(name)).config.num_replicas, 3, 'and keeps its own');

  // The PS ledger and rewind buckets follow streamReplicas too (each is created once per NATS system: check its copies).
  const ledger = new JetStreamLedger(setup, { replicas: 3, onWarning: (m) => warnings.push(m) });
  await ledger.record(model, 0, { epoch: 1, version: 5 });
  t.equal((await (await setup.jetstream().views.kv('fw_ps_ledger')).status()).replicas, 3, 'the ledger bucket has 3 replicas');
  await ledger.deleteModel(model, 1);
  await new JetStreamRewindStore(setup, cfg.streamReplicas).read(model, 0);
  t.equal((await (await setup.jetstream().views.kv(REWIND_BUCKET)).status()).replicas, 3, 'and so has the rewind bucket');

  // The events, packed as ingest packs them: per event shard (hash of the user), PER_MESSAGE a message.
  const messages: { shard: number; id: string; data: Uint8Array; events: number }[] = [];
  let events = 0;
  for await (const batch of onlineRetailEventBatches(DEMO_DATA_PATH, { limit: EVENTS })) {
    const byShard: FlywheelEvent[][] = Array.from({ length: S }, () => []);
    for (const e of batch) byShard[eventShardOf(e.userId, S)].push(e);
    for (let s = 0; s < S; s++) {
      for (let i = 0; i < byShard[s].length; i += PER_MESSAGE) {
        const part = byShard[s].slice(i, i + PER_MESSAGE);
        messages.push({ shard: s, id: `${model}/${messages.length}`, data: encode({ acceptedAtMs: Date.now(), events: part }), events: part.length });
      }
    }
    events += batch.length;
  }
  t.equal(events, EVENTS, `${EVENTS} Online Retail events in ${messages.length} messages`);

  // The publisher is connected to the stream's leader first (so the kill takes both its server
  // and the leader), but knows all three servers.
  const leader = (await jsm.streams.info(name)).cluster!.leader!;
  const victim = nats.indexOf(leader);
  const urls = nats.url.split(',');
  const pub = await connectNats([urls[victim], ...urls.filter((_, i) => i !== victim)].join(','), 'test-js3-pub', { noRandomize: true });
  t.teardown(() => pub.close().catch(() => undefined));
  t.equal(pub.info?.server_name, leader, `the publisher is on ${leader}, the stream's leader`);
  const log = new JetStreamEventLog(pub, eventLogOptions(cfg));

  const acked = new Array<boolean>(messages.length).fill(false);
  const failures = new Map<string, number>();
  let failed = 0;
  let ackedCount = 0;
  let next = 0;
  let killedAt = 0;
  let killing: Promise<void> | undefined;
  let firstAckAfterKill = 0; // of a publish sent after the kill
  let slowestAckMs = 0;
  let newLeaderAfterMs = 0;
  let newLeader = '';
  const watchLeader = async () => {
    // Which server leads the stream now, as the survivors' monitoring says: polled every 50 ms.
    const survivors = [0, 1, 2].filter((i) => i !== victim);
    await waitFor(async () => {
      for (const i of survivors) {
        const l = (await nats.streamInfo(i, name))?.leader;
        if (l && l !== leader) { newLeader = l; return true; }
      }
      return false;
    }, 30_000, 'a new stream leader', 50);
    newLeaderAfterMs = Date.now() - killedAt;
  };
  let watching: Promise<void> | undefined;
  const t0 = Date.now();
  const lane = async () => {
    while (next < messages.length) {
      const i = next++;
      for (;;) {
        const sentAt = Date.now();
        try {
          await log.publish(messages[i].shard, messages[i].data, messages[i].id);
          acked[i] = true;
          ackedCount++;
          slowestAckMs = Math.max(slowestAckMs, Date.now() - sentAt);
          if (killedAt && sentAt > killedAt && !firstAckAfterKill) firstAckAfterKill = Date.now() - killedAt;
          break;
        } catch (err) {
          if (Date.now() - t0 > 60_000) throw new Error(`publishing has not recovered 60 s into the replay: ${(err as Error).message}`);
          failed++;
          const cause = (err as Error).message.replace(/^JetStream publish failed: /, '').slice(0, 80);
          failures.set(cause, (failures.get(cause) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 50)); // a client's retry after a 503
        }
      }
      if (!killing && ackedCount >= messages.length / 3) {
        killedAt = Date.now();
        killing = nats.kill(victim);
        watching = watchLeader();
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const publishMs = Date.now() - t0;
  await killing;
  await watching;
  t.ok(killedAt > 0, `${leader} killed after ${messages.length / 3 | 0} of ${messages.length} messages were acked`);
  t.equal(acked.filter(Boolean).length, messages.length, 'every message was acked in the end (retried until acked)');
  t.not(pub.info?.server_name, leader, `the publisher reconnected to ${pub.info?.server_name}`);

  // Read back through the shards' durable consumers (the workers' path), the killed server still down.
  const got = new Map<string, number>();
  const key = (shard: number, data: Uint8Array) => `${shard}:${Buffer.from(data).toString('base64')}`;
  let read = 0;
  let readEvents = 0;
  // The killed server may also have led the JetStream meta group (API requests time out until
  // the survivors elect another), and each durable consumer is a raft group of its own, whose
  // leader may have been there too. A worker retries through that; so does this reader.
  await nats.waitMetaLeader(30_000);
  const metaLedAfterMs = Date.now() - killedAt;
  const reader = await connectNats(nats.url, 'test-js3-read');
  t.teardown(() => reader.close().catch(() => undefined));
  const readLog = new JetStreamEventLog(reader, eventLogOptions(cfg));
  const readerJsm = await retrying(() => reader.jetstreamManager(), 'a JetStream manager');
  await waitFor(async () => {
    const infos = await Promise.all(Array.from({ length: S }, (_, s) => readerJsm.consumers.info(name, consumerName(cfg.model, s)).catch(() => undefined)));
    return infos.every((i) => i?.cluster?.leader);
  }, 30_000, 'every durable consumer led', 100);
  const consumersLedAfterMs = Date.now() - killedAt;
  const consumers: EventConsumer[] = [];
  try {
    for (let s = 0; s < S; s++) {
      consumers.push(await retrying(() => readLog.consume(s, (m) => {
        const k = key(s, m.data);
        got.set(k, (got.get(k) ?? 0) + 1);
        read++;
        readEvents += (decode(m.data) as EventBatchMessage).events.length;
        m.ack();
      }, 1000), `consumer of shard ${s}`));
    }
    await waitFor(async () => {
      if (read < messages.length) return false;
      const b = await Promise.all(Array.from({ length: S }, (_, s) => readLog.backlog(s).catch(() => undefined)));
      return b.every((x) => x?.pending === 0);
    }, 30_000, 'every message read back', 50);
  } finally {
    for (const c of consumers) await c.stop();
  }

  let lost = 0;
  let twice = 0;
  for (const m of messages) {
    const n = got.get(key(m.shard, m.data)) ?? 0;
    if (n === 0) lost++;
    if (n > 1) twice++;
  }
  const info = await retrying(() => readerJsm.streams.info(name), 'the stream\'s info');
  const figures = {
    events: EVENTS, messages: messages.length, publishMs, killed: leader, newLeader, inFlight: IN_FLIGHT,
    failedPublishes: failed, failuresByCause: Object.fromEntries(failures),
    newLeaderAfterMs, firstAckAfterKillMs: firstAckAfterKill, slowestAckMs, metaLedAfterMs, consumersLedAfterMs, streamMessages: info.state.messages,
  };
  t.comment(JSON.stringify(figures));
  t.equal(lost, 0, `0 acked messages (0 of ${EVENTS} events) lost`);
  t.equal(twice, 0, 'none stored twice (retries carried the same message id)');
  t.equal(readEvents, EVENTS, 'the events read back are the events sent');
  t.equal(info.state.messages, messages.length, 'the stream holds exactly the messages sent');
  t.ok(newLeaderAfterMs > 0 && newLeader !== leader, `${newLeader} took over the stream ${newLeaderAfterMs} ms after the kill; publishing resumed after ${firstAckAfterKill} ms`);
  await readLog.destroy();
});

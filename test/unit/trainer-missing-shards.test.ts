// A group of messages is trained once and pushed in parts, one per PS shard. When one shard's
// part is lost (the shard went down before persisting it) or refused, the messages are
// trained again for that shard only: the other shard had persisted its part. They are not
// nak'ed (a redelivery would be trained into every shard), and the worker that trained them
// finishes them even when their event shard goes to another worker meanwhile. In process
// (memory log, transport and store; the real PS shards and workers): afterwards each shard
// holds every example exactly once (examplesApplied), with a kind whose examples come out of
// the event at once and with one whose source holds them until a label arrives (a window
// rule: the worker keeps one source per event shard, rebuilt by the next holder).
import t, { type Test } from 'tap';
import {
  EmbeddedInfra, encode, encodeReply, loadConfig, mulberry32, ownerOfDense, paramSpecOf, rewindStoreOf, subjects, waitFor,
  type FlywheelConfig, type FlywheelEvent, type Infra, type ShardStore,
} from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { startPs, type RunningPs } from '../../services/ps/service.ts';
import { startWorker, type RunningWorker } from '../../services/worker/service.ts';

const LABELS = {
  types: { kind: 'types', positive: ['buy'] },
  window: { kind: 'window', positive: ['buy'], windowMinutes: 1 },
} as const;

type Fault = 'lost' | 'refused' | 'lost, with a handover' | 'persisted, then lost with the store';

function config(labels: keyof typeof LABELS, fault: Fault): FlywheelConfig {
  const handover = fault === 'lost, with a handover';
  return loadConfig({
    env: {},
    overrides: {
      model: `missing_${labels}`, psShards: 2, workers: handover ? 2 : 1, eventShards: 2,
      settings: { labels: LABELS[labels], fields: ['user', 'item'], buckets: 1 << 10, hidden: [4], embDim: 2, stats: [] },
      ps: { publishIntervalMs: 20 },
      worker: { batchSize: 64, leaseTtlMs: handover ? 600 : 0, ackWaitMs: 20_000, pushTimeoutMs: 1000, metricsIntervalMs: 60_000 },
    },
  });
}

/**
 * 20 events a message, views followed now and then by a buy, 10 s apart: a window rule's
 * labels (1 minute) come within a message, so every step trains some labelled examples.
 */
function messages(n: number, seed: number, t0: number): { shard: number; events: FlywheelEvent[] }[] {
  const rand = mulberry32(seed);
  let ts = t0;
  return Array.from({ length: n }, (_, i) => ({
    shard: i % 2,
    events: Array.from({ length: 20 }, () => {
      const it = Math.floor(rand() * 50);
      return { userId: `u${i % 2}-${Math.floor(rand() * 5)}`, itemId: `i${it}`, type: rand() < 0.3 ? 'buy' : 'view', ts: (ts += 10_000) };
    }),
  }));
}

async function run(t: Test, labels: keyof typeof LABELS, fault: Fault) {
  const cfg = config(labels, fault);
  // Every step has a part for each shard: both own dense tensors (else a step could skip one and the counts differ).
  const spec = paramSpecOf(cfg);
  t.same(new Set(spec.dense.map((d) => ownerOfDense(d.name, 2))), new Set([0, 1]), 'both shards own dense parameters');
  const infra = new EmbeddedInfra(cfg);
  // A shard's store can be made to fail its writes (a shard that dies before persisting, or waits for its store).
  const storeDown = [false, false];
  const storeOf = (k: number) => new Proxy(infra.store, {
    get(o, p) {
      if (p === 'write' && storeDown[k]) return async () => { throw new Error('store down'); };
      const v = Reflect.get(o, p) as unknown;
      return typeof v === 'function' ? v.bind(o) : v;
    },
  }) as ShardStore;
  // The worker's pushes to shard 1 can be refused (as a shard behind the worker's replica would).
  let refusing = false;
  let refusals = 0;
  const wt = infra.forService();
  const transport = new Proxy(wt.transport, {
    get(o, p) {
      if (p === 'request') {
        return async (subject: string, data: Uint8Array, timeoutMs: number) => {
          if (refusing && subject === subjects.push(cfg.model, 1)) {
            refusals++;
            return encodeReply({ ok: false, error: { code: 'FUTURE_VERSION', message: 'refused by the test', retryable: false } });
          }
          return o.request(subject, data, timeoutMs);
        };
      }
      const v = Reflect.get(o, p) as unknown;
      return typeof v === 'function' ? v.bind(o) : v;
    },
  });
  const ps1Infra = (): Infra => ({ ...infra.forService(), store: storeOf(1) });
  const ps0 = await startPs(cfg, 0, { ...infra.forService(), store: storeOf(0) });
  let ps1: RunningPs = await startPs(cfg, 1, ps1Infra());
  const worker = await startWorker(cfg, 0, { ...wt, transport });
  let other: RunningWorker | undefined;
  t.teardown(async () => {
    await other?.stop();
    await worker.stop();
    await ps0.stop();
    await ps1.stop();
  });

  // What every example source makes of the messages, in each event shard's order: the examples each shard must hold.
  const m = resolveModel(cfg);
  const sources = [0, 1].map(() => m.kind.exampleSource(m.settings, cfg.seed + 7));
  let expected = 0;
  const publish = async (msgs: { shard: number; events: FlywheelEvent[] }[]) => {
    for (const x of msgs) {
      expected += sources[x.shard].push(x.events).size;
      await infra.eventLog.publish(x.shard, encode({ acceptedAtMs: Date.now(), events: x.events }));
    }
  };
  const unacked = async () => (await Promise.all([0, 1].map((s) => infra.eventLog.backlog(s)))).reduce((n, b) => n + b.pending + b.ackPending, 0);
  const applied = async (k: number) => (await infra.store.read(cfg.model, k, [], false))?.meta.examplesApplied ?? 0;
  const t0 = Date.UTC(2024, 0, 1);

  await waitFor(async () => worker.trainer.shards.length === 2, 10_000, 'the worker holding both event shards', 20);
  await publish(messages(30, 1, t0));
  await waitFor(async () => (await unacked()) === 0, 20_000, 'the first messages acked', 20);

  if (fault === 'persisted, then lost with the store') {
    // Shard 1 persists the next messages while shard 0 waits for its store: they wait to be
    // acked. Then the store loses everything, shard 1 restarts without them (it asks for the
    // acked range to be trained again: these are not acked, so not in it), and only then does
    // shard 0 persist its part.
    storeDown[0] = true;
    const before = expected;
    await publish(messages(30, 2, t0 + 10_000_000));
    await waitFor(async () => (await applied(1)) >= expected && before < expected && worker.trainer.stepsUnanswered === 0,
      20_000, 'shard 1 persisted the new examples', 20);
    await ps1.stop();
    infra.store.wipe();
    ps1 = await startPs(cfg, 1, ps1Infra());
    await waitFor(async () => worker.replica.shards[1].epoch === ps1.shard.epoch, 10_000, 'the worker seeing shard 1\'s new epoch', 20);
    storeDown[0] = false;
  } else if (fault !== 'refused') {
    // Shard 1 applies the next messages but cannot persist them, then goes down and comes back
    // from its store (a new epoch without them); shard 0 has persisted them.
    storeDown[1] = true;
    const before = expected;
    await publish(messages(30, 2, t0 + 10_000_000));
    // Every push answered (each step waits in the ack tracker) and shard 0's part persisted.
    await waitFor(async () => (await applied(0)) >= expected && before < expected && worker.trainer.stepsUnanswered === 0,
      20_000, 'shard 0 persisted the new examples', 20);
    await ps1.stop();
    storeDown[1] = false;
    if (fault === 'lost, with a handover') {
      // A second worker joins: the first gives it an event shard, whose messages it still waits on.
      other = await startWorker(cfg, 1, infra.forService());
      await waitFor(async () => other!.trainer.shards.length === 1 && worker.trainer.shards.length === 1, 10_000, 'an event shard handed over', 20);
    }
    ps1 = await startPs(cfg, 1, ps1Infra());
  } else {
    refusing = true;
    await publish(messages(30, 2, t0 + 10_000_000));
    await waitFor(async () => (await applied(0)) >= expected && refusals > 0, 20_000, 'shard 0 persisted the new examples, shard 1 refused them', 20);
    refusing = false;
  }
  await publish(messages(20, 3, t0 + 20_000_000));
  await waitFor(async () => (await unacked()) === 0, 30_000, 'every message acked', 20);
  if (fault === 'persisted, then lost with the store') {
    // The acked range the store lost is trained again into shard 1 by the worker's rewind.
    const rewinds = rewindStoreOf(infra.forService());
    await waitFor(async () => { const r = await rewinds.read(cfg.model, 1); return !!r && r.ranges.every((x) => x.done === x.to); }, 20_000, 'the lost range trained again', 50);
  }
  await waitFor(async () => (await applied(0)) === expected && (await applied(1)) === expected, 5000, 'the last updates persisted', 20).catch(() => undefined);

  const tr = worker.trainer;
  t.comment(JSON.stringify({
    labels, fault, expected, shard0: await applied(0), shard1: await applied(1), examplesForMissingShards: tr.examplesForMissingShards,
    naked: tr.naked, otherWorker: other && { examplesForMissingShards: other.trainer.examplesForMissingShards, naked: other.trainer.naked }, refusals,
  }));
  t.ok(tr.examplesForMissingShards > 0, `examples trained again for the shard that lacked them only (${tr.examplesForMissingShards})`);
  t.equal(tr.naked, 0, 'none nak\'ed: no redelivery trains them into every shard');
  if (other) {
    t.equal(other.trainer.examplesForMissingShards, 0, 'the worker that took an event shard over trained none of them again');
    t.equal(other.trainer.naked, 0, 'nor nak\'ed any');
  }
  t.equal(await applied(0), expected, `shard 0${fault.startsWith('persisted') ? '' : ', which had persisted them,'} holds each example once`);
  // The steps it lost or refused were trained again for it, the same examples: not the messages
  // they came from (whose other steps it may hold), nor the steps it took.
  t.equal(await applied(1), expected, `shard 1, which ${fault === 'refused' ? 'refused' : 'lost'} some, holds each example once too`);
  if (fault === 'persisted, then lost with the store') t.ok(worker.rewinder!.stats.events > 0, `the rewind trained the acked range again (${worker.rewinder!.stats.events} events)`);
  t.equal(tr.pendingMessages, 0, 'nothing is left waiting');
}

for (const labels of ['types', 'window'] as const) {
  for (const fault of ['lost', 'refused', 'lost, with a handover', 'persisted, then lost with the store'] as const) {
    t.test(`${labels} labels, a part ${fault}: trained again for that shard only`, (t) => run(t, labels, fault));
  }
}

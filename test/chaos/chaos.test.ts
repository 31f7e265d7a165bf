// Fault scenarios on real processes over private NATS and Redis servers: each injects one
// fault while a stream is replayed and checks that nothing acknowledged is lost.
import t from 'tap';
import { runChaos } from '../../tools/chaos/run.ts';
import { SCENARIOS, type PredictStatuses } from '../../tools/chaos/scenarios.ts';

const EVENTS = Number(process.env.FLYWHEEL_CHAOS_EVENTS ?? 20_000);

for (const scenario of Object.keys(SCENARIOS)) {
  t.test(scenario, async (t) => {
    const r = await runChaos(scenario, { events: EVENTS });
    t.comment(JSON.stringify(r));
    t.equal(r.eventsPublished, EVENTS, 'every event published');
    t.equal(r.eventsLost, 0, 'no event lost: every message acked after its update was persisted');
    t.equal(r.eventsTrainedAtLeastOnce, EVENTS, 'every event trained at least once');
    // A killed worker's last acks may miss its last report, so this count is only a cross-check there.
    if (scenario !== 'worker-kill') t.ok(r.eventsAckedIncludingRetrains >= EVENTS, `acked events incl. retrains: ${r.eventsAckedIncludingRetrains}`);
    t.ok(r.recoveryMs !== null, `training resumed ${r.recoveryMs} ms after the fault`);
    t.ok(r.aucLastWindow > 0.9, `still learning the planted rule (last-window AUC ${r.aucLastWindow})`);
    if (scenario === 'worker-kill') {
      t.ok(r.details.killedWorker, 'the killed worker held shards');
      t.notOk((r.details.holdersAfterKill as string[]).includes(r.details.killedWorker as string), 'none of them is still held by it');
      t.ok((r.details.takeoverMs as number) < 30_000, `shards taken over in ${r.details.takeoverMs} ms (lease TTL 4 s)`);
      t.equal(new Set((r.details.holdersAfterRebalance as (string | null)[]).filter(Boolean)).size, 2, 'a new worker got its share');
    }
    if (scenario === 'ps-redis-lost') {
      t.equal(r.details.storeLostCounted, 1, 'the restarted shard saw that its store had lost what it published, and counted it');
      // The acked range its store lost was trained again, into it alone: it holds every event's update.
      t.ok(r.eventsRetrainedByRewind > 0, `${r.eventsRetrainedByRewind} acked events trained again, done ${r.details.rewindDoneMs} ms after the restart began`);
      t.ok(r.psExamplesApplied[1] >= EVENTS, `the lost shard's examples cover every event (${r.psExamplesApplied[1]} of ${EVENTS})`);
    }
    if (scenario === 'ps-kill' || scenario === 'ps-redis-lost') {
      // What shard 1 lost (or refused) is trained again into it alone, step by step, and not
      // nak'ed: no shard holds an event twice (measured: exactly 20,000 each in 4 and 10 runs;
      // before, +0.8k-6.2k on each shard), and the lost one holds every event.
      t.equal(r.eventsNaked, 0, 'nothing nak\'ed and redelivered into every shard');
      t.equal(r.psExamplesApplied[0], EVENTS, `shard 0 holds every event once (${r.psExamplesApplied[0]} of ${EVENTS})`);
      t.equal(r.psExamplesApplied[1], EVENTS, `shard 1 holds every event once (${r.psExamplesApplied[1]} of ${EVENTS})`);
      const p = r.details.predictStatuses as PredictStatuses;
      const other = Object.keys(p.counts).filter((s) => s !== '200' && s !== '503');
      t.same(other, [], `inference answered only 200 and 503 across the fault (${JSON.stringify(p.counts)})`);
      t.equal(p.unavailableWithoutReason, 0, `every 503 said why (${JSON.stringify(p.unavailableReasons)})`);
      t.ok((p.counts['200'] ?? 0) > 0, 'inference kept answering');
    }
    if (scenario === 'inference-restart') {
      const w = r.details.whileShardDown as { predictStatus: number; shardQuietMs: (number | null)[] };
      t.equal(w.predictStatus, 200, 'inference serves while a shard is down');
      t.ok((w.shardQuietMs[0] ?? 0) > 1500, `and says how quiet that shard is (${w.shardQuietMs[0]} ms)`);
    }
  });
}

import { Counter, Gauge, Histogram, type Registry } from '../../shared/index.ts';

export function workerMetrics(r: Registry) {
  return {
    eventsTrained: new Counter({ name: 'fw_worker_events_trained_total', help: 'Events whose update the PS persisted (acked)', registers: [r] }),
    eventsRetried: new Counter({ name: 'fw_worker_events_retried_total', help: 'Events nak\'ed for redelivery (update lost or rejected)', registers: [r] }),
    ownWriteWaitTimeouts: new Counter({ name: 'fw_worker_own_write_wait_timeouts_total', help: 'steps that went on after pushTimeoutMs with the replica still further behind this worker\'s last push than maxReplicaLag (0 with readOwnWrites)', registers: [r] }),
    replicaLagWaits: new Counter({ name: 'fw_worker_replica_lag_waits_total', help: 'steps that waited for the replica to come within maxReplicaLag versions (0 with readOwnWrites) of this worker\'s last push', registers: [r] }),
    examples: new Counter({ name: 'fw_worker_examples_total', help: 'Examples trained (with sampled negatives)', registers: [r] }),
    badMessages: new Counter({ name: 'fw_worker_bad_messages_total', help: 'Malformed event messages dropped', registers: [r] }),
    redeliveredInState: new Counter({ name: 'fw_worker_redelivered_in_state_total', help: 'Redelivered messages a per-shard source already holds: not pushed into it again (their units would count twice); the examples they made are trained again unless acked', registers: [r] }),
    pushErrors: new Counter({ name: 'fw_worker_push_errors_total', help: 'Pushes rejected by a PS shard, by code', labelNames: ['code'], registers: [r] }),
    pushRtt: new Histogram({ name: 'fw_worker_push_rtt_seconds', help: 'Push round trip to a PS shard', buckets: [5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.05, 0.2, 1, 2, 5], registers: [r] }),
    stepSeconds: new Histogram({ name: 'fw_worker_step_seconds', help: 'Forward + backward of one batch', buckets: [1e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.5], registers: [r] }),
    sourceCounts: new Gauge({ name: 'fw_worker_source_count', help: 'What the example source has seen, by count (e.g. risk: pending, joined, expired, dropped, unmatched, badLabels), over this worker\'s event shards', labelNames: ['count'], registers: [r] }),
    rewindEvents: new Counter({ name: 'fw_worker_rewind_events_total', help: 'Events trained again into a PS shard whose store lost their updates (a rewind of the acked range)', registers: [r] }),
    rewindUnretained: new Counter({ name: 'fw_worker_rewind_unretained_total', help: 'Lost ranges the stream no longer held all of (their expired events are not trained again)', registers: [r] }),
    examplesForMissingShards: new Counter({ name: 'fw_worker_examples_for_missing_shards_total', help: 'Examples trained again for the PS shards that lost or refused their part of a step only (the others had persisted it; the messages are not nak\'ed)', registers: [r] }),
    pendingAckMessages: new Gauge({ name: 'fw_worker_pending_ack_messages', help: 'Messages trained, waiting for the PS to persist', registers: [r] }),
  };
}
export type WorkerMetrics = ReturnType<typeof workerMetrics>;

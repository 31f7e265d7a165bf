import { Counter, Gauge, Histogram, type Registry } from '../../shared/index.ts';

export function psMetrics(r: Registry) {
  return {
    pushes: new Counter({ name: 'fw_ps_pushes_total', help: 'Gradient pushes by result (applied, duplicate, or the error code)', labelNames: ['result'], registers: [r] }),
    examples: new Counter({ name: 'fw_ps_examples_total', help: 'Examples behind the applied pushes', registers: [r] }),
    version: new Gauge({ name: 'fw_ps_version', help: 'Current version of this shard', registers: [r] }),
    persistedVersion: new Gauge({ name: 'fw_ps_persisted_version', help: 'Newest version written to the store', registers: [r] }),
    mailbox: new Gauge({ name: 'fw_ps_mailbox_pending', help: 'Messages waiting in the shard mailbox', registers: [r] }),
    staleness: new Histogram({ name: 'fw_ps_staleness_versions', help: 'version - baseVersion of each push', buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128], registers: [r] }),
    clipped: new Counter({ name: 'fw_ps_clipped_total', help: 'Pushes scaled down by the gradient norm clip', registers: [r] }),
    pushRows: new Histogram({ name: 'fw_ps_push_rows', help: 'Sparse rows in each applied push (every table)', buckets: [10, 100, 300, 1000, 3000, 10000, 30000], registers: [r] }),
    applySeconds: new Histogram({ name: 'fw_ps_apply_seconds', help: 'Time to apply one push', buckets: [1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.02, 0.1], registers: [r] }),
    pushLatency: new Histogram({ name: 'fw_ps_push_queue_seconds', help: 'Receipt to applied, per push', buckets: [1e-4, 1e-3, 5e-3, 0.02, 0.1, 0.5, 2], registers: [r] }),
    publishSeconds: new Histogram({ name: 'fw_ps_publish_seconds', help: 'Store write + broadcast of one delta', buckets: [1e-3, 5e-3, 0.02, 0.1, 0.5, 2], registers: [r] }),
    deltaBytes: new Histogram({ name: 'fw_ps_delta_bytes', help: 'Encoded size of each delta, by subject: weights (readers) or state (every slot)', labelNames: ['subject'], buckets: [1e3, 1e4, 1e5, 1e6, 1e7], registers: [r] }),
    storeErrors: new Counter({ name: 'fw_ps_store_errors_total', help: 'Failed store writes', registers: [r] }),
    refused: new Counter({ name: 'fw_ps_refused_total', help: 'Pushes refused because the mailbox was full', registers: [r] }),
    lrFactor: new Gauge({ name: 'fw_ps_lr_factor', help: 'Learning-rate factor set by the validation gate', registers: [r] }),
    restores: new Counter({ name: 'fw_ps_restores_total', help: 'Rollbacks of the weights to a validated checkpoint', registers: [r] }),
    storeLost: new Counter({ name: 'fw_ps_store_lost_total', help: 'Starts that found the store behind the version this shard had published (its updates since are gone)', registers: [r] }),
    ledgerErrors: new Counter({ name: 'fw_ps_ledger_errors_total', help: 'Failed reads or writes of the shard ledger in JetStream', registers: [r] }),
    rowsForgotten: new Counter({ name: 'fw_ps_rows_forgotten_total', help: 'Rows removed because their user was forgotten (DELETE /v1/users/{id})', registers: [r] }),
    rowsNotAdmitted: new Counter({ name: 'fw_ps_rows_not_admitted_total', help: 'Gradient rows dropped because their id had not come in ps.rows.admitAfter pushes yet', registers: [r] }),
    rowsEvicted: new Counter({ name: 'fw_ps_rows_evicted_total', help: 'Rows evicted, by reason: ttl (unused for ps.rows.ttlMs) or budget (ps.rows.budgetBytes)', labelNames: ['reason'], registers: [r] }),
    overBudget: new Counter({ name: 'fw_ps_over_budget_total', help: 'Pushes whose new rows did not fit the budget even after eviction (the tables grew past it)', registers: [r] }),
    sparseRows: new Gauge({ name: 'fw_ps_sparse_rows', help: 'Rows the sparse tables of this shard hold', registers: [r] }),
    sparseBytes: new Gauge({ name: 'fw_ps_sparse_bytes', help: 'Bytes the sparse tables of this shard hold (weights, slots, index, bookkeeping)', registers: [r] }),
    restarts: new Counter({ name: 'fw_ps_restarts_total', help: 'Supervised restarts of the shard actor', registers: [r] }),
  };
}
export type PsMetrics = ReturnType<typeof psMetrics>;

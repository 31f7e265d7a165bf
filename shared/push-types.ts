// The gradient push's shape, apart from shared/protocol.ts so that the hand-written encoder
// (push-encode.ts) and the protocol can both import it without an import cycle.
export interface DenseGrad { name: string; values: Float32Array }
export interface SparseGrad { table: string; rows: Int32Array; grads: Float32Array }

/** A worker's gradient for one PS shard. */
export interface GradientPush {
  worker: string;
  /** Per-worker sequence number: (worker, seq) is applied at most once. */
  seq: number;
  /** The shard version the worker's replica had when it computed the gradient. */
  baseVersion: number;
  dense: DenseGrad[];
  sparse: SparseGrad[];
  /** Examples behind this gradient. */
  examples: number;
  /** Accept time (ms) of the newest / mean event in the batch, for freshness. */
  newestAcceptedAtMs: number;
  meanAcceptedAtMs: number;
  /** Event time (ms, integer) of the newest event in the batch: the time counter tables decay
   *  to (shared/update-rules/counter.ts). Optional; without it counters add undecayed. */
  eventTimeMs?: number;
}

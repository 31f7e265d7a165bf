// The parameter store seam: Redis in production, a Map in the embedded mode and unit tests.
// A shard writes the rows and tensors changed since its last publish together with the new
// version in one transaction, so a reader never sees weights without their version.

export interface DenseState { name: string; weights: Float32Array; slot?: Float32Array }
export interface RowsState {
  table: string;
  rows: Int32Array;
  weights: Float32Array;
  slot?: Float32Array;
  /** Rows the shard evicted (ps.rows): deleted from the store before `rows` are written. */
  removed?: Int32Array;
}

export interface ShardMeta {
  version: number;
  /** Incarnation of the shard: bumped at every start, so a worker can tell a restarted shard. */
  epoch: number;
  /** Accept time of the newest event whose gradient this version contains (ms), for freshness. */
  newestAcceptedAtMs: number;
  /** Examples behind every push applied up to this version (redeliveries count again). */
  examplesApplied?: number;
  /** The (worker, seq) pushes already applied, encoded by the shard: survives restarts. */
  dedupe?: Uint8Array;
}

export interface ShardWrite {
  meta: ShardMeta;
  dense: DenseState[];
  sparse: RowsState[];
  /** Replace everything the shard had stored (a full snapshot), instead of merging. */
  full: boolean;
}

export interface ShardSnapshot {
  meta: ShardMeta;
  dense: DenseState[];
  sparse: RowsState[];
}

export interface WriteResult {
  /** True when the store had lost this shard's state before this write (e.g. Redis restarted
   *  empty): the caller then writes a full snapshot. */
  storeWasEmpty: boolean;
}

export type StoreDurability = 'durable' | 'snapshots' | 'volatile' | 'unknown';

export interface ShardStore {
  write(model: string, shard: number, w: ShardWrite): Promise<WriteResult>;
  /** Reads a shard's snapshot atomically; withSlots also reads the optimizer slots. */
  read(model: string, shard: number, tables: string[], withSlots: boolean): Promise<ShardSnapshot | null>;
  /**
   * Increments and returns the shard's epoch counter (kept apart from the snapshot), never
   * below `atLeast`: a store that lost its counter must not hand out an epoch again.
   */
  nextEpoch(model: string, shard: number, atLeast?: number): Promise<number>;
  /**
   * Whether the store keeps what it acknowledged across its own restart: 'durable' (append-only
   * file), 'snapshots' (periodic snapshots: keeps something, may lose the last minutes),
   * 'volatile' (nothing), 'unknown' (the server does not say, e.g. CONFIG is disabled).
   */
  durability(): Promise<{ level: StoreDurability; detail: string }>;
  /** Whether the shard's snapshot exists (an idle shard checks that its store still has it). */
  hasSnapshot(model: string, shard: number): Promise<boolean>;
  /** Deletes every key of a model (tests, `--fresh` demo runs). */
  deleteModel(model: string, shards: number, tables: string[]): Promise<void>;
  close(): Promise<void>;
}

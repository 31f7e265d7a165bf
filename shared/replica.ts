// A read-only copy of the whole model, kept current from the shards' weight deltas. Workers
// train against it and inference nodes serve from it. It loads a shard's snapshot from the
// store, applies that shard's deltas in order, and when one is missing (a gap, or a restarted
// shard) it resyncs that shard from the store while buffering what arrives meanwhile.
// By default it keeps the slots readers need (a counter's last-update time) and follows the
// weights subject; with `slots: 'full'` it keeps every optimizer slot and follows the state
// subject, whose deltas carry them: the validator's, so that its checkpoints are the whole
// training state.
import type { CheckpointBlob } from './checkpoint.ts';
import { BadMessageError } from './errors.ts';
import { HeldParams, type SlotsKept } from './held-params.ts';
import { ownerOfDense, ownerOfRow, tableHash, type ParamSpec } from './param-spec.ts';
import { parseDelta, subjects, type WeightDelta } from './protocol.ts';
import type { ShardStore } from './store/types.ts';
import type { Subscription, Transport } from './transport/types.ts';
import type { UpdaterConfig } from './update-rules/updater.ts';

export interface ShardView {
  version: number;
  epoch: number;
  epochStartVersion: number;
  /** The epoch whose snapshot this shard's epoch restored (see WeightDelta.restoredEpoch). */
  restoredEpoch: number;
  persistedVersion: number;
  newestAcceptedAtMs: number;
  /** When the last delta of this shard arrived here (0: never): a shard that is down goes quiet. */
  lastDeltaAtMs: number;
}

export type DeltaOutcome = 'applied' | 'old' | 'gap';

export interface ReplicaOptions {
  /** Deltas buffered per shard while it resyncs; past this the resync starts over. Default 256. */
  maxPendingDeltas?: number;
  onDelta?: (d: WeightDelta, outcome: DeltaOutcome) => void;
  onError?: (err: unknown) => void;
  /** Which optimizer slots to keep: 'readable' (default) or 'full' (needs `ps`). */
  slots?: SlotsKept;
  /** The PS settings (the dense rule): required for 'full'. */
  ps?: UpdaterConfig;
}

export class Replica {
  readonly shards: ShardView[] = [];
  /** The values and kept slots (FrozenWeights.fromReplica copies them). */
  readonly held: HeldParams;
  private readonly tableHashes = new Map<string, number>();
  private resyncing: (WeightDelta[] | undefined)[] = [];
  private sub?: Subscription;
  /** Counters: deltas applied, gaps, resyncs, bad deltas, rows dropped by tombstones. */
  readonly stats = { applied: 0, old: 0, gaps: 0, resyncs: 0, bad: 0, removed: 0 };
  /** Shards that evict rows: a resync drops their rows first, since the snapshot lacks the evicted ones. */
  private readonly sawTombstones: boolean[] = [];

  constructor(readonly spec: ParamSpec, readonly shardCount: number, private readonly store: ShardStore, private readonly opts: ReplicaOptions = {}) {
    this.held = new HeldParams(spec, opts.slots ?? 'readable', opts.ps);
    for (const t of spec.tables) this.tableHashes.set(t.name, tableHash(t.name));
    for (let k = 0; k < shardCount; k++) {
      this.shards.push({ version: 0, epoch: 0, epochStartVersion: 0, restoredEpoch: 0, persistedVersion: 0, newestAcceptedAtMs: 0, lastDeltaAtMs: 0 });
      this.resyncing.push(undefined);
    }
  }

  /** The PS settings the replica resolved the dense rule with, when given. */
  get ps(): UpdaterConfig | undefined {
    return this.opts.ps;
  }

  versions(): number[] {
    return this.shards.map((s) => s.version);
  }

  /**
   * Shards this replica has no weights from yet: neither a snapshot nor a delta. Version 0 does
   * not say so (a shard nobody pushed to is at 0 with its initial weights); epoch 0 does, as a
   * shard's epochs start at 1.
   */
  shardsWithoutWeights(): number[] {
    const out: number[] = [];
    this.shards.forEach((s, k) => { if (s.epoch === 0) out.push(k); });
    return out;
  }

  /** Readiness of a node that answers from this replica: true, or why not. */
  readiness(): true | string {
    const missing = this.shardsWithoutWeights();
    return missing.length ? `no weights yet from PS shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${this.shardCount}` : true;
  }

  /** WeightSource for the model: the current values of a dense tensor (do not modify). */
  dense(name: string): Float32Array {
    return this.held.tensor(name);
  }

  /** WeightSource for the model: copies rows (initial values where never updated) into out. */
  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    this.held.readRows(table, rowIds, out);
  }

  heldRows(table: string): Int32Array {
    return this.held.heldRows(table);
  }

  /**
   * Drops a forgotten user's rows at once, before the PS's tombstones arrive; a delta older
   * than the removal may bring them back until those tombstones follow it.
   */
  removeRows(tables: readonly { table: string; rows: Int32Array | readonly number[] }[]): number {
    return this.held.removeRows(tables);
  }

  /** WeightSource: slot `slot` of rows of a table whose slots this replica keeps. */
  readSlots(table: string, slot: string, rowIds: Int32Array, out: Float32Array): void {
    this.held.readSlots(table, slot, rowIds, out);
  }

  /** WeightSource: rows of a counter table decayed to `nowMs` (event time, ms). */
  readAt(table: string, rowIds: Int32Array, nowMs: number, out: Float32Array): void {
    this.held.readAt(table, rowIds, nowMs, out);
  }

  /** Loads every shard's snapshot, then follows the deltas. */
  async start(transport: Transport, model: string): Promise<void> {
    const subject = this.held.kept === 'full' ? subjects.state(model, '*') : subjects.weights(model, '*');
    this.sub = transport.subscribe(subject, (m) => {
      let d: WeightDelta;
      try {
        d = parseDelta(m.data);
        if (d.shard < 0 || d.shard >= this.shardCount) throw new BadMessageError(`delta for unknown shard ${d.shard}`);
      } catch (err) {
        this.stats.bad++;
        this.opts.onError?.(err);
        return;
      }
      this.receive(d);
    });
    await Promise.all(this.shards.map((_, k) => this.resync(k)));
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  /** Takes one delta: applies it, ignores it as old, or starts a resync on a gap. */
  receive(d: WeightDelta): DeltaOutcome {
    const pending = this.resyncing[d.shard];
    if (pending) {
      if (pending.length >= (this.opts.maxPendingDeltas ?? 256)) pending.splice(0, pending.length, d);
      else pending.push(d);
      return 'gap';
    }
    this.shards[d.shard].lastDeltaAtMs = Date.now();
    const outcome = this.applyDelta(d);
    if (outcome === 'gap') void this.resync(d.shard, [d]);
    this.opts.onDelta?.(d, outcome);
    return outcome;
  }

  /** Applies a delta if it follows this replica's version of its shard. Exposed for tests. */
  applyDelta(d: WeightDelta): DeltaOutcome {
    const s = this.shards[d.shard];
    if (!s) {
      this.stats.bad++;
      this.opts.onError?.(new BadMessageError(`delta for unknown shard ${d.shard}`));
      return 'old';
    }
    if (d.epoch === s.epoch && d.toVersion <= s.version) {
      this.stats.old++;
      return 'old';
    }
    // A new epoch continues this replica's values only if it restored the snapshot of the epoch
    // the replica follows, at the replica's version; anything else (a store that lost the
    // shard's state, epochs missed) is a gap: the resync drops values of the old incarnation.
    const continues = d.epoch === s.epoch || (d.restoredEpoch === s.epoch && d.epochStartVersion === s.version);
    if (d.fromVersion !== s.version || !continues) {
      this.stats.gaps++;
      return 'gap';
    }
    const err = this.checkDelta(d);
    if (err) {
      this.stats.bad++;
      this.opts.onError?.(new BadMessageError(err));
      return 'old';
    }
    for (const x of d.dense) this.held.setDense(x.name, x.values, x.slot);
    for (const x of d.sparse) {
      if (x.removed?.length) {
        this.held.tables.get(x.table)!.removeRows(x.removed);
        this.sawTombstones[d.shard] = true;
        this.stats.removed += x.removed.length;
      }
      this.held.setRows(x.table, x.rows, x.values, x.slot);
    }
    s.version = d.toVersion;
    s.epoch = d.epoch;
    s.epochStartVersion = d.epochStartVersion;
    s.restoredEpoch = d.restoredEpoch;
    s.persistedVersion = d.persistedVersion;
    s.newestAcceptedAtMs = Math.max(s.newestAcceptedAtMs, d.newestAcceptedAtMs);
    this.stats.applied++;
    return 'applied';
  }

  private checkDelta(d: WeightDelta): string | undefined {
    for (const x of d.dense) {
      const cur = this.held.dense.get(x.name);
      if (!cur) return `delta names unknown dense tensor ${x.name}`;
      if (cur.length !== x.values.length) return `delta tensor ${x.name} has ${x.values.length} values, expected ${cur.length}`;
      const e = this.held.slotError(x.name, x.slot);
      if (e) return `delta ${e}`;
    }
    for (const x of d.sparse) {
      const a = this.held.tables.get(x.table);
      if (!a) return `delta names unknown table ${x.table}`;
      if (x.values.length !== x.rows.length * a.dim) return `delta table ${x.table} has a wrong number of values`;
      for (let i = 0; i < x.rows.length; i++) if (x.rows[i] < 0 || x.rows[i] >= a.table.rows) return `delta row id out of range in ${x.table}`;
      if (x.removed) for (let i = 0; i < x.removed.length; i++) if (x.removed[i] < 0 || x.removed[i] >= a.table.rows) return `delta tombstone row id out of range in ${x.table}`;
      const e = this.held.slotError(x.table, x.slot, x.rows.length);
      if (e) return `delta ${e}`;
    }
    return undefined;
  }

  /** Reloads one shard from the store, then applies the deltas that arrived meanwhile. */
  async resync(k: number, initial: WeightDelta[] = []): Promise<void> {
    if (this.resyncing[k]) return;
    const buffer = [...initial];
    this.resyncing[k] = buffer;
    this.stats.resyncs++;
    let snap;
    try {
      const withSlots = this.spec.dense.some((d) => this.held.keepsSlotsOf(d.name)) || this.spec.tables.some((t) => this.held.keepsSlotsOf(t.name));
      snap = await this.store.read(this.spec.model, k, this.spec.tables.map((t) => t.name), withSlots);
    } catch (err) {
      this.resyncing[k] = undefined;
      this.opts.onError?.(err);
      throw err;
    }
    const s = this.shards[k];
    const meta = snap?.meta ?? { version: 0, epoch: 0, newestAcceptedAtMs: 0 };
    // Values newer than the snapshot may come from a dead shard incarnation: drop them.
    if (meta.version < s.version || meta.epoch !== s.epoch) this.resetShard(k);
    else if (this.sawTombstones[k]) this.dropShardRows(k);
    if (snap) {
      // The store writes what the shard's rules keep, so its slots are the ones kept here
      // (a slot blob of another width, from a changed rule, is reset by setRows).
      for (const x of snap.dense) if (this.held.dense.get(x.name)?.length === x.weights.length) this.held.setDense(x.name, x.weights, x.slot);
      for (const x of snap.sparse) if (this.held.tables.has(x.table)) this.held.setRows(x.table, x.rows, x.weights, x.slot);
    }
    // A snapshot does not say which epoch its writer restored: unknown reads as none, so an
    // ack waiting on an older epoch is settled as lost (trained again), never wrongly acked.
    if (meta.epoch !== s.epoch) s.restoredEpoch = 0;
    s.version = s.persistedVersion = meta.version;
    s.epoch = meta.epoch;
    s.newestAcceptedAtMs = meta.newestAcceptedAtMs;
    // Loading the snapshot is news from the shard too: quiet time counts from here.
    s.lastDeltaAtMs = Date.now();
    this.resyncing[k] = undefined;
    buffer.sort((a, b) => a.toVersion - b.toVersion);
    for (const d of buffer) {
      if (d.epoch === s.epoch && d.fromVersion < s.version && d.toVersion > s.version) {
        // Overlaps the snapshot: its absolute values are newer than the snapshot's, so it
        // brings the shard exactly to d.toVersion.
        this.receive({ ...d, fromVersion: s.version });
      } else {
        this.receive(d);
      }
    }
  }

  /** Puts every value a shard owns back to its initial value (before loading its snapshot). */
  private resetShard(k: number): void {
    for (const d of this.spec.dense) if (ownerOfDense(d.name, this.shardCount) === k) this.held.resetDense(d.name);
    for (const [name, a] of this.held.tables) {
      const h = this.tableHashes.get(name)!;
      for (let s = 0; s < a.count; s++) if (ownerOfRow(h, a.rowIds[s], this.shardCount) === k) this.held.resetRow(a, s);
    }
  }

  /** Removes every row a shard owns (a snapshot then brings back the ones it still holds). */
  private dropShardRows(k: number): void {
    for (const [name, a] of this.held.tables) {
      const h = this.tableHashes.get(name)!;
      const slots: number[] = [];
      for (let s = a.count - 1; s >= 0; s--) if (ownerOfRow(h, a.rowIds[s], this.shardCount) === k) slots.push(s);
      a.removeSlots(slots);
    }
  }

  /** A copy of every value and kept slot the replica holds, at its current versions. */
  checkpoint(): CheckpointBlob {
    return this.held.toBlob(this.versions());
  }

  /** Bytes held by the replica's arrays. */
  bytes(): number {
    return this.held.bytes();
  }
}

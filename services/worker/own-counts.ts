// What a worker reads: its replica, plus the increments it pushed to counter tables that the
// replica does not hold yet. A counter's update is w += g, so the worker knows exactly what
// each of its pushes adds; without this a step read the statistics as of a publish and a push
// or two before, and missed the last batches of a user who rates 200 movies in one sitting
// (MovieLens through the services, last 70%: 0.689 AUC against the in-process twin's 0.734;
// docs/ARCHITECTURE.md, "Staleness"). Learned tables still lag as before: their updates are
// the PS's, not the worker's, to make.
//
// A push's increments are held from the moment it is sent until the replica holds a version of
// its shard at or past the one the push made (same epoch), and dropped if the push is refused
// or the shard restarts (then whether it survived is for the store and the rewind to say).
// Increments are added undecayed: a counter with a half-life decays them by at most a few
// batches' event time.
import type { ParamSpec, SparseGrad } from '../../shared/index.ts';
import type { ShardView } from '../../shared/replica.ts';
import type { WeightSource } from '../../shared/models/types.ts';

interface Held {
  shard: number;
  seq: number;
  /** The (epoch, version) the push made; version 0 until it is answered. */
  epoch: number;
  version: number;
  tables: Map<string, { rows: Int32Array; adds: Float32Array }>;
}

export class OwnCounts implements WeightSource {
  private held: Held[] = [];
  private readonly counters: Set<string>;

  constructor(private readonly replica: WeightSource & { readonly shards: readonly ShardView[] }, spec: ParamSpec) {
    this.counters = new Set(spec.tables.filter((t) => (typeof t.optimizer === 'string' ? t.optimizer : t.optimizer?.rule) === 'counter').map((t) => t.name));
  }

  /** Pushes whose increments are still added to what the replica holds. */
  get pending(): number {
    return this.held.length;
  }

  /** A push to shard k is being sent: its counter increments are read from now on (copied: the caller may reuse its arrays). */
  sent(shard: number, seq: number, sparse: readonly SparseGrad[]): void {
    if (this.counters.size === 0) return;
    let tables: Held['tables'] | undefined;
    for (const s of sparse) {
      if (!this.counters.has(s.table) || s.rows.length === 0) continue;
      (tables ??= new Map()).set(s.table, { rows: s.rows.slice(), adds: s.grads.slice() });
    }
    if (tables && !this.held.some((h) => h.shard === shard && h.seq === seq)) this.held.push({ shard, seq, epoch: 0, version: 0, tables });
  }

  /** The push made (epoch, version) on shard k. */
  answered(shard: number, seq: number, epoch: number, version: number): void {
    const h = this.held.find((x) => x.shard === shard && x.seq === seq);
    if (!h) return;
    h.epoch = epoch;
    h.version = version;
    this.replicaMoved(shard);
  }

  /** The push was refused or given up on: the shard does not hold it. */
  dropped(shard: number, seq: number): void {
    this.held = this.held.filter((x) => x.shard !== shard || x.seq !== seq);
  }

  /** The replica applied a delta of shard k: the increments it now holds are no longer added. */
  replicaMoved(shard: number): void {
    const v = this.replica.shards[shard];
    if (!v) return;
    this.held = this.held.filter((h) => h.shard !== shard || h.version === 0 || (h.epoch === v.epoch && v.version < h.version) || h.epoch > v.epoch);
  }

  dense(name: string): Float32Array {
    return this.replica.dense(name);
  }

  readRows(table: string, rowIds: Int32Array, out: Float32Array): void {
    this.replica.readRows(table, rowIds, out);
    this.addHeld(table, rowIds, out);
  }

  readAt(table: string, rowIds: Int32Array, nowMs: number, out: Float32Array): void {
    if (!this.replica.readAt) throw new Error('the replica cannot decay counters');
    this.replica.readAt(table, rowIds, nowMs, out);
    this.addHeld(table, rowIds, out);
  }

  readSlots(table: string, slot: string, rowIds: Int32Array, out: Float32Array): void {
    if (!this.replica.readSlots) throw new Error('the replica keeps no slots');
    this.replica.readSlots(table, slot, rowIds, out);
  }

  heldRows(table: string): Int32Array {
    if (!this.replica.heldRows) throw new Error('the replica lists no rows');
    return this.replica.heldRows(table);
  }

  private addHeld(table: string, rowIds: Int32Array, out: Float32Array): void {
    if (this.held.length === 0 || !this.counters.has(table) || rowIds.length === 0) return;
    const dim = out.length / rowIds.length;
    let at: Map<number, number[]> | undefined;
    for (const h of this.held) {
      const t = h.tables.get(table);
      if (!t) continue;
      if (!at) {
        at = new Map();
        for (let i = 0; i < rowIds.length; i++) {
          const list = at.get(rowIds[i]);
          if (list) list.push(i);
          else at.set(rowIds[i], [i]);
        }
      }
      for (let j = 0; j < t.rows.length; j++) {
        const where = at.get(t.rows[j]);
        if (!where) continue;
        for (const i of where) for (let c = 0; c < dim; c++) out[i * dim + c] += t.adds[j * dim + c];
      }
    }
  }
}

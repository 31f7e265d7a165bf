// Acks JetStream messages only once the PS has persisted a version that contains their
// gradient. A group of messages waits for one (epoch, version) per shard and epoch it pushed
// to (a group whose pushes straddle a shard restart needs both epochs' updates); a delta's
// persistedVersion satisfies it. A later epoch satisfies it only if it restored that epoch's
// snapshot at or past that version; otherwise the update was lost and the group is nak'ed
// and trained again. A group added with `retry` instead waits for its other shards when one
// is lost or refused, then leaves the tracker unsettled with the shards that do hold its
// update persisted: the worker trains it again for the others only.
import type { EventLogMessage, WeightDelta } from '../../shared/index.ts';

export interface Requirement { epoch: number; version: number }

/** What a shard has persisted, as its newest delta (or the replica) says. */
export interface Persisted extends Requirement { epochStartVersion: number; restoredEpoch: number }

/** What becomes of a group one of whose shards cannot hold its update (see `add`). */
export interface RetryOptions {
  /** Shards that refused a push of the group: they hold none of it for sure. */
  refused?: Iterable<number>;
  /**
   * Takes the group back, neither acked nor nak'ed, once its other shards have settled: `held`
   * names the shards that hold every update of it persisted, with the requirements they met.
   */
  retry(held: Map<number, Requirement[]>): void;
}

interface Group {
  msgs: EventLogMessage[];
  events: number;
  /** Per shard: one requirement per epoch its pushes were applied in. */
  need: Map<number, Requirement[]>;
  /** With `retry`: the requirements as added (what a shard that met them all holds). */
  all?: Map<number, Requirement[]>;
  /** With `retry`: the shards that lost or refused an update of the group. */
  failed?: Set<number>;
  retry?: RetryOptions;
}

/** Whether a shard that has persisted `p` holds the update `r` asked for: 'wait' while it may yet. */
export function holds(r: Requirement, p: Persisted): 'ok' | 'wait' | 'lost' {
  if (p.epoch === r.epoch) return p.version >= r.version ? 'ok' : 'wait';
  if (p.epoch < r.epoch) return 'wait';
  // A later incarnation holds the update only if it restored r's epoch's snapshot at or past
  // r.version (epochs are unique, not consecutive: a store that lost its counter skips ahead).
  return p.restoredEpoch === r.epoch && p.epochStartVersion >= r.version ? 'ok' : 'lost';
}

export class AckTracker {
  private groups: Group[] = [];
  acked = 0;
  ackedEvents = 0;
  naked = 0;

  /**
   * `onSettled` hears of each group as it settles, before its messages are acked or nak'ed;
   * `beforeAck` runs once before the acks of the groups settled together are sent. The worker
   * publishes its report there: on one NATS connection, whatever JetStream saw acked was
   * counted in a report sent before it, even if the process dies the next moment.
   */
  constructor(
    private readonly onSettled?: (events: number, ok: boolean, msgs: readonly EventLogMessage[]) => void,
    private readonly beforeAck?: () => void,
  ) {}

  get pendingGroups(): number {
    return this.groups.length;
  }

  get pendingMessages(): number {
    let n = 0;
    for (const g of this.groups) n += g.msgs.length;
    return n;
  }

  /**
   * Registers a trained group; acks at once when it needs nothing persisted. Without `retry`,
   * a shard that lost an update of the group nak's it at once. With `retry`, a lost (or a
   * refused) shard makes the group wait for its other shards to settle, and then hands it to
   * `retry` with the shards that hold all of its update persisted.
   */
  add(msgs: EventLogMessage[], events: number, need: Map<number, Requirement[]>, persisted: (shard: number) => Persisted, retry?: RetryOptions): void {
    const g: Group = { msgs, events, need };
    if (retry) {
      g.retry = retry;
      g.failed = new Set(retry.refused ?? []);
      for (const k of g.failed) need.delete(k);
      g.all = new Map([...need].map(([k, rs]) => [k, rs.map((r) => ({ ...r }))]));
    }
    for (const k of [...need.keys()]) {
      if (this.narrow(g, k, persisted(k)) === 'lost' && !retry) { this.settle([g], false); return; }
    }
    if (need.size === 0) this.finish([g]);
    else this.groups.push(g);
  }

  /** Groups that wait for nothing more: acked, or (a shard failed) handed back with what the others hold. */
  private finish(gs: readonly Group[]): void {
    const ok = gs.filter((g) => !g.failed?.size);
    for (const g of gs) {
      if (!g.failed?.size) continue;
      const held = new Map<number, Requirement[]>();
      for (const [k, rs] of g.all!) if (!g.failed.has(k)) held.set(k, rs);
      g.retry!.retry(held);
    }
    if (ok.length) this.settle(ok, true);
  }

  /**
   * Drops the requirements on shard k that `p` satisfies; 'lost' if one can never be (a group
   * with `retry` then drops the shard's requirements and remembers the shard as failed).
   */
  private narrow(g: Group, k: number, p: Persisted): 'lost' | 'ok' {
    const rs = g.need.get(k);
    if (!rs) return 'ok';
    const left: Requirement[] = [];
    for (const r of rs) {
      const c = holds(r, p);
      if (c === 'lost') {
        if (!g.failed) return 'lost';
        g.failed.add(k);
        g.need.delete(k);
        return 'lost';
      }
      if (c === 'wait') left.push(r);
    }
    if (left.length) g.need.set(k, left);
    else g.need.delete(k);
    return 'ok';
  }

  /** Call for every delta the replica receives. */
  onDelta(d: WeightDelta): void {
    if (this.groups.length === 0) return;
    const keep: Group[] = [];
    const lost: Group[] = [];
    const done: Group[] = [];
    const p: Persisted = { epoch: d.epoch, version: d.persistedVersion, epochStartVersion: d.epochStartVersion, restoredEpoch: d.restoredEpoch };
    for (const g of this.groups) {
      if (this.narrow(g, d.shard, p) === 'lost' && !g.retry) lost.push(g);
      else if (g.need.size === 0) done.push(g);
      else keep.push(g);
    }
    this.groups = keep;
    if (lost.length) this.settle(lost, false);
    if (done.length) this.finish(done);
  }

  private settle(gs: readonly Group[], ok: boolean): void {
    for (const g of gs) {
      if (ok) { this.acked += g.msgs.length; this.ackedEvents += g.events; }
      else this.naked += g.msgs.length;
      this.onSettled?.(g.events, ok, g.msgs);
    }
    if (ok) this.beforeAck?.();
    for (const g of gs) {
      for (const m of g.msgs) {
        if (ok) m.ack();
        else m.nak(500);
      }
    }
  }

  /**
   * Tells JetStream the waiting messages are still being worked on (their ack deadline starts
   * again): a group waiting for a PS shard that is restarting must not be redelivered and
   * trained a second time meanwhile. Returns the number of messages touched.
   */
  touch(): number {
    let n = 0;
    for (const g of this.groups) for (const m of g.msgs) { m.working(); n++; }
    return n;
  }

  /** Nak everything still waiting (shutdown): redelivered to whoever takes the shards. */
  nakAll(): void {
    const gs = this.groups;
    this.groups = [];
    this.settle(gs, false);
  }
}

// A step's gradients on their way to the PS shards, and what the worker knows of them coming
// back: each part is pushed (again, same seq, after a resync while the shard is behind this
// replica), its (epoch, version) recorded for the acks, the replica's lag behind the worker's
// own pushes bounded (ReplicaLag), and its counter increments read at once (OwnCounts).
import type { GradientPush, Replica } from '../../shared/index.ts';
import type { WeightSource } from '../../shared/models/types.ts';
import type { Requirement } from './ack-tracker.ts';
import type { WorkerMetrics } from './metrics.ts';
import { OwnCounts } from './own-counts.ts';
import type { GradientPusher, PushOutcome } from './pusher.ts';
import { ReplicaLag } from './replica-lag.ts';

/** One step's pushes: per PS shard, the (epoch, version) its part was applied at, or why it was refused. */
export interface StepOutcome { need: Map<number, Requirement[]>; refused: Map<number, string> }

export const newOutcome = (): StepOutcome => ({ need: new Map(), refused: new Map() });

/** One requirement per shard and epoch: the group's earlier updates must survive a restart too. */
export function addRequirement(need: Map<number, Requirement[]>, k: number, epoch: number, version: number): void {
  const rs = need.get(k) ?? [];
  const same = rs.find((r) => r.epoch === epoch);
  if (same) same.version = Math.max(same.version, version);
  else rs.push({ epoch, version });
  need.set(k, rs);
}

/** What a push carries besides its gradients. */
export interface PushMeta { worker: string; seq: number; examples: number; newest: number; mean: number; eventTimeMs: number }

export class ShardPushes {
  private readonly lag: ReplicaLag;
  private readonly own: OwnCounts;

  constructor(private readonly pusher: GradientPusher, private readonly replica: Replica, private readonly metrics: WorkerMetrics,
    private readonly pushTimeoutMs: number, private readonly stopping: () => boolean) {
    this.lag = new ReplicaLag(replica.shards.length, replica.shards);
    this.own = new OwnCounts(replica, replica.spec);
  }

  /** What a step reads: the replica, plus this worker's counter increments it does not hold yet. */
  get weights(): WeightSource {
    return this.own;
  }

  /** The replica applied a delta of shard k. */
  replicaMoved(shard: number): void {
    this.own.replicaMoved(shard);
    this.lag.replicaMoved();
  }

  /** Waits while the replica is more than `lag` versions behind this worker's pushes (readOwnWrites: 0), counted. */
  async caughtUp(lag: number): Promise<void> {
    const r = await this.lag.caughtUp(lag, this.pushTimeoutMs, this.stopping);
    if (r.waited) this.metrics.replicaLagWaits.inc();
    if (r.timedOut) this.metrics.ownWriteWaitTimeouts.inc();
  }

  /** One part of a step's gradients to PS shard k; its (epoch, version), or why it was refused, goes into `into`. */
  async push(k: number, part: { dense: GradientPush['dense']; sparse: GradientPush['sparse'] }, m: PushMeta, into: StepOutcome): Promise<void> {
    if (part.dense.length === 0 && part.sparse.length === 0) return;
    const send = (baseVersion: number) => this.pusher.push(k, {
      worker: m.worker, seq: m.seq, baseVersion,
      dense: part.dense, sparse: part.sparse, examples: m.examples, newestAcceptedAtMs: m.newest, meanAcceptedAtMs: m.mean,
      ...(m.eventTimeMs > 0 ? { eventTimeMs: Math.floor(m.eventTimeMs) } : {}),
    });
    this.own.sent(k, m.seq, part.sparse);
    const out = await this.answered(k, send).catch((err: unknown) => {
      this.own.dropped(k, m.seq);
      throw err;
    });
    if (!out.ok) {
      this.metrics.pushErrors.inc({ code: out.error.code });
      into.refused.set(k, `${out.error.code}: ${out.error.message}`);
      this.own.dropped(k, m.seq);
      return;
    }
    this.metrics.pushRtt.observe(out.rttMs / 1000);
    this.lag.pushed(k, out.epoch, out.version);
    this.own.answered(k, m.seq, out.epoch, out.version);
    addRequirement(into.need, k, out.epoch, out.version);
  }

  /** Sends a push to shard k, and again (same seq) after a resync while the shard is behind this replica. */
  private async answered(k: number, send: (baseVersion: number) => Promise<PushOutcome>): Promise<PushOutcome> {
    let out = await send(this.replica.shards[k].version);
    // A shard behind this replica restarted without what it had published (its store lost
    // it): resync the replica and send the same push again, same seq, so only this shard gets
    // it — a nak would train the batch again and apply it twice to every other shard.
    for (let attempt = 0; !out.ok && out.error.code === 'FUTURE_VERSION' && attempt < 3 && !this.stopping(); attempt++) {
      this.metrics.pushErrors.inc({ code: out.error.code });
      await this.replica.resync(k).catch(() => undefined);
      // A resync already under way returns at once: give it time to land (a backoff, not a wait on it).
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      out = await send(this.replica.shards[k].version);
    }
    return out;
  }
}

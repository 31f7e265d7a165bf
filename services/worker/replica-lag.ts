// How far the replica a worker trains against is behind the worker's own pushes: per PS shard,
// the epoch and version its last accepted push made there. A step waits (bounded by a
// timeout, counted) while the replica is more than `lag` versions behind on some shard, since
// async momentum diverges on weights too far behind (docs/ARCHITECTURE.md, "Staleness").
import { Signal } from '../../shared/index.ts';
import type { ShardView } from '../../shared/replica.ts';

export class ReplicaLag {
  private readonly version: number[];
  private readonly epoch: number[];
  private readonly moved = new Signal();

  constructor(shards: number, private readonly replica: readonly ShardView[]) {
    this.version = new Array(shards).fill(0);
    this.epoch = new Array(shards).fill(0);
  }

  /** A push to shard k was accepted and made (epoch, version). */
  pushed(k: number, epoch: number, version: number): void {
    if (epoch !== this.epoch[k] || version > this.version[k]) {
      this.epoch[k] = epoch;
      this.version[k] = version;
    }
  }

  /** The replica applied a delta. */
  replicaMoved(): void {
    this.moved.notify();
  }

  /** A shard on another epoch than the push (restarted since) is the replica's resync to follow, not a wait. */
  private behind(lag: number): boolean {
    const r = this.replica;
    return this.version.some((v, k) => r[k] && r[k].epoch === this.epoch[k] && r[k].version < v - lag);
  }

  /**
   * Resolves once the replica is at most `lag` versions behind on every shard, or after
   * timeoutMs. Returns whether it waited and whether it gave up.
   */
  async caughtUp(lag: number, timeoutMs: number, stopping: () => boolean): Promise<{ waited: boolean; timedOut: boolean }> {
    if (!this.behind(lag)) return { waited: false, timedOut: false };
    const deadline = performance.now() + timeoutMs;
    while (!stopping() && this.behind(lag)) {
      const left = deadline - performance.now();
      if (left <= 0) return { waited: true, timedOut: true };
      await this.moved.wait(Math.min(left, 50));
    }
    return { waited: true, timedOut: false };
  }
}

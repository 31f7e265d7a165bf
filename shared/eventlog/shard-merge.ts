// Events of several event shards merged into one stream in event-time order, for a reader
// that aggregates across shards (the inference node's copy of the demand kind's days). Each
// shard's events arrive in order, but the shards interleave arbitrarily (ingest publishes a
// request's events shard by shard), so an event is released only once every shard has shown
// an event at least as new — the watermark. A shard that has sent nothing for idleMs (wall
// time) stops holding the others back.
import type { FlywheelEvent } from '../events.ts';

export class ShardMerge {
  private readonly queues: FlywheelEvent[][];
  private readonly heads: number[];
  /** Newest event time seen per shard (-Infinity: none yet). */
  private readonly newest: number[];
  private readonly lastSeenMs: number[];

  constructor(readonly shards: number, private readonly idleMs = 1000, private readonly now: () => number = Date.now) {
    this.queues = Array.from({ length: shards }, () => []);
    this.heads = new Array(shards).fill(0);
    this.newest = new Array(shards).fill(-Infinity);
    this.lastSeenMs = new Array(shards).fill(now());
  }

  /** Events that shard `s` delivered, in its order. */
  push(s: number, events: readonly FlywheelEvent[]): void {
    if (!(s >= 0 && s < this.shards)) throw new RangeError(`event shard ${s} is outside 0..${this.shards - 1}`);
    const q = this.queues[s];
    for (const e of events) {
      q.push(e);
      if (e.ts > this.newest[s]) this.newest[s] = e.ts;
    }
    this.lastSeenMs[s] = this.now();
  }

  /** Every event no newer than the watermark, in event-time order (ties: lower shard first). */
  drain(): FlywheelEvent[] {
    const now = this.now();
    let mark = Infinity;
    for (let s = 0; s < this.shards; s++) {
      const idle = this.heads[s] >= this.queues[s].length && now - this.lastSeenMs[s] >= this.idleMs;
      if (!idle) mark = Math.min(mark, this.newest[s]);
    }
    const out: FlywheelEvent[] = [];
    for (;;) {
      let best = -1;
      for (let s = 0; s < this.shards; s++) {
        const q = this.queues[s];
        if (this.heads[s] < q.length && q[this.heads[s]].ts <= mark && (best < 0 || q[this.heads[s]].ts < this.queues[best][this.heads[best]].ts)) best = s;
      }
      if (best < 0) break;
      out.push(this.queues[best][this.heads[best]++]);
    }
    for (let s = 0; s < this.shards; s++) {
      if (this.heads[s] > 1024 && this.heads[s] * 2 > this.queues[s].length) {
        this.queues[s] = this.queues[s].slice(this.heads[s]);
        this.heads[s] = 0;
      }
    }
    return out;
  }

  /** Events held back, waiting for the other shards. */
  get held(): number {
    let n = 0;
    for (let s = 0; s < this.shards; s++) n += this.queues[s].length - this.heads[s];
    return n;
  }
}

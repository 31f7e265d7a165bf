// EventLog in process memory (embedded mode, unit tests): the same delivery contract as
// JetStream — unacked messages come back after a nak or the ack deadline.
import type { ErasedMessages, ErasureVerdict, EventConsumer, EventErasure, EventLog, EventLogMessage, EventPositions, RangeRead, ShardBacklog } from './types.ts';

interface Entry { data: Uint8Array; seq: number; deliveries: number; acked: boolean; inFlight: boolean; deadline?: NodeJS.Timeout }

interface ShardLog {
  entries: Entry[];
  ready: Entry[];
  /** Readers that follow every message (tail), acking nothing. */
  tails: Set<(data: Uint8Array, seq: number) => void>;
  consumer?: { onMessage: (m: EventLogMessage) => void; maxInFlight: number; inFlight: number };
}

export class MemoryEventLog implements EventLog, EventPositions, EventErasure {
  private shards: ShardLog[] = [];
  private seq = 0;

  constructor(readonly eventShards: number, private readonly ackWaitMs = 30_000) {
    for (let s = 0; s < eventShards; s++) this.shards.push({ entries: [], ready: [], tails: new Set() });
  }

  async ensure(): Promise<void> {}

  async publish(shard: number, data: Uint8Array): Promise<void> {
    const e: Entry = { data: data.slice(), seq: ++this.seq, deliveries: 0, acked: false, inFlight: false };
    const log = this.shards[shard];
    log.entries.push(e);
    log.ready.push(e);
    for (const f of log.tails) queueMicrotask(() => f(e.data, e.seq));
    this.pump(log);
  }

  async tail(shard: number, onMessage: (data: Uint8Array, seq: number) => void): Promise<EventConsumer> {
    const log = this.shards[shard];
    for (const e of log.entries) onMessage(e.data, e.seq);
    log.tails.add(onMessage);
    return { stop: async () => { log.tails.delete(onMessage); } };
  }

  async consume(shard: number, onMessage: (m: EventLogMessage) => void, maxInFlight: number): Promise<EventConsumer> {
    const log = this.shards[shard];
    log.consumer = { onMessage, maxInFlight, inFlight: 0 };
    this.pump(log);
    return {
      stop: async () => {
        log.consumer = undefined;
      },
    };
  }

  private pump(log: ShardLog): void {
    const c = log.consumer;
    while (c && log.consumer === c && c.inFlight < c.maxInFlight && log.ready.length) {
      const e = log.ready.shift()!;
      if (e.acked) continue;
      e.inFlight = true;
      e.deliveries++;
      c.inFlight++;
      let settled = false;
      const settle = (requeueAfterMs?: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(e.deadline);
        e.inFlight = false;
        c.inFlight--;
        if (requeueAfterMs === undefined) e.acked = true;
        else setTimeout(() => { log.ready.push(e); this.pump(log); }, requeueAfterMs).unref();
        this.pump(log);
      };
      e.deadline = setTimeout(() => settle(0), this.ackWaitMs);
      e.deadline.unref();
      const msg: EventLogMessage = {
        data: e.data,
        seq: e.seq,
        redelivered: e.deliveries > 1,
        ack: () => settle(),
        nak: (delayMs = 0) => settle(delayMs),
        working: () => e.deadline?.refresh(),
      };
      queueMicrotask(() => c.onMessage(msg));
    }
  }

  async replayDelivered(shard: number, onMessage: (data: Uint8Array, seq: number, acked: boolean) => void): Promise<number> {
    let last = 0;
    for (const e of this.shards[shard].entries) {
      if (e.deliveries === 0) continue;
      onMessage(e.data, e.seq, e.acked);
      last = e.seq;
    }
    return last;
  }

  async ackFloor(shard: number): Promise<number> {
    let floor = 0;
    for (const e of this.shards[shard].entries) {
      if (!e.acked) break;
      floor = e.seq;
    }
    return floor;
  }

  async readRange(shard: number, from: number, to: number, onMessage: (data: Uint8Array, seq: number) => void | Promise<void>): Promise<RangeRead> {
    let messages = 0;
    for (const e of this.shards[shard].entries) {
      if (e.seq <= from) continue;
      if (e.seq > to) break;
      await onMessage(e.data, e.seq);
      messages++;
    }
    return { messages, expiredBelow: 0 };
  }

  async backlog(shard: number): Promise<ShardBacklog> {
    const log = this.shards[shard];
    let pending = 0;
    let ackPending = 0;
    for (const e of log.entries) {
      if (e.acked) continue;
      if (e.inFlight) ackPending++;
      else pending++;
    }
    return { pending, ackPending };
  }

  async erase(shard: number, verdict: (data: Uint8Array) => ErasureVerdict): Promise<ErasedMessages> {
    const log = this.shards[shard];
    const out: ErasedMessages = { scanned: log.entries.length, deleted: 0, mixed: 0 };
    const gone = new Set<Entry>();
    for (const e of log.entries) {
      const v = verdict(e.data);
      if (v === 'some') out.mixed++;
      if (v !== 'all') continue;
      gone.add(e);
      clearTimeout(e.deadline);
      e.data.fill(0);
    }
    out.deleted = gone.size;
    log.entries = log.entries.filter((e) => !gone.has(e));
    log.ready = log.ready.filter((e) => !gone.has(e));
    return out;
  }

  async destroy(): Promise<void> {
    for (const log of this.shards) {
      for (const e of log.entries) clearTimeout(e.deadline);
      log.entries = [];
      log.ready = [];
    }
  }
}

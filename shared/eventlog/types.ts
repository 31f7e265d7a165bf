// The durable event stream seam: JetStream in production, an in-process log in the embedded
// mode. A message stays in the log until it is acked; a nak (or a missed ack deadline) has
// it delivered again, which is how no acknowledged event is ever lost.

export interface EventLogMessage {
  data: Uint8Array;
  /** Stream sequence number. */
  seq: number;
  redelivered: boolean;
  ack(): void;
  nak(delayMs?: number): void;
  /** Extends the ack deadline while the message is still being worked on. */
  working(): void;
}

export interface ShardBacklog {
  /** Messages not yet delivered to a consumer. */
  pending: number;
  /** Delivered but not yet acked. */
  ackPending: number;
}

export interface EventConsumer {
  stop(): Promise<void>;
}

export interface EventLog {
  /** Creates the stream and the per-shard durable consumers when absent. */
  ensure(): Promise<void>;
  /** Appends one message to an event shard (of the given shard key; default this model's) and
   *  awaits the log's acknowledgement. */
  publish(shard: number, data: Uint8Array, msgId?: string, key?: 'user' | 'item'): Promise<void>;
  /** Delivers an event shard's messages to onMessage, at most maxInFlight unacked at once. */
  consume(shard: number, onMessage: (m: EventLogMessage) => void, maxInFlight: number): Promise<EventConsumer>;
  backlog(shard: number): Promise<ShardBacklog>;
  /**
   * Reads back, in order and without acking anything, every retained message of a shard that
   * this model's consumer has already delivered (acked or not), so a worker can rebuild state
   * that lives in memory (a demand source's item days) before it consumes. `acked` is false for
   * a message that may still be redelivered (above the consumer's ack floor): what it made has
   * not been trained for sure. Resolves with the last such sequence (0: none), after which the
   * consumer's deliveries are new.
   */
  replayDelivered(shard: number, onMessage: (data: Uint8Array, seq: number, acked: boolean) => void): Promise<number>;
  /**
   * Every retained message of a shard from the start, then each new one as it is published,
   * in order, acking nothing and moving no consumer of this model: for a reader that rebuilds
   * its state from the log and then follows it (an inference node's copy of the events).
   */
  tail(shard: number, onMessage: (data: Uint8Array, seq: number) => void): Promise<EventConsumer>;
  /** Deletes the stream and its consumers (tests, fresh demo runs). */
  destroy(): Promise<void>;
}

/** What a message holds of one user's events: all, some (a request that mixed users), or none. */
export type ErasureVerdict = 'all' | 'some' | 'none';

export interface ErasedMessages {
  /** Retained messages of the shard read. */
  scanned: number;
  /** Messages deleted (their bytes overwritten where the log can). */
  deleted: number;
  /** Messages that hold the user's events beside others': left, to expire with the stream's retention. */
  mixed: number;
}

/** Removing a user's events from the log (forgetting a user). */
export interface EventErasure {
  /** Deletes every retained message of the shard for which `verdict` is 'all'; counts those with 'some'. */
  erase(shard: number, verdict: (data: Uint8Array) => ErasureVerdict, key?: 'user' | 'item'): Promise<ErasedMessages>;
}

export interface RangeRead {
  /** Messages delivered to onMessage. */
  messages: number;
  /**
   * Where the range was not all in the stream any more: the stream's first retained sequence
   * when it is above from + 1 (the shard's messages below it expired), else 0.
   */
  expiredBelow: number;
}

export interface EventPositions {
  /** The stream sequence at or below which every message of the event shard is acked by this model's consumer (0: none, or no consumer). */
  ackFloor(shard: number): Promise<number>;
  /** The retained messages of the event shard with from < seq <= to, in order, acking nothing and moving no consumer. */
  readRange(shard: number, from: number, to: number, onMessage: (data: Uint8Array, seq: number) => void | Promise<void>): Promise<RangeRead>;
}

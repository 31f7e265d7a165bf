// EventLog over JetStream: one stream of events (fw.<stream>.events.>) that every model of the
// system reads, one durable pull consumer per model and event shard, shared by whichever of
// that model's workers holds the shard, explicit acks. A model sharded by another key than the
// user (a per-item model) reads the copy of the events ingest publishes under that key.
import {
  AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, nanos,
  type JetStreamClient, type JetStreamManager, type NatsConnection,
} from 'nats';
import { UnavailableError } from '../errors.ts';
import { subjects } from '../protocol.ts';
import type { ErasedMessages, ErasureVerdict, EventConsumer, EventErasure, EventLog, EventLogMessage, ShardBacklog } from './types.ts';

export interface JetStreamLogOptions {
  /** The model whose consumers this log reads and acks. */
  model: string;
  /** The event stream's name. Default: the model's name. */
  stream?: string;
  /** The event field the model's shards follow. Default 'user'. */
  shardKey?: 'user' | 'item';
  eventShards: number;
  /** Time a delivered message may stay unacked before redelivery. Default 30000 ms. */
  ackWaitMs?: number;
  /** How long the stream keeps events. Default 24 h. */
  maxAgeMs?: number;
  /** Copies of the stream across the NATS cluster (num_replicas). Default 1. */
  replicas?: number;
  /** Told when the stream exists with other settings than these (it keeps its own). Default: none. */
  onWarning?: (message: string) => void;
  /**
   * When the stream is missing and this NATS user may not create it (the per-role users of
   * deploy/nats: only admin creates streams, by `flywheel streams ensure`), how long ensure()
   * waits for it to appear, polling, before it fails saying so. Default 0: fail at once.
   */
  missingStreamWaitMs?: number;
}

export const streamName = (model: string) => `FW_${model}_EVENTS`;
export const consumerName = (model: string, shard: number) => `fw_${model}_events_${shard}`;

/** The configuration the event stream is created with (apart from ensure() so it can be checked without a NATS cluster). */
export function eventStreamConfig(opts: Pick<JetStreamLogOptions, 'model' | 'stream' | 'maxAgeMs' | 'replicas'>) {
  const stream = opts.stream ?? opts.model;
  return {
    name: streamName(stream),
    subjects: [subjects.eventsAll(stream)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(opts.maxAgeMs ?? 24 * 3600 * 1000),
    duplicate_window: nanos(120_000),
    num_replicas: opts.replicas ?? 1,
  };
}

/** JetStream's "stream not found" (API error 10059). */
export const isStreamNotFound = (err: unknown) => (err as { api_error?: { err_code?: number } })?.api_error?.err_code === 10059
  || /stream not found/i.test(String((err as Error)?.message));
/** The server refused the request's subject to this user (nats.js rejects the request with PERMISSIONS_VIOLATION). */
export const isPermissionDenied = (err: unknown) => (err as { code?: string })?.code === 'PERMISSIONS_VIOLATION'
  || /permissions violation/i.test(String((err as Error)?.message));

/** ensure()'s failure when the stream is missing and this user may not create it. */
export function missingStreamMessage(name: string): string {
  return `the events stream ${name} does not exist and this NATS user may not create it: `
    + 'run `flywheel streams ensure --config FILE` as the admin user (deploy/README.md, "Creating the streams")';
}

const hours = (ns: number) => `${+(ns / 3.6e12).toFixed(3)} h`;

/**
 * What differs between the settings an existing stream has and those the config asks for
 * (replicas, retention, storage), each as "<what> <has> (<option> says <wants>)"; empty when
 * they agree. JetStream keeps an existing stream's settings: ensure() does not change them.
 */
export function streamSettingsDiff(has: { num_replicas?: number; max_age?: number; storage?: string }, wants: ReturnType<typeof eventStreamConfig>): string[] {
  const out: string[] = [];
  if ((has.num_replicas ?? 1) !== wants.num_replicas) out.push(`replicas ${has.num_replicas ?? 1} (streamReplicas says ${wants.num_replicas})`);
  if (has.max_age !== undefined && has.max_age !== wants.max_age) out.push(`max age ${has.max_age ? hours(has.max_age) : 'unlimited'} (streamRetentionHours says ${hours(wants.max_age)})`);
  if (has.storage !== undefined && has.storage !== wants.storage) out.push(`${has.storage} storage (Flywheel creates it with ${wants.storage})`);
  return out;
}

export class JetStreamEventLog implements EventLog, EventErasure {
  private jsm?: JetStreamManager;
  private readonly js: JetStreamClient;

  private readonly stream: string;
  private readonly key: 'user' | 'item';

  constructor(private readonly nc: NatsConnection, private readonly opts: JetStreamLogOptions) {
    this.js = nc.jetstream();
    this.stream = opts.stream ?? opts.model;
    this.key = opts.shardKey ?? 'user';
  }

  private async manager(): Promise<JetStreamManager> {
    this.jsm ??= await this.nc.jetstreamManager();
    return this.jsm;
  }

  async ensure(): Promise<void> {
    const jsm = await this.manager().catch((err) => {
      throw new UnavailableError(`JetStream is not available (is nats-server running with -js?): ${(err as Error).message}`, err);
    });
    const cfg = eventStreamConfig({ ...this.opts, stream: this.stream });
    const name = cfg.name;
    let existing: Awaited<ReturnType<JetStreamManager['streams']['info']>> | undefined;
    try {
      existing = await jsm.streams.info(name);
    } catch (err) {
      if (!isStreamNotFound(err)) throw new UnavailableError(`cannot read the events stream ${name}: ${(err as Error).message}`, err);
      try {
        await jsm.streams.add(cfg);
      } catch (addErr) {
        if (!isPermissionDenied(addErr)) throw addErr;
        existing = await this.awaitStream(jsm, name, addErr);
      }
    }
    const differs = existing ? streamSettingsDiff(existing.config, cfg) : [];
    if (differs.length) {
      this.opts.onWarning?.(`the event stream ${name} exists with ${differs.join(', ')}: it keeps its own settings; `
        + `change them with \`nats stream edit ${name}\` (e.g. --replicas ${cfg.num_replicas}), or delete the stream to have it created afresh`);
    }
    for (let s = 0; s < this.opts.eventShards; s++) {
      const durable = consumerName(this.opts.model, s);
      try {
        await jsm.consumers.info(name, durable);
      } catch {
        await jsm.consumers.add(name, {
          durable_name: durable,
          filter_subject: subjects.events(this.stream, s, this.key),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(this.opts.ackWaitMs ?? 30_000),
          max_ack_pending: 20_000,
          max_deliver: -1,
        });
      }
    }
  }

  /** The stream this user may not create, once someone else has: polled until missingStreamWaitMs is over. */
  private async awaitStream(jsm: JetStreamManager, name: string, refused: unknown) {
    const waitMs = this.opts.missingStreamWaitMs ?? 0;
    const message = missingStreamMessage(name);
    if (waitMs > 0) this.opts.onWarning?.(`${message}; waiting up to ${Math.round(waitMs / 1000)} s for it`);
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))));
      try {
        return await jsm.streams.info(name);
      } catch (err) {
        if (!isStreamNotFound(err)) throw new UnavailableError(`cannot read the events stream ${name}: ${(err as Error).message}`, err);
      }
    }
    throw new UnavailableError(message, refused);
  }

  async publish(shard: number, data: Uint8Array, msgId?: string, key: 'user' | 'item' = this.key): Promise<void> {
    try {
      await this.js.publish(subjects.events(this.stream, shard, key), data, msgId ? { msgID: msgId } : undefined);
    } catch (err) {
      throw new UnavailableError(`JetStream publish failed: ${(err as Error).message}`, err);
    }
  }

  async consume(shard: number, onMessage: (m: EventLogMessage) => void, maxInFlight: number): Promise<EventConsumer> {
    const consumer = await this.js.consumers.get(streamName(this.stream), consumerName(this.opts.model, shard));
    const messages = await consumer.consume({ max_messages: Math.max(1, maxInFlight), expires: 5_000 });
    const done = (async () => {
      for await (const m of messages) {
        onMessage({
          data: m.data,
          seq: m.seq,
          redelivered: m.redelivered,
          ack: () => m.ack(),
          nak: (delayMs?: number) => m.nak(delayMs),
          working: () => m.working(),
        });
      }
    })();
    return {
      stop: async () => {
        // close() can wait for the outstanding pull to expire (seconds); callers such as the
        // lease round must not, so wait at most a moment. No message is delivered after this.
        const closing = Promise.all([messages.close().catch(() => undefined), done.catch(() => undefined)]);
        await Promise.race([closing, new Promise((r) => setTimeout(r, 200).unref())]);
      },
    };
  }

  async replayDelivered(shard: number, onMessage: (data: Uint8Array, seq: number, acked: boolean) => void): Promise<number> {
    const jsm = await this.manager();
    const name = streamName(this.stream);
    const info = await jsm.consumers.info(name, consumerName(this.opts.model, shard));
    const upto = info.delivered.stream_seq;
    if (upto === 0) return 0;
    // Above the ack floor a message may be acked out of order or still pending: it counts as
    // not acked (the worker trains what it made when it is redelivered; one acked out of order
    // is never redelivered, so nothing is trained twice).
    const ackFloor = info.ack_floor.stream_seq;
    // From the start of what the stream retains: events older than its max age are gone, and
    // the state rebuilt covers the retained window.
    const { reader, close } = await this.ownReader(shard, 'rebuild');
    let last = 0;
    try {
      for (;;) {
        const batch = await reader.fetch({ max_messages: 1000, expires: 2000 });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got++;
          if (m.seq > upto) { done = true; break; }
          onMessage(m.data, m.seq, m.seq <= ackFloor);
          last = m.seq;
          if (m.seq === upto || m.info.pending === 0) { done = true; break; }
        }
        if (done || got === 0) break;
      }
    } finally {
      await close();
    }
    return Math.max(last, upto);
  }

  /**
   * A consumer of one reader alone over a shard's subject, from the start of the stream, with
   * no acks: filter_subject, which NATS 2.9 has (ordered consumers filter with 2.10's
   * filter_subjects). The server deletes it a minute after its reader is gone; close() at once.
   */
  private async ownReader(shard: number, purpose: string, key: 'user' | 'item' = this.key) {
    const jsm = await this.manager();
    const name = streamName(this.stream);
    const readerName = `${consumerName(this.opts.model, shard)}_${purpose}_${Math.random().toString(36).slice(2, 10)}`;
    await jsm.consumers.add(name, {
      durable_name: readerName, filter_subject: subjects.events(this.stream, shard, key),
      ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: nanos(60_000),
    });
    const reader = await this.js.consumers.get(name, readerName);
    return { reader, close: () => jsm.consumers.delete(name, readerName).then(() => undefined, () => undefined) };
  }

  async tail(shard: number, onMessage: (data: Uint8Array, seq: number) => void): Promise<EventConsumer> {
    const { reader, close } = await this.ownReader(shard, 'tail');
    const messages = await reader.consume({ max_messages: 1000, expires: 5_000 });
    const done = (async () => {
      for await (const m of messages) onMessage(m.data, m.seq);
    })();
    return {
      stop: async () => {
        const closing = Promise.all([messages.close().catch(() => undefined), done.catch(() => undefined)]);
        await Promise.race([closing, new Promise((r) => setTimeout(r, 200).unref())]);
        await close();
      },
    };
  }

  async erase(shard: number, verdict: (data: Uint8Array) => ErasureVerdict, key: 'user' | 'item' = this.key): Promise<ErasedMessages> {
    const jsm = await this.manager();
    const name = streamName(this.stream);
    const last = (await jsm.streams.info(name)).state.last_seq;
    const out: ErasedMessages = { scanned: 0, deleted: 0, mixed: 0 };
    if (last === 0) return out;
    const doomed: number[] = [];
    const { reader, close } = await this.ownReader(shard, 'erase', key);
    try {
      for (let done = false; !done;) {
        const batch = await reader.fetch({ max_messages: 1000, expires: 2000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          if (m.seq > last) { done = true; break; }
          out.scanned++;
          const v = verdict(m.data);
          if (v === 'all') doomed.push(m.seq);
          else if (v === 'some') out.mixed++;
          if (m.seq === last || m.info.pending === 0) { done = true; break; }
        }
        if (got === 0) break;
      }
    } finally {
      await close();
    }
    // erase = true: the server overwrites the message's bytes, not only its index entry.
    for (const seq of doomed) if (await jsm.streams.deleteMessage(name, seq, true).catch(() => false)) out.deleted++;
    return out;
  }

  async backlog(shard: number): Promise<ShardBacklog> {
    const jsm = await this.manager();
    const info = await jsm.consumers.info(streamName(this.stream), consumerName(this.opts.model, shard));
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  async destroy(): Promise<void> {
    const jsm = await this.manager();
    // The stream is the system's, not one model's: a model of another name drops its consumers only.
    if (this.stream === this.opts.model) {
      await jsm.streams.delete(streamName(this.stream)).catch(() => undefined);
      return;
    }
    for (let s = 0; s < this.opts.eventShards; s++) await jsm.consumers.delete(streamName(this.stream), consumerName(this.opts.model, s)).catch(() => undefined);
  }
}

// Where a model's consumers stand in the event stream, and a read of a range of it: what a PS
// shard that lost its store needs to ask for the acked range to be trained again (the ack
// floors when it restarts), and what the workers read that range back with. Apart from the
// EventLog so that neither the consumers nor what they deliver are touched.
import { AckPolicy, DeliverPolicy, nanos, type JetStreamManager, type NatsConnection } from 'nats';
import { subjects } from '../protocol.ts';
import { consumerName, streamName, type JetStreamLogOptions } from './jetstream.ts';
import { MemoryEventLog } from './memory.ts';
import type { EventPositions, RangeRead } from './types.ts';
import { eventLogOptions, type Infra } from '../runtime.ts';
import type { FlywheelConfig } from '../config.ts';
import type { NatsTransport } from '../transport/nats.ts';

export class JetStreamPositions implements EventPositions {
  private readonly stream: string;
  private jsm?: Promise<JetStreamManager>;

  constructor(private readonly nc: NatsConnection, private readonly opts: JetStreamLogOptions) {
    this.stream = opts.stream ?? opts.model;
  }

  private manager(): Promise<JetStreamManager> {
    this.jsm ??= this.nc.jetstreamManager().catch((err: unknown) => {
      this.jsm = undefined;
      throw err;
    });
    return this.jsm;
  }

  async ackFloor(shard: number): Promise<number> {
    const jsm = await this.manager();
    try {
      return (await jsm.consumers.info(streamName(this.stream), consumerName(this.opts.model, shard))).ack_floor.stream_seq;
    } catch {
      return 0; // no consumer yet: nothing acked
    }
  }

  async readRange(shard: number, from: number, to: number, onMessage: (data: Uint8Array, seq: number) => void | Promise<void>): Promise<RangeRead> {
    if (to <= from) return { messages: 0, expiredBelow: 0 };
    const jsm = await this.manager();
    const name = streamName(this.stream);
    const first = (await jsm.streams.info(name)).state.first_seq;
    const expiredBelow = first > from + 1 ? first : 0;
    // A reader of its own from the range's start, no acks (as the EventLog's rebuild reader);
    // the server drops it a minute after it is left, close() at once.
    const readerName = `${consumerName(this.opts.model, shard)}_rewind_${Math.random().toString(36).slice(2, 10)}`;
    const info = await jsm.consumers.add(name, {
      durable_name: readerName, filter_subject: subjects.events(this.stream, shard, this.opts.shardKey ?? 'user'),
      ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, from + 1),
      inactive_threshold: nanos(60_000),
    });
    let messages = 0;
    try {
      if (info.num_pending === 0) return { messages, expiredBelow };
      const reader = await this.nc.jetstream().consumers.get(name, readerName);
      for (;;) {
        const batch = await reader.fetch({ max_messages: 256, expires: 2000 });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got++;
          if (m.seq > to) { done = true; break; }
          await onMessage(m.data, m.seq);
          messages++;
          if (m.seq === to || m.info.pending === 0) { done = true; break; }
        }
        if (done || got === 0) break;
      }
    } finally {
      await jsm.consumers.delete(name, readerName).catch(() => undefined);
    }
    return { messages, expiredBelow };
  }
}

/** The positions of a service's event log: its own reader beside JetStream, or the in-process log itself. */
export function positionsOf(infra: Infra, cfg: FlywheelConfig): EventPositions | undefined {
  if (infra.eventLog instanceof MemoryEventLog) return infra.eventLog;
  const nc = (infra.transport as Partial<NatsTransport>).nc;
  return nc ? new JetStreamPositions(nc, eventLogOptions(cfg)) : undefined;
}

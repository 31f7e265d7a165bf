// Wiring shared by every service's main.ts: the connections a service
// needs, either real (NATS, JetStream, Redis) or in-process (the embedded mode).
import { MemoryEventLog } from './eventlog/memory.ts';
import { JetStreamEventLog, type JetStreamLogOptions } from './eventlog/jetstream.ts';
import type { EventLog } from './eventlog/types.ts';
import type { FlywheelConfig } from './config.ts';
import { MemoryShardStore } from './store/memory.ts';
import { RedisShardStore, connectRedis } from './store/redis.ts';
import type { ShardStore } from './store/types.ts';
import { MemoryServingStore, RedisServingStore, type ServingStore } from './store/serving.ts';
import { MemoryLeaseStore, RedisLeaseStore, type LeaseStore } from './store/leases.ts';
import { JetStreamLedger, MemoryLedger, type ShardLedger } from './store/ledger.ts';
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from './store/idempotency.ts';
import { MemoryBus, MemoryTransport } from './transport/memory.ts';
import { NatsTransport, connectNats, redactUrl } from './transport/nats.ts';
import type { Transport } from './transport/types.ts';
import { UnavailableError } from './errors.ts';
import { createLogger } from './log.ts';
import { shardKeyOf } from './models/param-spec-of.ts';

export interface Infra {
  transport: Transport;
  store: ShardStore;
  eventLog: EventLog;
  serving: ServingStore;
  leases: LeaseStore;
  /** What each PS shard last published, in JetStream: outlives a Redis that keeps nothing. */
  ledger: ShardLedger;
  /** Ingest's Idempotency-Key records (in the config's Redis; in memory when embedded). */
  idempotency: IdempotencyStore;
  embedded: boolean;
  close(): Promise<void>;
}

/** The event log's options as the config gives them (apart so that a test can follow an option to the stream). */
export function eventLogOptions(cfg: FlywheelConfig): JetStreamLogOptions {
  return {
    model: cfg.model, stream: cfg.stream, shardKey: shardKeyOf(cfg), eventShards: cfg.eventShards, ackWaitMs: cfg.worker.ackWaitMs,
    maxAgeMs: cfg.streamRetentionHours * 3_600_000, replicas: cfg.streamReplicas,
    // A service whose NATS user may not create the stream (deploy/nats) waits this long for the
    // admin step (`flywheel streams ensure`, the k8s Job flywheel-streams) before it stops.
    missingStreamWaitMs: 60_000,
  };
}

/** Connects to NATS, JetStream and Redis as the config says; `onWarning` hears of an event stream or ledger bucket whose settings differ from the config's (default: a log line). */
export async function connectInfra(cfg: FlywheelConfig, name: string, onWarning?: (message: string) => void): Promise<Infra> {
  const warn = onWarning ?? ((message: string) => createLogger(name, { model: cfg.model }).warn(message));
  const nc = await connectNats(cfg.natsUrl, name);
  const redis = connectRedis(cfg.redisUrl);
  try {
    await redis.ping();
  } catch (err) {
    await nc.close();
    redis.disconnect();
    throw new UnavailableError(`cannot reach Redis at ${redactUrl(cfg.redisUrl)}: ${(err as Error).message}`, err);
  }
  const transport = new NatsTransport(nc);
  const store = new RedisShardStore(redis, { waitReplicas: cfg.redisWaitReplicas });
  const eventLog = new JetStreamEventLog(nc, { ...eventLogOptions(cfg), onWarning: warn });
  return {
    transport, store, eventLog, serving: new RedisServingStore(redis), leases: new RedisLeaseStore(redis), ledger: new JetStreamLedger(nc, { replicas: cfg.streamReplicas, onWarning: warn }),
    idempotency: new RedisIdempotencyStore(redis), embedded: false,
    close: async () => {
      await transport.close().catch(() => undefined);
      await store.close().catch(() => undefined);
    },
  };
}

/** In-process infrastructure for the embedded mode: every service in one process. */
export class EmbeddedInfra {
  readonly bus = new MemoryBus();
  readonly store = new MemoryShardStore();
  readonly serving = new MemoryServingStore();
  readonly leases = new MemoryLeaseStore();
  readonly ledger = new MemoryLedger();
  readonly idempotency = new MemoryIdempotencyStore();
  readonly eventLog: MemoryEventLog;
  constructor(cfg: FlywheelConfig) {
    this.eventLog = new MemoryEventLog(cfg.eventShards, cfg.worker.ackWaitMs);
  }
  /** A view for one service: its own transport on the shared bus. */
  forService(): Infra {
    const transport = new MemoryTransport(this.bus);
    return { transport, store: this.store, eventLog: this.eventLog, serving: this.serving, leases: this.leases, ledger: this.ledger, idempotency: this.idempotency, embedded: true, close: () => transport.close() };
  }
}

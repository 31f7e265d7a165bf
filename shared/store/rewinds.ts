// What a PS shard that lost its store asks the workers to train again into it, kept where the
// shard ledger is (JetStream key-value, file storage: it outlives the Redis that was lost).
// One record per model and PS shard: per event shard, the acked messages whose updates the
// store lost (stream sequences from < seq <= to) and how far that is done (trained again and
// persisted), which the worker holding the event shard moves forward as it goes, so a worker
// that takes the event shard over carries on from there.
import type { NatsConnection } from 'nats';
import { UnavailableError } from '../errors.ts';
import type { Infra } from '../runtime.ts';
import type { NatsTransport } from '../transport/nats.ts';
import { ShardKv, shardKey as key } from './shard-kv.ts';

export interface RewindRange { from: number; to: number; done: number }

export interface RewindRecord {
  /** The epoch the PS shard started under when it asked: a later loss replaces the record. */
  epoch: number;
  createdAtMs: number;
  /** Index = event shard. */
  ranges: RewindRange[];
}

export interface RewindStore {
  /** The rewind PS shard `shard` asked for last (done or not), if any. */
  read(model: string, shard: number): Promise<RewindRecord | null>;
  /** Replaces the shard's record. */
  write(model: string, shard: number, r: RewindRecord): Promise<void>;
  /**
   * Moves event shard `eventShard`'s `done` forward to `done` (never back, never past `to`) in
   * the record of `epoch`; false when the record is another epoch's now (or gone).
   */
  advance(model: string, shard: number, epoch: number, eventShard: number, done: number): Promise<boolean>;
  deleteModel(model: string, shards: number): Promise<void>;
}

export const REWIND_BUCKET = 'fw_ps_rewinds';

function parse(bytes: Uint8Array): RewindRecord | null {
  try {
    const o = JSON.parse(new TextDecoder().decode(bytes)) as Partial<RewindRecord>;
    const seq = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
    if (seq(o.epoch) && seq(o.createdAtMs) && Array.isArray(o.ranges) && o.ranges.every((r) => r && seq(r.from) && seq(r.to) && seq(r.done))) return o as RewindRecord;
  } catch { /* a corrupt record reads as none */ }
  return null;
}

/** The record with event shard s's done moved to `done`, or null when that changes nothing. */
function advanced(r: RewindRecord, s: number, done: number): RewindRecord | null {
  const range = r.ranges[s];
  if (!range) return null;
  const to = Math.min(done, range.to);
  if (to <= range.done) return null;
  return { ...r, ranges: r.ranges.map((x, i) => (i === s ? { ...x, done: to } : x)) };
}

export class JetStreamRewindStore implements RewindStore {
  private readonly kv: ShardKv;

  /** `replicas`: copies of the bucket when it is created (the config's streamReplicas, as the ledger's). */
  constructor(nc: NatsConnection, replicas = 1, onWarning?: (message: string) => void) {
    this.kv = new ShardKv(nc, REWIND_BUCKET, { replicas, onWarning });
  }

  /** Creates the bucket when it is missing (`flywheel streams ensure`, as the admin user); binds it otherwise. */
  async ensure(): Promise<void> {
    await this.kv.bucket();
  }

  async read(model: string, shard: number): Promise<RewindRecord | null> {
    return (await this.kv.get(model, shard, parse))?.value ?? null;
  }

  async write(model: string, shard: number, r: RewindRecord): Promise<void> {
    await this.kv.put(model, shard, r);
  }

  async advance(model: string, shard: number, epoch: number, eventShard: number, done: number): Promise<boolean> {
    // Workers holding different event shards advance the same record: compare and set.
    for (let attempt = 0; attempt < 10; attempt++) {
      const got = await this.kv.get(model, shard, parse);
      const r = got?.value;
      if (!got || !r || r.epoch !== epoch) return false;
      const next = advanced(r, eventShard, done);
      if (!next) return true;
      if (await this.kv.update(model, shard, next, got.entry.revision)) return true;
      // another writer went first: read again
    }
    throw new UnavailableError(`the rewind record of ${model} shard ${shard} kept changing under this update`);
  }

  async deleteModel(model: string, shards: number): Promise<void> {
    await this.kv.deleteModel(model, shards);
  }
}

export class MemoryRewindStore implements RewindStore {
  private readonly records = new Map<string, RewindRecord>();

  async read(model: string, shard: number): Promise<RewindRecord | null> {
    const r = this.records.get(key(model, shard));
    return r ? structuredClone(r) : null;
  }

  async write(model: string, shard: number, r: RewindRecord): Promise<void> {
    this.records.set(key(model, shard), structuredClone(r));
  }

  async advance(model: string, shard: number, epoch: number, eventShard: number, done: number): Promise<boolean> {
    const r = this.records.get(key(model, shard));
    if (!r || r.epoch !== epoch) return false;
    const next = advanced(r, eventShard, done);
    if (next) this.records.set(key(model, shard), next);
    return true;
  }

  async deleteModel(model: string, shards: number): Promise<void> {
    for (let k = 0; k < shards; k++) this.records.delete(key(model, k));
  }
}

/** The embedded mode's services share one infra's ledger: and so one memory store. */
const embedded = new WeakMap<object, MemoryRewindStore>();

/** The rewind store of a service's infrastructure: JetStream beside the ledger (with `replicas` copies, the config's streamReplicas), or in memory when embedded. */
export function rewindStoreOf(infra: Infra, replicas = 1): RewindStore {
  if (infra.embedded) {
    let m = embedded.get(infra.ledger);
    if (!m) embedded.set(infra.ledger, (m = new MemoryRewindStore()));
    return m;
  }
  const nc = (infra.transport as Partial<NatsTransport>).nc;
  if (!nc) throw new UnavailableError('a rewind store needs the NATS transport or the embedded infrastructure');
  return new JetStreamRewindStore(nc, replicas);
}

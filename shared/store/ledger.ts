// What each PS shard last published, kept apart from the shard store: JetStream (file storage)
// survives the loss of a Redis that keeps nothing on disk. A shard restarting reads it to tell
// "new model" (no entry) from "my store lost what I had published" (entry ahead of the store),
// and to hand out epochs above every epoch it handed out before, whatever the store remembers.
import type { NatsConnection } from 'nats';
import { ShardKv, shardKey as key, type ShardKvOptions } from './shard-kv.ts';

export interface LedgerEntry {
  /** The newest epoch the shard started under. */
  epoch: number;
  /** The newest version it persisted and published (replicas and acks may have seen it). */
  version: number;
}

export interface ShardLedger {
  read(model: string, shard: number): Promise<LedgerEntry | null>;
  record(model: string, shard: number, e: LedgerEntry): Promise<void>;
  /** Forgets a model's entries (a run that starts from scratch). */
  deleteModel(model: string, shards: number): Promise<void>;
}

export const LEDGER_BUCKET = 'fw_ps_ledger';

function parseEntry(bytes: Uint8Array): LedgerEntry | null {
  try {
    const o = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LedgerEntry>;
    if (Number.isSafeInteger(o.epoch) && Number.isSafeInteger(o.version) && o.epoch! >= 0 && o.version! >= 0) return { epoch: o.epoch!, version: o.version! };
  } catch { /* a corrupt entry reads as none: the store's snapshot decides */ }
  return null;
}

export type JetStreamLedgerOptions = ShardKvOptions;

export class JetStreamLedger implements ShardLedger {
  private readonly kv: ShardKv;

  constructor(nc: NatsConnection, opts: JetStreamLedgerOptions = {}) {
    this.kv = new ShardKv(nc, LEDGER_BUCKET, opts);
  }

  /** Creates the bucket when it is missing (`flywheel streams ensure`, as the admin user); binds it otherwise. */
  async ensure(): Promise<void> {
    await this.kv.bucket();
  }

  async read(model: string, shard: number): Promise<LedgerEntry | null> {
    return (await this.kv.get(model, shard, parseEntry))?.value ?? null;
  }

  async record(model: string, shard: number, e: LedgerEntry): Promise<void> {
    await this.kv.put(model, shard, e);
  }

  async deleteModel(model: string, shards: number): Promise<void> {
    await this.kv.deleteModel(model, shards);
  }
}

export class MemoryLedger implements ShardLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  async read(model: string, shard: number): Promise<LedgerEntry | null> {
    const e = this.entries.get(key(model, shard));
    return e ? { ...e } : null;
  }

  async record(model: string, shard: number, e: LedgerEntry): Promise<void> {
    this.entries.set(key(model, shard), { ...e });
  }

  async deleteModel(model: string, shards: number): Promise<void> {
    for (let k = 0; k < shards; k++) this.entries.delete(key(model, k));
  }
}

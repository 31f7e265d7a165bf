// What each PS shard last published, kept apart from the shard store: JetStream (file storage)
// survives the loss of a Redis that keeps nothing on disk. A shard restarting reads it to tell
// "new model" (no entry) from "my store lost what I had published" (entry ahead of the store),
// and to hand out epochs above every epoch it handed out before, whatever the store remembers.
import type { KV, NatsConnection } from 'nats';
import { UnavailableError } from '../errors.ts';

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

const key = (model: string, shard: number) => `${model}.${shard}`;

function parseEntry(bytes: Uint8Array): LedgerEntry | null {
  try {
    const o = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LedgerEntry>;
    if (Number.isSafeInteger(o.epoch) && Number.isSafeInteger(o.version) && o.epoch! >= 0 && o.version! >= 0) return { epoch: o.epoch!, version: o.version! };
  } catch { /* a corrupt entry reads as none: the store's snapshot decides */ }
  return null;
}

export interface JetStreamLedgerOptions {
  /** Copies of the bucket across the NATS cluster, when it is created (the config's streamReplicas). Default 1. */
  replicas?: number;
  /** Told when the bucket exists with another replica count (it keeps its own). */
  onWarning?: (message: string) => void;
}

export class JetStreamLedger implements ShardLedger {
  private kv?: Promise<KV>;

  constructor(private readonly nc: NatsConnection, private readonly opts: JetStreamLedgerOptions = {}) {}

  private bucket(): Promise<KV> {
    const replicas = this.opts.replicas ?? 1;
    this.kv ??= this.nc.jetstream().views.kv(LEDGER_BUCKET, { history: 1, replicas }).then(async (kv) => {
      // An existing bucket is bound as it is: say so when its copies are not what is asked.
      const has = (await kv.status()).replicas;
      if (has !== replicas) {
        this.opts.onWarning?.(`the PS ledger bucket ${LEDGER_BUCKET} exists with replicas ${has} (streamReplicas says ${replicas}): it keeps its own; `
          + `change it with \`nats stream edit KV_${LEDGER_BUCKET} --replicas ${replicas}\``);
      }
      return kv;
    }).catch((err: unknown) => {
      this.kv = undefined;
      throw new UnavailableError(`JetStream key-value bucket ${LEDGER_BUCKET}: ${(err as Error).message}`, err);
    });
    return this.kv;
  }

  /** Creates the bucket when it is missing (`flywheel streams ensure`, as the admin user); binds it otherwise. */
  async ensure(): Promise<void> {
    await this.bucket();
  }

  async read(model: string, shard: number): Promise<LedgerEntry | null> {
    const e = await (await this.bucket()).get(key(model, shard));
    return e && e.operation === 'PUT' ? parseEntry(e.value) : null;
  }

  async record(model: string, shard: number, e: LedgerEntry): Promise<void> {
    await (await this.bucket()).put(key(model, shard), JSON.stringify(e));
  }

  async deleteModel(model: string, shards: number): Promise<void> {
    const kv = await this.bucket();
    for (let k = 0; k < shards; k++) await kv.purge(key(model, k));
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

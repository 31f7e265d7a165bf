// A JetStream key-value bucket of one JSON record per (model, PS shard): the ledger's and the
// rewinds' common ground. Bound lazily (a failure is an UnavailableError and the next call
// tries again), created with the asked copies when missing, and said so when it exists with
// another replica count (it keeps its own).
import type { KV, KvEntry, NatsConnection } from 'nats';
import { UnavailableError } from '../errors.ts';

export interface ShardKvOptions {
  /** Copies of the bucket across the NATS cluster, when it is created (the config's streamReplicas). Default 1. */
  replicas?: number;
  /** Told when the bucket exists with another replica count. */
  onWarning?: (message: string) => void;
}

export const shardKey = (model: string, shard: number): string => `${model}.${shard}`;

export class ShardKv {
  private kv?: Promise<KV>;

  constructor(private readonly nc: NatsConnection, readonly name: string, private readonly opts: ShardKvOptions = {}) {}

  bucket(): Promise<KV> {
    const replicas = this.opts.replicas ?? 1;
    this.kv ??= this.nc.jetstream().views.kv(this.name, { history: 1, replicas }).then(async (kv) => {
      const has = (await kv.status()).replicas;
      if (has !== replicas) {
        this.opts.onWarning?.(`the bucket ${this.name} exists with replicas ${has} (streamReplicas says ${replicas}): it keeps its own; `
          + `change it with \`nats stream edit KV_${this.name} --replicas ${replicas}\``);
      }
      return kv;
    }).catch((err: unknown) => {
      this.kv = undefined;
      throw new UnavailableError(`JetStream key-value bucket ${this.name}: ${(err as Error).message}`, err);
    });
    return this.kv;
  }

  /** The shard's entry, parsed by `parse`, with its revision (for a compare-and-set); null when none or deleted. */
  async get<T>(model: string, shard: number, parse: (bytes: Uint8Array) => T | null): Promise<{ value: T | null; entry: KvEntry } | null> {
    const e = await (await this.bucket()).get(shardKey(model, shard));
    return e && e.operation === 'PUT' ? { value: parse(e.value), entry: e } : null;
  }

  async put(model: string, shard: number, value: unknown): Promise<void> {
    await (await this.bucket()).put(shardKey(model, shard), JSON.stringify(value));
  }

  /** Replaces the entry only if it is still at `revision`; false when another writer went first. */
  async update(model: string, shard: number, value: unknown, revision: number): Promise<boolean> {
    const kv = await this.bucket();
    try {
      await kv.update(shardKey(model, shard), JSON.stringify(value), revision);
      return true;
    } catch {
      return false;
    }
  }

  /** Forgets a model's entries (a run that starts from scratch). */
  async deleteModel(model: string, shards: number): Promise<void> {
    const kv = await this.bucket();
    for (let k = 0; k < shards; k++) await kv.purge(shardKey(model, k));
  }
}

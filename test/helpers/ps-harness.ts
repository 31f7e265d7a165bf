// An in-process PS setup for unit tests: memory transport and store, a small model, and
// helpers to push gradients and read back rows.
import {
  DEFAULT_CONFIG, MemoryBus, MemoryShardStore, MemoryLedger, MemoryTransport, Registry, encodePush, parseReply,
  ownerOfRow, tableHash, subjects, type GradientPush, type ParamSpec, type PsConfig, type PushReply,
} from '../../shared/index.ts';
import { CTR_MODEL_DEFAULTS } from '../../shared/models/ctr/config.ts';
import { ctrParamSpec } from '../../shared/models/ctr/spec.ts';
import { PsShard } from '../../services/ps/ps-shard.ts';
import { psMetrics } from '../../services/ps/metrics.ts';

export const MODEL = 'unit';

export function smallSpec(): ParamSpec {
  return ctrParamSpec(MODEL, 11, { ...CTR_MODEL_DEFAULTS, fields: ['a', 'b'], embDim: 2, buckets: 64, hidden: [2], embLrScale: 1, biasLrScale: 1, sparseOptimizer: 'momentum' });
}

export function psConfig(over: Partial<PsConfig> = {}): PsConfig {
  return { ...DEFAULT_CONFIG.ps, learningRate: 0.1, momentum: 0.9, publishIntervalMs: 3_600_000, clipNorm: 0, ...over };
}

export class PsHarness {
  readonly bus = new MemoryBus();
  readonly store = new MemoryShardStore();
  readonly ledger = new MemoryLedger();
  readonly client = new MemoryTransport(this.bus);
  readonly shards: PsShard[] = [];
  readonly spec = smallSpec();

  constructor(readonly shardCount = 2, readonly cfg: PsConfig = psConfig()) {}

  async start(): Promise<this> {
    for (let k = 0; k < this.shardCount; k++) this.shards.push(await this.startShard(k));
    return this;
  }

  async startShard(k: number): Promise<PsShard> {
    const s = new PsShard({
      model: MODEL, spec: this.spec, cfg: this.cfg, shard: k, shards: this.shardCount,
      transport: new MemoryTransport(this.bus), store: this.store, ledger: this.ledger, storeCheckMs: 0,
      metrics: psMetrics(new Registry()), log: () => undefined,
    });
    await s.start();
    await s.actor.idle();
    return s;
  }

  async push(k: number, p: Partial<GradientPush>): Promise<PushReply> {
    const full: GradientPush = {
      worker: 'w', seq: 1, baseVersion: this.shards[k].version, dense: [], sparse: [], examples: 1,
      newestAcceptedAtMs: 0, meanAcceptedAtMs: 0, ...p,
    };
    return parseReply(await this.client.request(subjects.push(MODEL, k), encodePush(full), 2000));
  }

  async pushRaw(k: number, bytes: Uint8Array): Promise<PushReply> {
    return parseReply(await this.client.request(subjects.push(MODEL, k), bytes, 2000));
  }

  /** Publishes shard k now and waits until it is done. */
  async publish(k: number): Promise<void> {
    this.shards[k].requestPublish();
    await this.shards[k].actor.idle();
  }

  /** A row id of `table` owned by shard k (the n-th such id). */
  rowOwnedBy(table: string, k: number, n = 0): number {
    const h = tableHash(table);
    for (let r = 0, seen = 0; r < 64; r++) if (ownerOfRow(h, r, this.shardCount) === k && seen++ === n) return r;
    throw new Error('no such row');
  }

  async stop(): Promise<void> {
    for (const s of this.shards) await s.stop();
  }
}

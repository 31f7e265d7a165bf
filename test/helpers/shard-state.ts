// One PS shard's state machine driven directly (no actor, no transport round trip), for tests
// that compare its weights and slots bit for bit with another updater.
import {
  MemoryBus, MemoryShardStore, MemoryTransport, Registry, encodePush, parseReply,
  type GradientPush, type ParamSpec, type PsConfig, type Updater,
} from '../../shared/index.ts';
import { ShardState } from '../../services/ps/shard-state.ts';
import { psMetrics } from '../../services/ps/metrics.ts';

export interface Shard { state: ShardState; updater: Updater; warnings: string[] }

/** Shard 0 of 1 of spec.model, started from `store`; its warnings are collected. */
export async function startShard(s: ParamSpec, cfg: PsConfig, store = new MemoryShardStore(), bus = new MemoryBus()): Promise<Shard> {
  const warnings: string[] = [];
  const state = new ShardState({
    model: s.model, spec: s, cfg, shard: 0, shards: 1, transport: new MemoryTransport(bus), store,
    metrics: psMetrics(new Registry()), log: (level, msg) => { if (level === 'warn') warnings.push(msg); },
  });
  await state.start();
  return { state, updater: (state as unknown as { updater: Updater }).updater, warnings };
}

/** Applies one push; a refusal throws with its reason. */
export async function push(sh: Shard, p: GradientPush): Promise<void> {
  let reply: Uint8Array | undefined;
  await sh.state.handle({ kind: 'push', data: encodePush(p), respond: (d) => { reply = d; }, receivedAtMs: Date.now() });
  const r = parseReply(reply!);
  if (!r.ok) throw new Error(`push ${p.seq} refused: ${r.error.message}`);
}

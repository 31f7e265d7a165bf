// The faults `flywheel chaos` injects. Each gets the running system and records what it saw
// (takeover times, snapshots rewritten, staleness reported) in ctx.details.
import { JetStreamRewindStore, connectNats, connectRedis, waitFor, type FlywheelConfig } from '../../shared/index.ts';
import type { ProcessGroup } from '../../cluster/processes.ts';
import type { PrivateServer } from './servers.ts';

export interface ChaosContext {
  cfg: FlywheelConfig;
  cfgFile: string;
  group: ProcessGroup;
  nats: PrivateServer;
  redis: PrivateServer;
  say: (line: string) => void;
  details: Record<string, unknown>;
}

type Inject = (ctx: ChaosContext) => Promise<void>;

async function leaseHolders(ctx: ChaosContext): Promise<(string | null)[]> {
  const r = connectRedis(ctx.cfg.redisUrl);
  try {
    return await Promise.all(Array.from({ length: ctx.cfg.eventShards }, (_, s) => r.get(`fw:{${ctx.cfg.model}}:lease:${s}`)));
  } finally {
    r.disconnect();
  }
}

async function inferenceModel(ctx: ChaosContext): Promise<Record<string, unknown>> {
  return (await fetch(`http://127.0.0.1:${ctx.cfg.inference.port}/v1/model`)).json() as Promise<Record<string, unknown>>;
}

async function healthy(url: string): Promise<boolean> {
  return (await fetch(url).catch(() => undefined))?.ok === true;
}

/** What predictWhile saw: requests per HTTP status (0 = no answer), and the 503s' reasons. */
export interface PredictStatuses { counts: Record<string, number>; unavailableReasons: string[]; unavailableWithoutReason: number }

/** Predictions asked back to back until stop(). */
function predictWhile(ctx: ChaosContext): { stop(): Promise<PredictStatuses> } {
  const counts: Record<string, number> = {};
  const reasons = new Set<string>();
  let withoutReason = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = await fetch(`http://127.0.0.1:${ctx.cfg.inference.port}/v1/predict`, {
        method: 'POST', body: JSON.stringify({ events: [{ userId: 'u1', itemId: 'i3' }] }),
      }).catch(() => undefined);
      const status = r?.status ?? 0;
      counts[status] = (counts[status] ?? 0) + 1;
      const body = await r?.text().catch(() => '') ?? '';
      if (status === 503) {
        // A 503 must say why (the body's error), so a client knows it is a transition.
        const reason = (() => { try { return String((JSON.parse(body) as { error?: unknown }).error ?? ''); } catch { return ''; } })();
        if (reason) reasons.add(reason); else withoutReason++;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  return { stop: async () => { running = false; await loop; return { counts, unavailableReasons: [...reasons], unavailableWithoutReason: withoutReason }; } };
}

export const SCENARIOS: Record<string, Inject> = {
  /**
   * kill -9 a PS shard and restart it: it resumes from its Redis snapshot. Inference is asked
   * for predictions all along: a replica in transition answers 200, or 503 with a reason.
   */
  'ps-kill': async (ctx) => {
    const predicts = predictWhile(ctx);
    await ctx.group.kill('ps-1');
    ctx.group.restart('ps-1');
    const t = Date.now();
    await waitFor(() => healthy(`http://127.0.0.1:${ctx.cfg.psMetricsBasePort + 1}/healthz`), 60_000, 'ps-1 back', 100);
    ctx.details.psRestartMs = Date.now() - t;
    // A few more seconds, across the replicas' resync onto the restarted shard's new epoch.
    await new Promise((r) => setTimeout(r, 3000));
    ctx.details.predictStatuses = await predicts.stop();
  },

  /** kill -9 a worker: leases hand its shards to the other; a new worker then takes its share. */
  'worker-kill': async (ctx) => {
    // Wait until both workers hold shards, so the kill takes real work away from the group.
    await waitFor(async () => new Set((await leaseHolders(ctx)).filter(Boolean)).size === 2, 60_000, 'both workers holding shards', 100);
    const before = await leaseHolders(ctx);
    const killed = before.find((h) => h?.startsWith('w1-')) ?? null;
    await ctx.group.kill('worker-1');
    const t = Date.now();
    await waitFor(async () => (await leaseHolders(ctx)).every((h) => h !== null && h !== killed), 60_000, 'every shard held by the surviving worker', 100);
    ctx.details.takeoverMs = Date.now() - t;
    ctx.details.killedWorker = killed;
    ctx.details.holdersBefore = before;
    ctx.details.holdersAfterKill = await leaseHolders(ctx);
    ctx.group.restart('worker-1');
    const t2 = Date.now();
    await waitFor(async () => new Set((await leaseHolders(ctx)).filter(Boolean)).size === 2, 90_000, 'shards rebalanced onto the new worker', 100);
    ctx.details.rebalanceMs = Date.now() - t2;
    ctx.details.holdersAfterRebalance = await leaseHolders(ctx);
  },

  /** Restart Redis empty: the shards notice and write full snapshots; training goes on. */
  'redis-restart': async (ctx) => {
    await ctx.redis.kill();
    await ctx.redis.start();
    const t = Date.now();
    const r = connectRedis(ctx.cfg.redisUrl);
    try {
      await waitFor(async () => {
        const metas = await Promise.all(Array.from({ length: ctx.cfg.psShards }, (_, k) => r.exists(`fw:{${ctx.cfg.model}:${k}}:meta`)));
        return metas.every((x) => x === 1);
      }, 60_000, 'every shard\'s snapshot rewritten', 100);
    } finally {
      r.disconnect();
    }
    ctx.details.snapshotsRewrittenMs = Date.now() - t;
  },

  /**
   * Lose a PS shard and a Redis that keeps nothing together (kill -9 both, restart both empty):
   * the shard must see that its store is behind what it had published (its ledger in
   * JetStream says so), say so and count it, continue its version numbers under a new epoch, and
   * training must go on without a restart of anything else. Inference is asked for predictions
   * all along: a replica in transition answers 200 or 503, never 500. The shard asks for the
   * acked range its store lost to be trained again (into it only): this waits until the
   * workers have done it, and records how long that took and the range.
   */
  'ps-redis-lost': async (ctx) => {
    const predicts = predictWhile(ctx);
    await Promise.all([ctx.group.kill('ps-1'), ctx.redis.kill()]);
    await ctx.redis.start();
    ctx.group.restart('ps-1');
    const t = Date.now();
    const metrics = `http://127.0.0.1:${ctx.cfg.psMetricsBasePort + 1}/metrics`;
    await waitFor(() => healthy(metrics), 60_000, 'ps-1 back', 100);
    ctx.details.psRestartMs = Date.now() - t;
    const text = await (await fetch(metrics)).text();
    ctx.details.storeLostCounted = Number(/^fw_ps_store_lost_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
    const nc = await connectNats(ctx.cfg.natsUrl, 'chaos-rewind');
    try {
      const rewinds = new JetStreamRewindStore(nc);
      await waitFor(async () => {
        const r = await rewinds.read(ctx.cfg.model, 1);
        return !!r && r.ranges.every((x) => x.done === x.to);
      }, 60_000, 'the lost range trained again', 100);
      ctx.details.rewindDoneMs = Date.now() - t;
      ctx.details.rewindRanges = (await rewinds.read(ctx.cfg.model, 1))?.ranges;
    } finally {
      await nc.close();
    }
    // Ask inference for a few more seconds, across the replicas' resync onto the new epoch.
    await new Promise((r) => setTimeout(r, 3000));
    ctx.details.predictStatuses = await predicts.stop();
  },

  /** Restart NATS (JetStream keeps its store): every service reconnects and carries on. */
  'nats-restart': async (ctx) => {
    await ctx.nats.kill();
    await ctx.nats.start();
    const t = Date.now();
    await waitFor(async () => {
      const m = await inferenceModel(ctx).catch(() => undefined);
      return !!m;
    }, 60_000, 'inference answering after the NATS restart', 100);
    ctx.details.natsBackMs = Date.now() - t;
  },

  /** Kill the inference node, start a new one (snapshot + catch up); then stop a PS shard for a
   *  while and check inference keeps serving and reports how quiet that shard is. */
  'inference-restart': async (ctx) => {
    await ctx.group.kill('inference');
    ctx.group.restart('inference');
    const t = Date.now();
    await waitFor(() => healthy(`http://127.0.0.1:${ctx.cfg.inference.port}/healthz`), 60_000, 'new inference node', 100);
    ctx.details.inferenceRestartMs = Date.now() - t;
    ctx.details.versionsAfterRestart = (await inferenceModel(ctx)).versions;
    await ctx.group.kill('ps-0');
    const down = Date.now();
    await waitFor(async () => {
      const m = await inferenceModel(ctx);
      return ((m.shardQuietMs as (number | null)[])[0] ?? 0) > 1500;
    }, 30_000, 'inference to report shard 0 quiet', 100);
    const predict = await fetch(`http://127.0.0.1:${ctx.cfg.inference.port}/v1/predict`, {
      method: 'POST', body: JSON.stringify({ events: [{ userId: 'u1', itemId: 'i3' }] }),
    });
    const m = await inferenceModel(ctx);
    ctx.details.whileShardDown = { predictStatus: predict.status, shardQuietMs: m.shardQuietMs, versions: m.versions, freshnessMs: m.freshnessMs };
    ctx.group.restart('ps-0');
    await waitFor(() => healthy(`http://127.0.0.1:${ctx.cfg.psMetricsBasePort}/healthz`), 60_000, 'ps-0 back', 100);
    ctx.details.shardDownMs = Date.now() - down;
  },
};

// Which event shards this worker trains: it holds a lease per shard, renews them, gives back
// shards above its fair share when workers join, and takes free shards (a dead worker's,
// once its leases expire) up to its share. Fair share = ceil(S / live workers).
import type { LeaseStore } from '../../shared/index.ts';

export interface LeaseHooks {
  onAcquire(shard: number): Promise<void>;
  onRelease(shard: number): Promise<void>;
  log(level: 'info' | 'warn', msg: string, extra?: object): void;
}

export class ShardLeases {
  readonly held = new Set<number>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;
  /** Lease changes, for metrics and tests. */
  acquired = 0;
  lost = 0;

  constructor(
    private readonly store: LeaseStore, private readonly model: string, private readonly owner: string,
    private readonly shards: number, private readonly ttlMs: number, private readonly hooks: LeaseHooks,
  ) {}

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => { this.ticking ??= this.tick().finally(() => { this.ticking = undefined; }); }, Math.max(50, this.ttlMs / 3));
  }

  /** One round: heartbeat, renew, give back extras, take free shards. Errors wait for the next round. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const live = await this.store.heartbeat(this.model, this.owner, this.ttlMs);
      if (!live.includes(this.owner)) live.push(this.owner);
      const fair = Math.ceil(this.shards / live.length);
      for (const s of [...this.held]) {
        if (await this.store.renew(this.model, s, this.owner, this.ttlMs)) continue;
        this.held.delete(s);
        this.lost++;
        this.hooks.log('warn', 'lost the lease of an event shard', { shard: s });
        await this.hooks.onRelease(s);
      }
      for (const s of [...this.held].sort((a, b) => b - a)) {
        if (this.held.size <= fair) break;
        this.held.delete(s);
        await this.hooks.onRelease(s);
        await this.store.release(this.model, s, this.owner);
        this.hooks.log('info', 'gave back an event shard to rebalance', { shard: s, fair, workers: live.length });
      }
      // Start the search at a per-worker offset so workers do not all race for shard 0.
      const rank = Math.max(0, live.indexOf(this.owner));
      for (let i = 0; i < this.shards && this.held.size < fair; i++) {
        const s = (rank * fair + i) % this.shards;
        if (this.held.has(s) || !(await this.store.acquire(this.model, s, this.owner, this.ttlMs))) continue;
        this.held.add(s);
        this.acquired++;
        this.hooks.log('info', 'took the lease of an event shard', { shard: s, fair, workers: live.length });
        await this.hooks.onAcquire(s);
      }
    } catch (err) {
      this.hooks.log('warn', 'lease round failed; retrying', { err: (err as Error).message });
    }
  }

  /** Stops consuming and hands every shard back at once, so others need not wait for the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking;
    for (const s of [...this.held]) {
      this.held.delete(s);
      await this.hooks.onRelease(s);
      await this.store.release(this.model, s, this.owner).catch(() => undefined);
    }
    await this.store.leave(this.model, this.owner).catch(() => undefined);
  }
}

// A PS shard as a running actor: subscribes to its push subject, feeds pushes and publish
// ticks into one bounded mailbox, and answers with a retryable error when the mailbox is full.
import {
  Actor, MailboxFullError, decode, decodeCheckpoint, encode, encodeReply, errorToWire, subjects, type Subscription,
} from '../../shared/index.ts';
import { ShardState, type PsMessage, type ShardDeps } from './shard-state.ts';
import type { StoreLossRewind } from './rewind.ts';

export class PsShard {
  readonly actor: Actor<PsMessage>;
  private state?: ShardState;
  private sub?: Subscription;
  private controlSub?: Subscription;
  private forgetSub?: Subscription;
  private timer?: NodeJS.Timeout;
  private publishQueued = false;
  private subscribed = false;

  /** `rewind`: after a store loss, ask for the acked range the store lost to be trained again. */
  constructor(private readonly d: ShardDeps, rewind?: StoreLossRewind) {
    this.actor = new Actor<PsMessage>(() => {
      this.state = new ShardState(d);
      const s = this.state;
      const restores = async () => (await d.metrics.restores.get()).values[0]?.value ?? 0;
      return {
        start: async () => {
          // After the start and before the shard takes a push or publishes: what a store loss asks to train again.
          const before = await rewind?.before();
          const restoresBefore = await restores();
          await s.start();
          if (before) await rewind!.after(before, { epoch: s.epoch, restoredEpoch: s.restoredEpoch, restoredCheckpoint: (await restores()) > restoresBefore });
        },
        handle: async (m) => {
          if (m.kind === 'publish') this.publishQueued = false;
          await s.handle(m);
          d.metrics.mailbox.set(this.actor.pending);
        },
      };
    }, {
      name: `ps-${d.shard}`,
      mailboxCapacity: d.cfg.mailboxCapacity + 1,
      onRestart: (err, n) => { d.metrics.restarts.inc(); d.log('error', 'shard actor crashed: restarting from the store', { err: String(err), restarts: n }); },
      onFailed: (err) => d.log('error', 'shard actor failed too often: giving up', { err: String(err) }),
    });
  }

  get version(): number { return this.state?.version ?? 0; }
  get epoch(): number { return this.state?.epoch ?? 0; }
  get restoredEpoch(): number { return this.state?.restoredEpoch ?? 0; }
  get persistedVersion(): number { return this.state?.persistedVersion ?? 0; }
  get lrFactor(): number { return this.state?.lrFactor ?? 1; }
  get healthy(): boolean { return this.actor.state === 'running'; }
  /** Ready once restored from the store and subscribed to its pushes and the gate's control, until stopped. */
  readiness(): true | string {
    if (this.actor.state === 'starting') return 'restoring from the store';
    if (this.actor.state !== 'running') return `the shard is ${this.actor.state}`;
    return this.subscribed ? true : 'not subscribed to its push subject';
  }
  paramBytes() { return this.state?.paramBytes() ?? { params: 0, bytes: 0 }; }

  async start(): Promise<void> {
    await this.actor.start();
    this.sub = this.d.transport.subscribe(subjects.push(this.d.model, this.d.shard), (m) => {
      try {
        // One slot is kept for the publish tick so pushes can never starve it.
        if (this.actor.pending >= this.d.cfg.mailboxCapacity) throw new MailboxFullError(this.actor.name, this.d.cfg.mailboxCapacity);
        this.actor.tell({ kind: 'push', data: m.data, respond: m.respond, receivedAtMs: Date.now() });
      } catch (err) {
        this.d.metrics.refused.inc();
        m.respond?.(encodeReply({ ok: false, error: errorToWire(err) }));
      }
    });
    this.controlSub = this.d.transport.subscribe(subjects.psControl(this.d.model), (m) => {
      try {
        const c = decode(m.data) as { lrFactor?: unknown; restoreCheckpoint?: unknown };
        if (typeof c?.lrFactor === 'number') this.actor.tell({ kind: 'control', lrFactor: c.lrFactor });
        if (typeof c?.restoreCheckpoint === 'number' && this.d.serving) void this.restore(c.restoreCheckpoint);
      } catch {
        // A malformed or refused control message changes nothing; the gate repeats it every round.
      }
    });
    this.forgetSub = this.d.transport.subscribe(subjects.psForget(this.d.model, this.d.shard), (m) => {
      try {
        this.actor.tell({ kind: 'forget', data: m.data, respond: m.respond });
        // Published now rather than at the next tick: the tombstones reach the store and replicas at once.
        this.requestPublish();
      } catch (err) {
        m.respond?.(encode({ ok: false, error: errorToWire(err) }));
      }
    });
    this.subscribed = true;
    this.timer = setInterval(() => this.requestPublish(), this.d.cfg.publishIntervalMs);
    // A first publish makes the shard's state (at least its meta) exist in the store.
    this.requestPublish();
  }

  private async restore(id: number): Promise<void> {
    try {
      const bytes = await this.d.serving!.loadCheckpoint(this.d.model, id);
      if (!bytes) throw new Error(`checkpoint ${id} is not stored`);
      this.actor.tell({ kind: 'restore', checkpointId: id, blob: decodeCheckpoint(bytes) });
    } catch (err) {
      this.d.log('error', 'restoring a checkpoint failed; weights unchanged', { checkpointId: id, err: (err as Error).message });
    }
  }

  requestPublish(): void {
    if (this.publishQueued) return;
    // Set before tell(): the actor may run the message synchronously inside tell().
    this.publishQueued = true;
    try {
      this.actor.tell({ kind: 'publish' });
    } catch {
      this.publishQueued = false;
      // Mailbox stopping or full: the next tick tries again.
    }
  }

  /** Publishes what is pending, then stops; idempotent. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.subscribed = false;
    this.sub?.unsubscribe();
    this.controlSub?.unsubscribe();
    this.forgetSub?.unsubscribe();
    if (this.actor.state === 'running') {
      try { this.actor.tell({ kind: 'publish' }); } catch { /* already draining */ }
    }
    await this.actor.stop();
  }
}

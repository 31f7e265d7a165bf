// The actor runtime: a unit of state with one bounded mailbox, processing one message at a
// time. State is never shared: other code reaches an actor only through tell(). A handler
// that throws gets the actor restarted from a fresh behavior (its start() restores state,
// e.g. from the store), up to maxRestarts within restartWindowMs; past that it is failed.
import { MailboxFullError } from './errors.ts';

export type Lifecycle = 'starting' | 'running' | 'draining' | 'stopped' | 'failed';

export interface Behavior<M> {
  /** Restores or builds state before the first message. */
  start?(): Promise<void>;
  handle(msg: M): Promise<void> | void;
  /** Releases resources; called once on stop or before a restart. */
  stop?(): Promise<void>;
}

export interface ActorOptions {
  name: string;
  /** Mailbox capacity in messages; tell() beyond it is refused. Default 1024. */
  mailboxCapacity?: number;
  /** Restarts allowed within restartWindowMs before the actor is failed. Default 5. */
  maxRestarts?: number;
  /** Default 60000. */
  restartWindowMs?: number;
  onRestart?: (err: unknown, restarts: number) => void;
  onFailed?: (err: unknown) => void;
}

export class Actor<M> {
  state: Lifecycle = 'starting';
  readonly name: string;
  private behavior!: Behavior<M>;
  private readonly queue: M[] = [];
  private head = 0;
  private running = false;
  private restartTimes: number[] = [];
  private idleWaiters: (() => void)[] = [];
  private stopping?: Promise<void>;
  /** Messages processed, refused (mailbox full) and lost to a crash. */
  processed = 0;
  refused = 0;
  crashed = 0;

  constructor(private readonly makeBehavior: () => Behavior<M>, private readonly opts: ActorOptions) {
    this.name = opts.name;
  }

  get capacity(): number {
    return this.opts.mailboxCapacity ?? 1024;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  async start(): Promise<void> {
    this.behavior = this.makeBehavior();
    await this.behavior.start?.();
    this.state = 'running';
    this.pump();
  }

  /** Queues a message; throws MailboxFullError when the mailbox is at capacity. */
  tell(msg: M): void {
    if (this.state === 'stopped' || this.state === 'failed' || this.state === 'draining') {
      throw new MailboxFullError(this.name, 0);
    }
    if (this.pending >= this.capacity) {
      this.refused++;
      throw new MailboxFullError(this.name, this.capacity);
    }
    this.queue.push(msg);
    this.pump();
  }

  /** Resolves when the mailbox is empty and no message is being processed. */
  idle(): Promise<void> {
    if (!this.running && this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    if (this.running || this.state !== 'running' && this.state !== 'draining') return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (this.pending > 0 && (this.state === 'running' || this.state === 'draining')) {
      const msg = this.queue[this.head];
      this.queue[this.head++] = undefined as M;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      try {
        await this.behavior.handle(msg);
        this.processed++;
      } catch (err) {
        this.crashed++;
        await this.restart(err);
      }
    }
    this.running = false;
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async restart(err: unknown): Promise<void> {
    const now = Date.now();
    const windowMs = this.opts.restartWindowMs ?? 60_000;
    this.restartTimes = this.restartTimes.filter((t) => now - t < windowMs);
    this.restartTimes.push(now);
    await this.behavior.stop?.().catch(() => undefined);
    if (this.restartTimes.length > (this.opts.maxRestarts ?? 5)) {
      this.state = 'failed';
      this.opts.onFailed?.(err);
      return;
    }
    this.opts.onRestart?.(err, this.restartTimes.length);
    try {
      this.behavior = this.makeBehavior();
      await this.behavior.start?.();
    } catch (startErr) {
      await this.restart(startErr);
    }
  }

  /** Processes what is queued, then stops. Idempotent: every call gets the same promise. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.state === 'running') {
        this.state = 'draining';
        await this.idle();
      }
      if (this.state !== 'failed') this.state = 'stopped';
      await this.behavior?.stop?.().catch(() => undefined);
    })();
    return this.stopping;
  }
}

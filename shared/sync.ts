// Small synchronization primitives: waits on events, never on guessed delays.

export class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise: Promise<T>;
  constructor() {
    this.promise = new Promise<T>((res, rej) => { this.resolve = res; this.reject = rej; });
  }
}

/** A wake-up flag: wait() resolves at the next notify() (or at once if one is pending). */
export class Signal {
  private pending = false;
  private waiter?: Deferred;

  notify(): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve();
    } else this.pending = true;
  }

  wait(timeoutMs?: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    const w = (this.waiter ??= new Deferred());
    const p = w.promise;
    if (timeoutMs === undefined) return p;
    return new Promise<void>((resolve) => {
      // On timeout the waiter is withdrawn, so a later notify() stays pending for the next wait.
      const t = setTimeout(() => { if (this.waiter === w) this.waiter = undefined; resolve(); }, timeoutMs);
      void p.then(() => { clearTimeout(t); resolve(); });
    });
  }
}

/** Counts permits; acquire() waits while none is free. */
export class Semaphore {
  private waiters: (() => void)[] = [];
  constructor(private permits: number) {}

  get available(): number {
    return this.permits;
  }

  async acquire(): Promise<void> {
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }

  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.permits++;
  }
}

/** Polls `cond` until true or the deadline passes: for tests and shutdown, never a bare sleep. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

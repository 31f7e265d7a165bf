// Process shutdown: the steps run once, in order, each even when an earlier one fails,
// on SIGINT/SIGTERM or on request; a second signal or the force timeout exits at once.

export interface ShutdownOptions {
  /** Time allowed for the steps before the process exits anyway. Default 10000 ms. */
  forceAfterMs?: number;
  log?: (msg: string, err?: unknown) => void;
}

export class Shutdown {
  private readonly steps: { name: string; run: () => Promise<void> | void }[] = [];
  private closing?: Promise<void>;

  constructor(private readonly opts: ShutdownOptions = {}) {}

  add(name: string, run: () => Promise<void> | void): this {
    this.steps.push({ name, run });
    return this;
  }

  /** Installs SIGINT/SIGTERM handlers that run the steps, then exit with `code`. */
  onSignals(code = 0): this {
    let signals = 0;
    const handler = (sig: NodeJS.Signals) => {
      if (++signals > 1) process.exit(130);
      this.opts.log?.(`${sig}: shutting down`);
      void this.run().finally(() => process.exit(code));
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return this;
  }

  /** Runs the steps (latest added first). Idempotent: every call gets the same promise. */
  run(): Promise<void> {
    this.closing ??= (async () => {
      const force = setTimeout(() => {
        this.opts.log?.('shutdown timed out: forcing exit');
        process.exit(1);
      }, this.opts.forceAfterMs ?? 10_000);
      force.unref();
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
        } catch (err) {
          this.opts.log?.(`shutdown step ${step.name} failed`, err);
        }
      }
      clearTimeout(force);
    })();
    return this.closing;
  }
}

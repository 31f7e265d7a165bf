// Starting and stopping the service processes of a local run (demo, eval, loadtest): each
// child's output goes to its own log file; a child that dies early is reported with the
// tail of its log; stop() sends SIGTERM, then SIGKILL after a grace period.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childServiceEnv } from '../shared/index.ts';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface Child {
  name: string;
  service: string;
  args: string[];
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  /** Set when the exit is intended (a fault injection): watch() does not report it. */
  expectedExit?: boolean;
}

export class ProcessGroup {
  readonly children: Child[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly logDir: string) {}

  /**
   * Starts `services/<service>/main.ts` with args; its stdout and stderr go to <logDir>/<name>.log.
   * The child's config is its --config file alone: the FLYWHEEL_* variables that would override
   * the file are not passed on (childServiceEnv), so every child agrees with its parent.
   */
  start(name: string, service: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    const logFile = join(this.logDir, `${name}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', service, 'main.ts'), ...args], {
      cwd: REPO_ROOT, env: { ...childServiceEnv(process.env), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
    const child: Child = { name, service, args, proc, logFile, exited };
    this.children.push(child);
    this.watchers.forEach((w) => w(child));
    return child;
  }

  private watchers: ((c: Child) => void)[] = [];

  /** The latest child of that name. */
  get(name: string): Child | undefined {
    return [...this.children].reverse().find((c) => c.name === name);
  }

  /** Kills a child on purpose (e.g. kill -9 for a fault test) and waits for its exit. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.get(name);
    if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
    c.expectedExit = true;
    c.proc.kill(signal);
    await c.exited;
  }

  /** Starts a child again with its previous service and arguments (its log continues). */
  restart(name: string): Child {
    const c = this.get(name);
    if (!c) throw new Error(`no process named ${name}`);
    return this.start(name, c.service, c.args);
  }

  /** Rejects as soon as any child exits while the group is not stopping. */
  watch(): Promise<never> {
    return new Promise((_, reject) => {
      const onChild = (c: Child) => {
        void c.exited.then((code) => {
          if (!this.stopping && !c.expectedExit) reject(new Error(`${c.name} exited with code ${code}; last lines of ${c.logFile}:\n${tail(c.logFile, 15)}`));
        });
      };
      this.children.forEach(onChild);
      this.watchers.push(onChild);
    });
  }

  /** Stops every child (reverse start order); idempotent. */
  stop(graceMs = 8000): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of [...this.children].reverse()) {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
        c.proc.kill('SIGTERM');
        const timer = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
        await c.exited;
        clearTimeout(timer);
      }
    })();
    return this.stopping;
  }
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

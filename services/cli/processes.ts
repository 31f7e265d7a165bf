// Starting and stopping the service processes of a local run (demo, eval, loadtest): each
// child's output goes to its own log file; a child that dies early is reported with the
// tail of its log; stop() sends SIGTERM, then SIGKILL after a grace period.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Child {
  name: string;
  proc: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

export class ProcessGroup {
  readonly children: Child[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly logDir: string) {}

  /** Starts `services/<service>/main.ts` with args; its stdout and stderr go to <logDir>/<name>.log. */
  start(name: string, service: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    const logFile = join(this.logDir, `${name}.log`);
    const out = createWriteStream(logFile);
    const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services', service, 'main.ts'), ...args], {
      cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));
    const child = { name, proc, logFile, exited };
    this.children.push(child);
    return child;
  }

  /** Rejects as soon as any child exits while the group is not stopping. */
  watch(): Promise<never> {
    return new Promise((_, reject) => {
      for (const c of this.children) {
        void c.exited.then((code) => {
          if (!this.stopping) reject(new Error(`${c.name} exited with code ${code}; last lines of ${c.logFile}:\n${tail(c.logFile, 15)}`));
        });
      }
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

// What every service process does around its service: read the arguments and the config,
// connect to NATS, JetStream and Redis, start the service, and stop it (then the connections)
// once on SIGINT/SIGTERM. Each services/<name>/main.ts is one call to this.
import { loadConfig, type FlywheelConfig } from './config.ts';
import { Shutdown } from './lifecycle.ts';
import { createLogger } from './log.ts';
import { connectInfra, parseArgs, type Infra } from './runtime.ts';

export interface ServiceMain {
  /** Service name for logs and the NATS connection. */
  name: string;
  /** Validates the process's own arguments; returns an instance label (e.g. "ps-1") or throws. */
  instance?: (args: Record<string, string>, cfg: FlywheelConfig) => string;
  start: (cfg: FlywheelConfig, infra: Infra, args: Record<string, string>) => Promise<{ stop(): Promise<void> }>;
}

export async function runServiceMain(m: ServiceMain): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cfg = loadConfig({ file: args.config });
  const log = createLogger(m.name);
  let instance = m.name;
  try {
    instance = m.instance ? m.instance(args, cfg) : m.name;
  } catch (err) {
    log.error((err as Error).message);
    process.exit(2);
  }
  const infra = await connectInfra(cfg, instance);
  const service = await m.start(cfg, infra, args);
  new Shutdown({ log: (msg, e) => log.info({ err: e ? String(e) : undefined }, msg) })
    .add('infra', () => infra.close())
    .add(m.name, () => service.stop())
    .onSignals();
}

/** An integer argument in 0..count-1 (a shard or worker index), from the flag or an env variable. */
export function indexArg(args: Record<string, string>, flag: string, env: string, count: number): number {
  const n = Number(args[flag] ?? process.env[env] ?? 0);
  if (!Number.isInteger(n) || n < 0 || n >= count) throw new Error(`--${flag} must be an integer in 0..${count - 1}`);
  return n;
}

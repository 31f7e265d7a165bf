// What every service process does around its service: read the arguments and the config,
// connect to NATS, JetStream and Redis, start the service, and stop it (then the connections)
// once on SIGINT/SIGTERM. Each services/<name>/main.ts is one call to this. `--help` prints the
// usage and starts nothing; bad arguments exit 2 and a failed start exits 1, each with one line
// on stderr and no stack trace.
import { loadConfig, type FlywheelConfig } from './config.ts';
import { UsageError, oneLine, parseCommandLine, type CommandSpec, type OptionSpec, type OptionValues } from './cli-options.ts';
import { Shutdown } from './lifecycle.ts';
import { createLogger } from './log.ts';
import { connectInfra, type Infra } from './runtime.ts';

export interface ServiceMain {
  /** Service name for logs, the NATS connection and `flywheel <name>`. */
  name: string;
  /** One line for the usage text. */
  summary: string;
  /** The service's own flags (--config is every service's). */
  options?: Record<string, OptionSpec>;
  /** Validates the process's own arguments; returns an instance label (e.g. "ps-1") or throws. */
  instance?: (args: OptionValues, cfg: FlywheelConfig) => string;
  start: (cfg: FlywheelConfig, infra: Infra, args: OptionValues) => Promise<{ stop(): Promise<void> }>;
}

/** The command-line declaration of a service process. */
export function serviceCommandSpec(m: Pick<ServiceMain, 'name' | 'summary' | 'options'>): CommandSpec {
  return {
    name: m.name, summary: m.summary,
    options: {
      config: { type: 'string', value: 'FILE', help: 'JSON config over the defaults', defaultText: '$FLYWHEEL_CONFIG' },
      ...m.options,
    },
  };
}

const die = (line: string, code: number): never => {
  process.stderr.write(`${line}\n`);
  process.exit(code);
};

export async function runServiceMain(m: ServiceMain): Promise<void> {
  let args: OptionValues;
  try {
    const parsed = parseCommandLine(serviceCommandSpec(m), process.argv.slice(2));
    if (parsed.help) {
      process.stdout.write(`${parsed.usage}\n`);
      process.exit(0);
    }
    args = parsed.values;
  } catch (err) {
    return die(err instanceof UsageError ? err.message : `flywheel ${m.name}: ${oneLine(err)}`, 2);
  }
  let cfg: FlywheelConfig;
  let instance = m.name;
  try {
    cfg = loadConfig({ file: args.config as string | undefined });
    instance = m.instance ? m.instance(args, cfg) : m.name;
  } catch (err) {
    return die(`${m.name}: ${oneLine(err)}`, 2);
  }
  const log = createLogger(m.name);
  let infra: Infra | undefined;
  let service: { stop(): Promise<void> };
  try {
    infra = await connectInfra(cfg, instance);
    service = await m.start(cfg, infra, args);
  } catch (err) {
    await infra?.close().catch(() => undefined);
    return die(`${instance}: cannot start: ${oneLine(err)}`, 1);
  }
  const started = infra;
  new Shutdown({ log: (msg, e) => log.info({ err: e ? String(e) : undefined }, msg) })
    .add('infra', () => started.close())
    .add(m.name, () => service.stop())
    .onSignals();
}

/** An integer argument in 0..count-1 (a shard or worker index), from the flag or a fallback (an env variable's value). */
export function indexArg(args: OptionValues, flag: string, fallback: string | undefined, count: number): number {
  const n = Number(args[flag] ?? fallback ?? 0);
  if (!Number.isInteger(n) || n < 0 || n >= count) throw new UsageError(`--${flag} must be an integer in 0..${count - 1}, got ${args[flag] ?? fallback}`);
  return n;
}

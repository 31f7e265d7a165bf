// The `flywheel` command: one service process, or a command that drives a local Flywheel.
// Each command declares its options once (shared/cli-options.ts); `flywheel <command> --help`
// prints the usage made from them and starts nothing. Usage errors exit 2, failures 1, each
// with one line on stderr.
import { readFileSync } from 'node:fs';
import { UsageError, oneLine, parseCommandLine, type CommandModule } from '../shared/index.ts';

/**
 * Every command, with the module that holds it. Services run their own main.ts (which also
 * runs without this CLI); the tools and the load generator live beside the services.
 */
const COMMANDS: Record<string, { summary: string; service?: true; module: string; action?: string }> = {
  demo: { summary: 'run the whole system on the Online Retail stream', module: './demo.ts' },
  ps: { summary: 'run one parameter-server shard', service: true, module: '../services/ps/main.ts' },
  worker: { summary: 'run one training worker', service: true, module: '../services/worker/main.ts' },
  inference: { summary: 'run one inference node', service: true, module: '../services/inference/main.ts' },
  ingest: { summary: 'run the ingest service', service: true, module: '../services/ingest/main.ts' },
  validator: { summary: 'run the validation gate', service: true, module: '../services/validator/main.ts' },
  dashboard: { summary: 'serve the live dashboard of every model of the config', service: true, module: '../services/dashboard/main.ts' },
  eval: { summary: 'incremental vs frozen vs periodic retrain on a dataset, for any model kind, beside its baselines', module: '../tools/eval/command.ts' },
  'label-delays': { summary: 'how the figures degrade when outcomes arrive late (risk schemas)', module: '../tools/eval/label-delays.ts' },
  pretrain: { summary: 'train offline on a prefix and seed the PS shards', module: './pretrain-command.ts' },
  rollback: { summary: 'move the serving pointer back', module: './rollback-command.ts' },
  // `flywheel streams ensure`: the action word comes first (the image holds this command: deploy/Dockerfile).
  streams: { summary: 'ensure: create the JetStream streams and buckets (admin NATS user)', module: './streams-command.ts', action: 'ensure' },
  loadtest: { summary: 'replay traffic and measure throughput, freshness, latency', module: '../loadtest/command.ts' },
  chaos: { summary: 'replay a stream while injecting one fault', module: '../tools/chaos/command.ts' },
};

const USAGE = ['usage: flywheel <command> [options]    (flywheel <command> --help for its options)', '',
  ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(11)}${c.summary}`), '',
  '  --version  print the version', '  --help     print this',
  'Configuration: a JSON file (--config or FLYWHEEL_CONFIG) over the defaults; see README.md.'].join('\n');

function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (cmd === '--version' || cmd === '-V') {
  process.stdout.write(`${version()}\n`);
  process.exit(0);
}
const entry = COMMANDS[cmd];
if (!entry) {
  process.stderr.write(`flywheel: unknown ${cmd.startsWith('-') ? 'option' : 'command'} "${cmd}" (see flywheel --help)\n`);
  process.exit(2);
}
if (entry.service) {
  // The service's main.ts reads process.argv itself, as when it is started directly.
  process.argv = [process.argv[0], process.argv[1], ...rest];
  await import(entry.module);
} else {
  let status: number;
  try {
    if (entry.action) {
      if (rest[0] === entry.action) rest.shift();
      else if (rest[0] !== '--help' && rest[0] !== '-h') throw new UsageError(`flywheel ${cmd}: expected "${cmd} ${entry.action}", got ${rest[0] === undefined ? 'nothing' : `"${rest[0]}"`} (see flywheel ${cmd} --help)`);
    }
    const mod = await import(entry.module) as CommandModule;
    const parsed = parseCommandLine(mod.spec, rest);
    if (parsed.help) {
      process.stdout.write(`${parsed.usage}\n`);
      process.exit(0);
    }
    status = await mod.run(parsed);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${cmd} failed: ${oneLine(err)}\n`);
    process.exit(1);
  }
  process.exit(status);
}

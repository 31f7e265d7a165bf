// The `flywheel` command. Subcommands run the demo or one service process.
import { parseArgs } from '../shared/index.ts';

const USAGE = `usage: flywheel <command> [options]
  demo [--events N] [--embedded] [--config FILE]   run the whole system on the Online Retail stream
  ps --shard K [--config FILE]                       run one parameter-server shard
  worker --index I [--config FILE]                   run one training worker
  inference [--config FILE] [--port P]               run one inference node
  ingest [--config FILE] [--port P]                  run the ingest service
  validator [--config FILE] [--port P]               run the validation gate
  eval --schema FILE [options]                       incremental vs frozen vs periodic retrain on a dataset
  pretrain --schema FILE [options]                   train offline on a prefix and seed the PS shards
  rollback [--config FILE] [--to VERSION]            move the serving pointer back
  loadtest [options]                                 replay traffic and measure throughput, freshness, latency
  chaos --scenario NAME [options]                    replay a stream while injecting one fault
Configuration: a JSON file (--config or FLYWHEEL_CONFIG) over the defaults; see README.md.`;

/** Where each command's run(args) lives: the tools and the load generator sit beside the services. */
const COMMAND_MODULES: Record<string, string> = {
  eval: '../tools/eval/command.ts',
  chaos: '../tools/chaos/command.ts',
  loadtest: '../loadtest/command.ts',
  pretrain: './pretrain-command.ts',
  rollback: './rollback-command.ts',
};

const [cmd, ...rest] = process.argv.slice(2);
const args = parseArgs(rest);

switch (cmd) {
  case 'demo': {
    const { runDemo } = await import('./demo.ts');
    const events = args.events ? Number(args.events) : undefined;
    if (events !== undefined && !(Number.isInteger(events) && events > 0)) {
      console.error('--events must be a positive integer');
      process.exit(2);
    }
    try {
      const summary = await runDemo({ events, embedded: args.embedded === 'true', config: args.config });
      console.log(JSON.stringify(summary));
      process.exit(0);
    } catch (err) {
      console.error(`demo failed: ${(err as Error).message}`);
      process.exit(1);
    }
    break;
  }
  case 'eval':
  case 'pretrain':
  case 'rollback':
  case 'loadtest':
  case 'chaos': {
    // Each command lives in its own module, exporting run(args).
    const mod = await import(COMMAND_MODULES[cmd]) as { run(args: Record<string, string>): Promise<number> };
    try {
      process.exit(await mod.run(args));
    } catch (err) {
      console.error(`${cmd} failed: ${(err as Error).message}`);
      process.exit(1);
    }
    break;
  }
  case 'ps':
  case 'validator':
  case 'worker':
  case 'inference':
  case 'ingest':
    process.argv = [process.argv[0], process.argv[1], ...rest];
    await import(`../services/${cmd}/main.ts`);
    break;
  default:
    console.log(USAGE);
    process.exit(cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2);
}

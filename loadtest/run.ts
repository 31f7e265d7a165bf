// `make loadtest ARGS='...'` enters here (the Makefile's LOADTEST): the same as
// `flywheel loadtest ...`, for running the load generator without the CLI wrapper.
import { UsageError, parseCommandLine } from '../shared/index.ts';
import { run, spec } from './command.ts';

try {
  const parsed = parseCommandLine(spec, process.argv.slice(2));
  if (parsed.help) process.stdout.write(`${parsed.usage}\n`);
  else process.exitCode = await run(parsed);
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 2;
}

// `make loadtest ARGS='...'` enters here (the Makefile's LOADTEST): the same as
// `flywheel loadtest ...`, for running the load generator without the CLI wrapper.
import { parseArgs } from '../shared/index.ts';
import { run } from './command.ts';

process.exitCode = await run(parseArgs(process.argv.slice(2)));

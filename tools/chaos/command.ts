// `flywheel chaos --scenario NAME [--events N]`: replays a stream while injecting one fault,
// then prints the checks as one JSON object on the last line.
import { runChaos } from './run.ts';
import { SCENARIOS } from './scenarios.ts';

export async function run(args: Record<string, string>): Promise<number> {
  const scenario = args.scenario;
  if (!scenario || !SCENARIOS[scenario]) {
    console.error(`--scenario must be one of: ${Object.keys(SCENARIOS).join(', ')}`);
    return 2;
  }
  const events = args.events ? Number(args.events) : undefined;
  if (events !== undefined && !(Number.isInteger(events) && events > 0)) {
    console.error('--events must be a positive integer');
    return 2;
  }
  const r = await runChaos(scenario, { events, log: (l) => console.error(l) });
  console.log(JSON.stringify(r));
  return r.eventsLost === 0 ? 0 : 1;
}

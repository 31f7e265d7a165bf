// `flywheel chaos --scenario NAME [--events N]`: replays a stream while injecting one fault,
// then prints the checks as one JSON object on the last line.
import type { CommandSpec, ParsedOptions } from '../../shared/index.ts';
import { runChaos } from './run.ts';
import { SCENARIOS } from './scenarios.ts';

export const spec: CommandSpec = {
  name: 'chaos',
  summary: 'replay a stream on private NATS/Redis while injecting one fault; checks nothing acknowledged is lost',
  options: {
    scenario: { type: 'string', required: true, choices: Object.keys(SCENARIOS), help: 'the fault to inject' },
    events: { type: 'integer', value: 'N', min: 1, help: 'events in the stream', default: 40_000 },
  },
};

export async function run(p: ParsedOptions): Promise<number> {
  const { scenario, events } = p.values as { scenario: string; events: number };
  const r = await runChaos(scenario, { events, log: (l) => console.error(l) });
  console.log(JSON.stringify(r));
  return r.eventsLost === 0 ? 0 : 1;
}

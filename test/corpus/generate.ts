// Writes the bad-input corpus as JSON (deterministic: run it again and git diff shows nothing):
//   node --import tsx test/corpus/generate.ts
// The JSON files are the test data; these generators only save typing them by hand.
import { writeFileSync } from 'node:fs';
import { HTTP_CONFIG, httpCases } from './generate-http.ts';
import { SETUP_PUSH, pushCases } from './generate-push.ts';
import { SETUP_DELTA, deltaCases, eventMessageCases } from './generate-messages.ts';

function write(name: string, body: object): void {
  writeFileSync(new URL(name, import.meta.url), `${JSON.stringify(body, null, 1)}\n`);
}

write('http-events.json', {
  description: 'POST /v1/events bad inputs, against startIngest with an in-process Infra. Each is refused whole: nothing published.',
  config: { ingest: HTTP_CONFIG },
  cases: httpCases(),
});
write('wire-push.json', {
  description: 'Gradient pushes to PS shard 0 of the unit harness (2 shards) after config.setup was applied (version 1).',
  config: { setup: SETUP_PUSH },
  cases: pushCases(),
});
write('wire-delta.json', {
  description: 'Weight deltas to a Replica of the unit model (2 shards) after config.setup was applied to shard 0 (version 1, epoch 1).',
  config: { setup: SETUP_DELTA },
  cases: deltaCases(),
});
write('event-messages.json', {
  description: 'JetStream event messages (msgpack) for the worker\'s parseEventBatch.',
  cases: eventMessageCases(),
});

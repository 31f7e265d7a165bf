// streamReplicas: from the config file to the num_replicas of the stream JetStream is asked to
// create. A fake JetStream manager records the request, so no NATS cluster is needed; whether
// a real cluster places three copies is JetStream's business, not this test's.
import t from 'tap';
import type { NatsConnection } from 'nats';
import { ConfigError, JetStreamEventLog, eventLogOptions, eventStreamConfig, loadConfig, validateConfig } from '../../shared/index.ts';

/** A connection whose JetStream has no stream yet and records what ensure() creates. */
function recordingConnection() {
  const added: Record<string, unknown>[] = [];
  const missing = async () => { throw new Error('stream not found'); };
  const jsm = {
    streams: { info: missing, add: async (cfg: Record<string, unknown>) => { added.push(cfg); return {}; } },
    consumers: { info: missing, add: async () => ({}) },
  };
  const nc = { jetstream: () => ({}), jetstreamManager: async () => jsm } as unknown as NatsConnection;
  return { nc, added };
}

t.test('the default is one replica, and the stream is created with it', async (t) => {
  const cfg = validateConfig({});
  t.equal(cfg.streamReplicas, 1);
  const { nc, added } = recordingConnection();
  await new JetStreamEventLog(nc, eventLogOptions(cfg)).ensure();
  t.equal(added.length, 1, 'one stream created');
  t.equal(added[0].num_replicas, 1);
});

t.test('streamReplicas 3 in a config file reaches num_replicas of the created stream', async (t) => {
  const dir = t.testdir({ 'flywheel.json': JSON.stringify({ model: 'shop', streamReplicas: 3 }) });
  const cfg = loadConfig({ file: `${dir}/flywheel.json`, env: {} });
  const { nc, added } = recordingConnection();
  await new JetStreamEventLog(nc, eventLogOptions(cfg)).ensure();
  t.equal(added.length, 1);
  t.equal(added[0].num_replicas, 3);
  t.equal(added[0].name, 'FW_shop_EVENTS', 'the stream of the config');
});

t.test('eventStreamConfig keeps the other settings beside the replicas', async (t) => {
  const c = eventStreamConfig({ model: 'm', stream: 's', replicas: 5, maxAgeMs: 3_600_000 });
  t.equal(c.num_replicas, 5);
  t.equal(c.name, 'FW_s_EVENTS');
  t.same(c.subjects, ['fw.s.events.>']);
  t.equal(c.max_age, 3_600_000 * 1e6, 'max_age in nanoseconds');
});

t.test('streamReplicas must be an integer in 1..5, and the error names it', async (t) => {
  for (const bad of [0, 6, 2.5, '3']) {
    try {
      validateConfig({ streamReplicas: bad });
      t.fail(`accepted streamReplicas ${JSON.stringify(bad)}`);
    } catch (err) {
      t.ok(err instanceof ConfigError, `${JSON.stringify(bad)}: a ConfigError`);
      t.match((err as Error).message, /streamReplicas/, `${JSON.stringify(bad)}: ${(err as Error).message}`);
    }
  }
});

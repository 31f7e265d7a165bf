// `flywheel streams ensure [--config FILE]`: creates what is missing of the JetStream objects
// the config needs (the events stream, every model's durable consumers, the PS ledger and rewind
// buckets) with the config's settings (streamReplicas, streamRetentionHours, eventShards), and
// prints one JSON line saying what it created and what already existed. Run it as the admin
// NATS user before the services (deploy/README.md, "Creating the streams"): under the per-role
// users of deploy/nats, ingest and the workers may not create streams. It changes nothing that
// exists; settings that differ from the config's are printed on stderr and exit 0.
import { connectNats, givenAsStrings, loadConfig, type CommandSpec, type ParsedOptions } from '../shared/index.ts';
import { ensureJetStreamObjects } from '../shared/jetstream-setup.ts';

export const spec: CommandSpec = {
  name: 'streams ensure',
  summary: 'create the events stream, its consumers and the PS buckets as the config says (admin NATS user)',
  options: {
    config: { type: 'string', value: 'FILE', help: 'JSON config over the defaults', defaultText: '$FLYWHEEL_CONFIG' },
  },
  notes: 'Connects as FLYWHEEL_NATS_URL / FLYWHEEL_NATS_USER and _PASSWORD say: the admin user under deploy/nats.',
};

export async function run(p: ParsedOptions): Promise<number> {
  const args = givenAsStrings(p);
  const cfg = loadConfig({ file: args.config });
  const nc = await connectNats(cfg.natsUrl, 'flywheel-streams', { maxReconnectAttempts: 0 });
  try {
    const report = await ensureJetStreamObjects(nc, cfg);
    for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`${JSON.stringify({
      stream: cfg.stream, models: cfg.models.map((m) => m.name), replicas: cfg.streamReplicas,
      created: report.items.filter((i) => i.created).map((i) => i.name),
      existed: report.items.filter((i) => !i.created).map((i) => i.name),
    })}\n`);
    return 0;
  } finally {
    await nc.close();
  }
}

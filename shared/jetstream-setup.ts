// The JetStream objects a Flywheel config needs, created as its settings say: the events stream
// FW_<stream>_EVENTS, the durable consumers fw_<model>_events_<s> of every model of the config,
// and the PS shards' key-value buckets (fw_ps_ledger, fw_ps_rewinds). Under the per-role users
// of deploy/nats only the admin user may create streams, so this is an admin step
// (`flywheel streams ensure`: the k8s Job flywheel-streams, compose's one-shot "streams");
// without NATS users the services create the same objects themselves (ensure()).
// An object that exists keeps its settings; one whose settings differ is reported, not changed.
import type { NatsConnection } from 'nats';
import { forModel, type FlywheelConfig } from './config.ts';
import { JetStreamEventLog, consumerName, isStreamNotFound, streamName } from './eventlog/jetstream.ts';
import { eventLogOptions } from './runtime.ts';
import { JetStreamLedger, LEDGER_BUCKET } from './store/ledger.ts';
import { JetStreamRewindStore, REWIND_BUCKET } from './store/rewinds.ts';

export interface JetStreamSetupItem {
  kind: 'stream' | 'consumer' | 'bucket';
  /** The JetStream name (a bucket's stream is KV_<bucket>). */
  name: string;
  /** false: it existed already (and kept its settings). */
  created: boolean;
}

export interface JetStreamSetupReport {
  items: JetStreamSetupItem[];
  /** Settings that differ from the config's, one line each (the objects keep their own). */
  warnings: string[];
}

/** Creates what is missing of the config's JetStream objects; says what it created and what differs. */
export async function ensureJetStreamObjects(nc: NatsConnection, cfg: FlywheelConfig): Promise<JetStreamSetupReport> {
  const jsm = await nc.jetstreamManager();
  const warnings: string[] = [];
  const onWarning = (m: string) => warnings.push(m);
  const streamExists = async (name: string) => jsm.streams.info(name).then(() => true, (err: unknown) => {
    if (isStreamNotFound(err)) return false;
    throw err;
  });
  const items: JetStreamSetupItem[] = [];
  const events = streamName(cfg.stream);
  const hadEvents = await streamExists(events);
  let first = true;
  for (const m of cfg.models) {
    const mcfg = forModel(cfg, m.name);
    const had = await Promise.all(Array.from({ length: mcfg.eventShards }, (_, s) => jsm.consumers.info(events, consumerName(m.name, s)).then(() => true, () => false)));
    // The stream is checked (and its settings compared) once; each model adds its consumers.
    await new JetStreamEventLog(nc, { ...eventLogOptions(mcfg), missingStreamWaitMs: 0, onWarning: first ? onWarning : undefined }).ensure();
    if (first) items.push({ kind: 'stream', name: events, created: !hadEvents });
    first = false;
    had.forEach((h, s) => items.push({ kind: 'consumer', name: `${events}/${consumerName(m.name, s)}`, created: !h }));
  }
  for (const [bucket, make] of [
    [LEDGER_BUCKET, () => new JetStreamLedger(nc, { replicas: cfg.streamReplicas, onWarning }).ensure()],
    [REWIND_BUCKET, () => new JetStreamRewindStore(nc, cfg.streamReplicas, onWarning).ensure()],
  ] as const) {
    const had = await streamExists(`KV_${bucket}`);
    await make();
    items.push({ kind: 'bucket', name: `KV_${bucket}`, created: !had });
  }
  return { items, warnings };
}

// `flywheel demo`: the whole system on this machine, learning from a real e-commerce stream
// (UCI Online Retail) replayed through ingest, with progress while it runs and a JSON summary
// as the last line of output.
import { join } from 'node:path';
import {
  ReportAggregator, loadConfig, type CommandSpec, type FlywheelConfig, type FlywheelEvent, type ParsedOptions,
} from '../shared/index.ts';
import { resolveModel } from '../shared/models/registry.ts';
import { DEMO_DATA_PATH, onlineRetailEvents } from '../shared/datasets/online-retail.ts';
import { replayUntilTrained } from '../cluster/replay-until-trained.ts';
import { ensureServices } from '../cluster/infra-check.ts';
import { resetModel, startLocalCluster } from '../cluster/local-cluster.ts';
import { REPO_ROOT } from '../cluster/processes.ts';

export interface DemoOptions {
  events?: number;
  embedded?: boolean;
  config?: string;
  say?: (line: string) => void;
}

/** The demo's model: Online Retail purchases as implicit feedback, 2 PS shards, 2 workers. */
export function demoConfig(file?: string): FlywheelConfig {
  return loadConfig({
    file,
    overrides: file ? undefined : {
      model: 'retaildemo', psShards: 2, workers: 2, eventShards: 4,
      settings: { labels: { kind: 'implicit', negatives: 4 }, fields: ['user', 'item', 'hour', 'weekday', 'country'] },
    },
  });
}

export const spec: CommandSpec = {
  name: 'demo',
  summary: 'run the whole system on the Online Retail stream and print a JSON summary last',
  options: {
    events: { type: 'integer', value: 'N', min: 1, help: 'replay only the first N purchases', defaultText: 'all 397884' },
    embedded: { type: 'boolean', help: 'every service in this process over the in-process transport' },
    config: { type: 'string', value: 'FILE', help: 'JSON config instead of the demo\'s own settings' },
  },
};

export async function run(p: ParsedOptions): Promise<number> {
  const v = p.values as { events?: number; embedded?: boolean; config?: string };
  const summary = await runDemo({ events: v.events, embedded: v.embedded, config: v.config });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export async function runDemo(o: DemoOptions = {}): Promise<Record<string, unknown>> {
  const say = o.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const cfg = demoConfig(o.config);
  let embedded = o.embedded ?? false;
  if (!embedded && !(await ensureServices(cfg.natsUrl, cfg.redisUrl, say))) {
    say('NATS and Redis cannot be had on this machine: running everything in one process (embedded mode).');
    embedded = true;
  }
  if (!embedded) await resetModel(cfg);
  // In the embedded mode every service logs into this terminal: keep it to warnings.
  if (embedded) process.env.FLYWHEEL_LOG_LEVEL ??= 'warn';
  const logDir = join(REPO_ROOT, 'reports', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  say(`Flywheel demo: ${cfg.psShards} PS shards, ${cfg.workers} workers, 1 inference node, ingest${embedded ? ' (embedded mode)' : ' as separate processes over NATS + Redis'}`);
  say(`data: UCI Online Retail (Chen, 2015; CC0), ${o.events ? `first ${fmt(o.events)} purchases` : 'every purchase'}; logs in ${logDir}`);
  const t0 = Date.now();
  const cluster = await startLocalCluster(cfg, { embedded, logDir });
  const kind = resolveModel(cfg).kind;
  const metric = kind.metric;
  const H = metric.headline;
  const agg = new ReportAggregator(cfg.worker.evalBucketMs, metric);
  let backend = 'unknown';
  cluster.onReport((r) => { agg.add(r); backend = r.backend; });
  say(`services up in ${((Date.now() - t0) / 1000).toFixed(1)} s; replaying through ${cluster.ingestUrl}/v1/events`);

  const trained = () => agg.total('eventsTrained');
  let sent = 0;
  let lastAt = Date.now();
  let lastTrained = 0;
  const progressLine = async () => {
    const now = Date.now();
    const rate = ((trained() - lastTrained) * 1000) / Math.max(1, now - lastAt);
    lastAt = now;
    lastTrained = trained();
    const model = await fetch(`${cluster.inferenceUrl}/v1/model`).then((r) => r.json() as Promise<Record<string, unknown>>).catch(() => undefined);
    const w = agg.windows(1)[0];
    say(`[${((now - t0) / 1000).toFixed(0).padStart(4)} s] sent ${fmt(sent)}  trained ${fmt(trained())}  ${fmt(rate)} events/s  `
      + `prequential ${H} ${w ? w.headline.toFixed(3) : '-'}  versions ${JSON.stringify(model?.versions ?? [])}  `
      + `freshness p50 ${model?.freshnessP50Ms != null ? fmt(model.freshnessP50Ms as number) : '-'} ms`);
  };
  const trainStart = Date.now();
  try {
    const source = onlineRetailEvents(DEMO_DATA_PATH, { limit: o.events });
    await replayUntilTrained({
      events: source as AsyncIterable<FlywheelEvent>,
      to: { ingestUrl: cluster.ingestUrl, batchEvents: 500, concurrency: 2, maxBacklogEvents: 4000 },
      trained, failed: cluster.failed, onSent: (n) => { sent = n; },
      onProgress: () => void progressLine(), progressIntervalMs: 3000,
      stallTimeoutMs: 120_000, stallHint: `see ${logDir}`,
    });
    const trainMs = Date.now() - trainStart;
    const model = await fetch(`${cluster.inferenceUrl}/v1/model`).then((r) => r.json() as Promise<Record<string, any>>);
    const windows = agg.windows(10);
    const overall = agg.overall();
    const summary = {
      eventsSent: sent,
      eventsTrained: trained(),
      examplesTrained: agg.total('examples'),
      eventsPerSec: Math.round((trained() * 1000) / trainMs),
      versions: model.versions,
      kind: kind.kind,
      [`${H}FirstWindow`]: round(windows[0]?.headline),
      [`${H}LastWindow`]: round(windows[windows.length - 1]?.headline),
      [`${H}ByWindow`]: windows.map((w) => round(w.headline)),
      [`${H}Overall`]: round(overall.headline),
      ...(overall.figures.logLoss !== undefined ? { logLossOverall: round(overall.figures.logLoss) } : {}),
      // A kind without baselines (CTR's come with the CTR-quality issue) prints none.
      ...(Object.keys(overall.baselines).length
        ? { baselinesOverall: Object.fromEntries(Object.entries(overall.baselines).map(([k, f]) => [k, round(f[H])])) } : {}),
      freshnessP50Ms: model.freshnessP50Ms === null ? null : Math.round(model.freshnessP50Ms),
      freshnessP99Ms: model.freshnessP99Ms === null ? null : Math.round(model.freshnessP99Ms),
      backend,
      mode: embedded ? 'embedded' : 'processes',
      durationMs: Date.now() - t0,
    };
    return summary;
  } finally {
    say('stopping the services');
    await cluster.stop();
  }
}

function round(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10000) / 10000;
}

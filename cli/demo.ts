// `flywheel demo`: the whole system on this machine, learning from a real e-commerce stream
// (UCI Online Retail) replayed through ingest, with progress while it runs and a JSON summary
// as the last line of output.
import { join } from 'node:path';
import {
  ConfigError, ReportAggregator, loadConfig, modelDecl, type CommandSpec, type FlywheelConfig, type FlywheelEvent, type ParsedOptions,
} from '../shared/index.ts';
import { modelKind } from '../shared/models/registry.ts';
import { KIND_NAMES } from '../shared/models/kind-specs.ts';
import type { MetricDef } from '../shared/models/types.ts';
import { DEMO_DATA_PATH, onlineRetailEvents } from '../shared/datasets/online-retail.ts';
import { replayUntilTrained } from '../cluster/replay-until-trained.ts';
import { ensureServices } from '../cluster/infra-check.ts';
import { resetModel, startLocalCluster, type ClusterModel } from '../cluster/local-cluster.ts';
import { REPO_ROOT } from '../cluster/processes.ts';

export interface DemoOptions {
  events?: number;
  embedded?: boolean;
  config?: string;
  /** Model kinds to run side by side from the one replay (default: DEMO_KINDS). */
  kinds?: string[];
  say?: (line: string) => void;
}

/** What the demo trains by default: click prediction and item-day demand, from the one replay. */
export const DEMO_KINDS: string[] = ['ctr', 'demand'];

/** Each kind's demo settings on Online Retail; a kind not named here runs with its defaults. */
const DEMO_SETTINGS: Record<string, Record<string, unknown>> = {
  ctr: { labels: { kind: 'implicit', negatives: 4 }, fields: ['user', 'item', 'hour', 'weekday', 'country'] },
  // The shop's announced closures (Christmas, Easter); Saturdays it learns from the stream.
  demand: { closures: [['2010-12-24', '2011-01-03'], ['2011-04-22', '2011-04-25']] },
};

/**
 * The demo's models: Online Retail purchases, 2 PS shards and 2 workers each. The first kind's
 * model is `retaildemo` (and names the event stream), every further one `retaildemo_<kind>`.
 */
export function demoConfig(file?: string, kinds: string[] = DEMO_KINDS): FlywheelConfig {
  if (file) return loadConfig({ file });
  return loadConfig({
    overrides: {
      psShards: 2, workers: 2, eventShards: 4,
      models: kinds.map((kind, j) => ({ name: j === 0 ? 'retaildemo' : `retaildemo_${kind}`, kind, settings: DEMO_SETTINGS[kind] ?? {} })),
    },
  });
}

/** "ctr,value" -> ['ctr', 'value'], each a known kind, none twice. */
export function parseKinds(list: string): string[] {
  const kinds = list.split(',').map((k) => k.trim()).filter(Boolean);
  if (kinds.length === 0) throw new ConfigError('--kinds', 'name at least one model kind');
  for (const k of kinds) if (!KIND_NAMES.includes(k)) throw new ConfigError('--kinds', `unknown model kind "${k}" (known: ${KIND_NAMES.join(', ')})`);
  if (new Set(kinds).size !== kinds.length) throw new ConfigError('--kinds', `a kind is named twice in "${list}"`);
  return kinds;
}

export const spec: CommandSpec = {
  name: 'demo',
  summary: 'run the whole system on the Online Retail stream and print a JSON summary last',
  options: {
    events: { type: 'integer', value: 'N', min: 1, help: 'replay only the first N purchases', defaultText: 'all 397884' },
    kinds: { type: 'string', value: 'LIST', help: `model kinds trained side by side from the one replay, e.g. ctr,value (known: ${KIND_NAMES.join(', ')})`, default: DEMO_KINDS.join(',') },
    embedded: { type: 'boolean', help: 'every service in this process over the in-process transport (one model)' },
    config: { type: 'string', value: 'FILE', help: 'JSON config instead of the demo\'s own settings (every model it declares runs)' },
  },
};

export async function run(p: ParsedOptions): Promise<number> {
  const v = p.values as { events?: number; embedded?: boolean; config?: string; kinds?: string };
  if (v.config && p.given.has('kinds')) throw new ConfigError('--kinds', 'give --kinds or --config, not both (a config declares its own models)');
  const summary = await runDemo({ events: v.events, embedded: v.embedded, config: v.config, kinds: parseKinds(v.kinds ?? DEMO_KINDS.join(',')) });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return 0;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** One model of the run: its reports, aggregated by its kind's metric. */
interface DemoModel {
  m: ClusterModel;
  metric: MetricDef;
  agg: ReportAggregator;
}

export async function runDemo(o: DemoOptions = {}): Promise<Record<string, unknown>> {
  const say = o.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const cfg = demoConfig(o.config, o.kinds);
  let embedded = o.embedded ?? false;
  if (!embedded && !(await ensureServices(cfg.natsUrl, cfg.redisUrl, say))) {
    say('NATS and Redis cannot be had on this machine: running everything in one process (embedded mode).');
    embedded = true;
  }
  if (embedded && cfg.models.length > 1) say(`embedded mode runs one model: ${cfg.model} (the others need NATS + Redis)`);
  if (!embedded) await resetModel(cfg);
  // In the embedded mode every service logs into this terminal: keep it to warnings.
  if (embedded) process.env.FLYWHEEL_LOG_LEVEL ??= 'warn';
  const logDir = join(REPO_ROOT, 'reports', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const running = embedded ? [modelDecl(cfg)] : cfg.models;
  say(`Flywheel demo: ${running.map((m) => `${m.name} (${m.kind})`).join(' and ')}; ${cfg.psShards} PS shards, ${cfg.workers} workers and 1 inference node per model, one ingest`
    + `${embedded ? ' (embedded mode)' : ', as separate processes over NATS + Redis'}`);
  say(`data: UCI Online Retail (Chen, 2015; CC0), ${o.events ? `first ${fmt(o.events)} purchases and returns` : 'every purchase and return (cancelled invoices)'}; logs in ${logDir}`);
  const t0 = Date.now();
  const cluster = await startLocalCluster(cfg, { embedded, logDir, dashboard: true });
  let backend = 'unknown';
  const models: DemoModel[] = cluster.models.map((m) => {
    const metric = modelKind(m.kind).metric;
    const agg = new ReportAggregator(cfg.worker.evalBucketMs, metric);
    m.onReport((r) => { agg.add(r); backend = r.backend; });
    return { m, metric, agg };
  });
  say(`services up in ${((Date.now() - t0) / 1000).toFixed(1)} s; replaying through ${cluster.ingestUrl}/v1/events`);
  say(`live dashboard: ${cluster.dashboardUrl} (open it in a browser; it stays up until the replay ends)`);

  // The replay waits for the slowest model: every model trains every event.
  const trained = () => Math.min(...models.map((d) => d.agg.total('eventsTrained')));
  let sent = 0;
  let lastAt = Date.now();
  let lastTrained = 0;
  const progressLine = async () => {
    const now = Date.now();
    const rate = ((trained() - lastTrained) * 1000) / Math.max(1, now - lastAt);
    lastAt = now;
    lastTrained = trained();
    const parts = await Promise.all(models.map(async (d) => {
      const model = await fetch(`${d.m.inferenceUrl}/v1/model`).then((r) => r.json() as Promise<Record<string, unknown>>).catch(() => undefined);
      const w = d.agg.buckets.size ? d.agg.overall() : undefined;
      return `${models.length > 1 ? `${d.m.name}: ` : ''}prequential ${d.metric.headline} ${w && Number.isFinite(w.headline) ? w.headline.toFixed(3) : '-'}  versions ${JSON.stringify(model?.versions ?? [])}  `
        + `freshness p50 ${model?.freshnessP50Ms != null ? fmt(model.freshnessP50Ms as number) : '-'} ms`;
    }));
    say(`[${((now - t0) / 1000).toFixed(0).padStart(4)} s] sent ${fmt(sent)}  trained ${fmt(trained())}  ${fmt(rate)} events/s  ${parts.join(' | ')}`);
  };
  const trainStart = Date.now();
  try {
    // Cancellations travel as returns: the demand kind nets them out, the CTR kind ignores them.
    const source = onlineRetailEvents(DEMO_DATA_PATH, { limit: o.events, returns: true });
    await replayUntilTrained({
      events: source as AsyncIterable<FlywheelEvent>,
      to: { ingestUrl: cluster.ingestUrl, batchEvents: 500, concurrency: 2, maxBacklogEvents: 4000 },
      trained, failed: cluster.failed, onSent: (n) => { sent = n; },
      onProgress: () => void progressLine(), progressIntervalMs: 3000,
      stallTimeoutMs: 120_000, stallHint: `see ${logDir}`,
    });
    const trainMs = Date.now() - trainStart;
    const figures = await Promise.all(models.map((d) => modelSummary(d)));
    return {
      eventsSent: sent,
      eventsTrained: trained(),
      // The first model's figures at the top level (a one-model demo prints only these) ...
      ...figures[0],
      eventsPerSec: Math.round((trained() * 1000) / trainMs),
      // Each worker process trains on one tfjs thread; every model's workers split the events:
      // the events one worker trained per second (on 2 cores they share the cores with the rest).
      eventsPerSecPerWorker: Math.round((trained() * 1000) / trainMs / cfg.workers),
      // ... and every model's, by name, when there are several.
      ...(models.length > 1 ? { models: Object.fromEntries(models.map((d, j) => [d.m.name, figures[j]])) } : {}),
      backend,
      mode: embedded ? 'embedded' : 'processes',
      durationMs: Date.now() - t0,
    };
  } finally {
    say('stopping the services');
    await cluster.stop();
  }
}

/** A model's figures: examples, versions, its headline metric by window and overall, its baselines, freshness. */
async function modelSummary(d: DemoModel): Promise<Record<string, unknown>> {
  const H = d.metric.headline;
  const model = await fetch(`${d.m.inferenceUrl}/v1/model`).then((r) => r.json() as Promise<Record<string, any>>);
  const windows = d.agg.windows(10);
  const overall = d.agg.overall();
  return {
    examplesTrained: d.agg.total('examples'),
    versions: model.versions,
    kind: d.m.kind,
    [`${H}FirstWindow`]: round(windows[0]?.headline),
    [`${H}LastWindow`]: round(windows[windows.length - 1]?.headline),
    [`${H}ByWindow`]: windows.map((w) => round(w.headline)),
    [`${H}Overall`]: round(overall.headline),
    ...(overall.figures.logLoss !== undefined ? { logLossOverall: round(overall.figures.logLoss) } : {}),
    // A kind without baselines prints none.
    ...(Object.keys(overall.baselines).length
      ? { baselinesOverall: Object.fromEntries(Object.entries(overall.baselines).map(([k, f]) => [k, round(f[H])])) } : {}),
    freshnessP50Ms: model.freshnessP50Ms === null ? null : Math.round(model.freshnessP50Ms),
    freshnessP99Ms: model.freshnessP99Ms === null ? null : Math.round(model.freshnessP99Ms),
  };
}

function round(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10000) / 10000;
}

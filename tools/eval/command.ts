// `flywheel eval --schema FILE [--kind K]`: replays a dataset through the real services
// (incremental, as Flywheel runs) and, on the same examples in-process, trains the frozen and
// periodic-retrain ways and an online twin of the workers, and runs the kind's baselines
// prequentially; every way and baseline is scored by the kind's own metric per window and
// overall. Writes reports/eval-<dataset>-<ts>/report.json and report.html, and prints one JSON
// line of the overall figures (the headline first) per way and baseline, last.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  givenAsStrings, loadConfig, serverEnv, type CommandSpec, type FlywheelConfig, type FlywheelEvent, type ParsedOptions,
} from '../../shared/index.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { loadSchema, loadSummary, schemaConfig, schemaEvents, type DatasetSchema } from '../../shared/datasets/schema.ts';
import { newLoadStats } from '../../shared/datasets/csv.ts';
import { modelKind, resolveModel } from '../../shared/models/registry.ts';
import { runBaselines } from './baselines.ts';
import { bucketWindows, countNames, figuresOf, wayFigures, windowSpan, type Figures } from './metrics.ts';
import { runFrozenAndPeriodic, runIncrementalTwin } from './offline.ts';
import { EVAL_DEFAULTS, TWIN_OPTIONS, chooseBucketMs, evalOptions, firstEvalWindow } from './protocol.ts';
import { writeReport } from './report.ts';
import { runThroughServices, type ServicesResult } from './services-run.ts';
import { buildEvalStream } from './stream.ts';
import { REPO_ROOT } from '../../cluster/processes.ts';

// Ranges are checked by evalOptions (protocol.ts), with the flag's name.
export const spec: CommandSpec = {
  name: 'eval',
  summary: 'the same stream three ways: incremental (the real services), frozen after a prefix, retrained periodically; with the kind\'s baselines',
  options: {
    schema: { type: 'string', value: 'FILE', required: true, help: 'dataset schema (datasets/*.json)' },
    kind: { type: 'string', value: 'KIND', help: 'model kind to evaluate; another than the schema\'s uses its own default settings (and --config\'s)', defaultText: 'the schema\'s' },
    'max-events': { type: 'integer', value: 'N', help: 'read at most N events', defaultText: 'all' },
    'outcome-delay-days': { type: 'number', min: 0, max: 3650, value: 'DAYS', help: 'schemas with an outcome: days from a row to its outcome event (0 = labels on time)', defaultText: 'the schema\'s' },
    config: TWIN_OPTIONS.config,
    out: { type: 'string', value: 'DIR', help: 'report directory', defaultText: 'reports/eval-<dataset>-<time>' },
    'skip-services': { type: 'boolean', help: 'in-process ways only (no NATS/Redis)' },
    windows: { type: 'integer', help: 'windows of equal example count', default: EVAL_DEFAULTS.windows },
    'frozen-fraction': { type: 'number', help: 'frozen way: trained on this leading fraction', default: EVAL_DEFAULTS.frozenFraction },
    'eval-from': { type: 'number', help: 'overall figures cover the examples from this fraction on', default: EVAL_DEFAULTS.evalFromFraction },
    epochs: { type: 'integer', help: 'passes of each offline (re)training', default: EVAL_DEFAULTS.epochs },
    'batch-size': TWIN_OPTIONS['batch-size'],
    'rank-positives': { type: 'integer', help: 'ranking probes (kinds that have them): positives per window', default: EVAL_DEFAULTS.rankPositivesPerWindow },
    'rank-candidates': { type: 'integer', help: 'ranking probes: sampled candidates per positive', default: EVAL_DEFAULTS.rankCandidates },
    'rank-k': { type: 'integer', help: 'ranking probes: cut-off K of HR@K and NDCG@K', default: EVAL_DEFAULTS.rankK },
    'rank-seed': { type: 'integer', help: 'ranking probes: seed of the candidates\' sampling', default: EVAL_DEFAULTS.rankSeed },
    'ps-shards': { type: 'integer', min: 1, max: 64, help: 'PS shards of the incremental way', default: 1 },
    'replay-fraction': { type: 'number', min: 0, max: 4, help: 'share of past examples mixed into online training', default: 0 },
  },
};

/**
 * The schema's config overrides for model kind `kind`: the schema's own settings (fields,
 * label rule) are for the schema's kind; any other kind starts from its defaults, which a
 * --config file may set.
 */
export function evalOverrides(schema: DatasetSchema, kind?: string): Record<string, unknown> {
  const o = schemaConfig(schema);
  if (kind === undefined || kind === o.kind) return o;
  modelKind(kind); // an unknown kind fails here, naming the known ones
  const { settings: _schemaSettings, ...rest } = o;
  return { ...rest, kind };
}

/**
 * The config of the incremental way's services (written to the file they start with): the
 * schema's settings, a fresh model name, one worker on one event shard, and the servers the
 * environment names (FLYWHEEL_NATS_URL/REDIS_URL), as eval's own connections use.
 */
export function servicesConfig(dataset: string, overrides: Record<string, unknown>,
  o: { config?: string; psShards: number; bucketMs: number }, env: NodeJS.ProcessEnv = process.env): FlywheelConfig {
  return loadConfig({ file: o.config, env: serverEnv(env), overrides: {
    ...overrides, model: `eval_${dataset.replace(/[^A-Za-z0-9_]/g, '_')}_${randomBytes(3).toString('hex')}`,
    psShards: o.psShards, workers: 1, eventShards: 1,
    worker: { ...((overrides.worker as object | undefined) ?? {}), evalBucketMs: o.bucketMs, metricsIntervalMs: 500 },
  } });
}

const round = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null);

/** The metric's figures of a row (no counts, no probe figures), rounded for the summary line. */
const summaryOf = (names: readonly string[], f: Figures) => Object.fromEntries(names.map((k) => [k, round(f[k])]));

export async function run(p: ParsedOptions): Promise<number> {
  const args = givenAsStrings(p);
  const o = evalOptions(args);
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const t0 = Date.now();
  const schema = loadSchema(args.schema);
  const overrides = evalOverrides(schema, args.kind);
  if (args['replay-fraction'] !== undefined) {
    const f = Number(args['replay-fraction']);
    if (!(f >= 0 && f <= 4)) throw new Error('--replay-fraction must be a number in 0..4');
    // The online ways (the services' workers and the twin) mix this share of past examples in.
    overrides.worker = { ...((overrides.worker as object | undefined) ?? {}), replayFraction: f };
  }
  // The servers come from the environment (FLYWHEEL_NATS_URL/REDIS_URL) like every command's;
  // the rest of it (model, topology) would change what is evaluated, so it is not read.
  const base = loadConfig({ file: args.config, overrides, env: serverEnv() });
  if (base.worker.batchSize !== o.batchSize && args['batch-size'] === undefined) o.batchSize = base.worker.batchSize;
  const model = resolveModel(base);
  const { kind } = model;
  const metric = kind.metric;
  const backend = await initTensorBackend(() => undefined);

  const stats = newLoadStats();
  const events: FlywheelEvent[] = [];
  if (args['outcome-delay-days'] !== undefined && !schema.fields.outcome) throw new Error(`--outcome-delay-days: ${args.schema} has no fields.outcome`);
  const outcomeDelayDays = args['outcome-delay-days'] !== undefined ? Number(args['outcome-delay-days']) : undefined;
  for await (const b of schemaEvents(schema, { limit: o.maxEvents, stats, outcomeDelayDays })) for (const e of b) events.push(e);
  if (events.length === 0) throw new Error(`${args.schema}: no events (read ${stats.rowsRead} rows, dropped ${JSON.stringify(stats.dropped)})`);
  for (const l of loadSummary(schema, stats)) say(l);
  const stream = buildEvalStream(events, base, o);
  const probes = stream.extras.probes;
  const first = firstEvalWindow(o);
  say(`eval ${schema.name}, kind ${kind.kind} (${metric.headline}, ${metric.higherIsBetter ? 'higher' : 'lower'} is better): `
    + `${events.length.toLocaleString('en-US')} events -> ${stream.size.toLocaleString('en-US')} examples `
    + `(${((Date.now() - t0) / 1000).toFixed(1)} s)${probes ? `; ${probes.count} ${probes.name} probe sets` : ''}; tfjs ${backend}`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = args.out ?? join(REPO_ROOT, 'reports', `eval-${schema.name}-${stamp}`);
  let services: ServicesResult | undefined;
  if (!o.skipServices) {
    const bucketMs = chooseBucketMs(stream.examples.eventTs);
    const psShards = args['ps-shards'] ? Number(args['ps-shards']) : 1;
    // One worker on one event shard sees the stream in replay order, so it builds the same
    // examples (and draws the same negatives) as the in-process ways.
    const cfg = servicesConfig(schema.name, overrides, { config: args.config, psShards, bucketMs });
    say(`incremental: the real services (${psShards} PS shard(s), 1 worker, 1 event shard, evalBucketMs ${bucketMs}) over NATS + Redis`);
    services = await runThroughServices(cfg, {
      events, bucketWindow: bucketWindows(stream, bucketMs, o.windows), windows: o.windows, firstEvalWindow: first, metric, logDir: dir, say,
    });
    say(`  done in ${(services.durationMs / 1000).toFixed(1)} s: ${metric.headline} ${services.overall.figures[metric.headline]?.toFixed(4)}`);
  }
  say('incremental twin (in-process, online, one pass)');
  const twin = runIncrementalTwin(stream, base, o);
  say(`  ${(twin.trainMs / 1000).toFixed(1)} s`);
  say(`frozen (first ${o.frozenFraction * 100}%, ${o.epochs} epochs) and periodic (from scratch every 1/${o.windows}, ${o.epochs} epochs)`);
  const { frozen, periodic } = runFrozenAndPeriodic(stream, base, o, say);
  const width = twin.scores.length / stream.size;
  const baselineRuns = runBaselines(stream, kind.baselines?.(model.settings) ?? [], o.batchSize, width);

  const figs = {
    incrementalTwin: wayFigures(stream, metric, twin.scores, o, twin.probeScores),
    frozen: wayFigures(stream, metric, frozen.scores, o, frozen.probeScores),
    periodic: wayFigures(stream, metric, periodic.scores, o, periodic.probeScores),
  };
  const spans = Array.from({ length: o.windows }, (_, w) => windowSpan(stream, w));
  const ways: Record<string, unknown> = {};
  if (services) {
    ways.incremental = {
      source: 'real services (worker reports)', overall: services.overall.figures,
      windows: services.windows.map((w) => ({ window: w.window, fromMs: spans[w.window][0], toMs: spans[w.window][1], ...w.figures })),
      workerBaselines: Object.fromEntries(Object.keys(services.overall.baselines).map((name) => [name, {
        overall: services!.overall.baselines[name], windows: services!.windows.map((w) => ({ window: w.window, ...w.baselines[name] })),
      }])),
      run: { ...services, overall: undefined, windows: undefined },
    };
  }
  const timing = { incrementalTwin: twin, frozen, periodic };
  for (const [k, f] of Object.entries(figs)) {
    const t = timing[k as keyof typeof timing];
    ways[k] = { source: 'in-process', ...f, versions: t.versions, trainMs: t.trainMs, examplesTrained: t.examplesTrained, ...(t.memory ? { memory: t.memory } : {}) };
  }
  const baselines = Object.fromEntries(baselineRuns.map((b) => [b.name, {
    source: `in-process, prequential: predicts each batch of ${o.batchSize} examples, then learns it`, ...wayFigures(stream, metric, b.scores, o),
  }]));
  const counts = countNames(metric);
  const figureNames = Object.keys(figuresOf(metric, metric.create())).filter((k) => !counts.includes(k));
  // Figures only a window in stream order has (taken from the window before it): charted, not in the overall table.
  const windowFigureNames = Object.keys(figuresOf(metric, metric.create(), { previous: undefined })).filter((k) => !counts.includes(k) && !figureNames.includes(k));
  const incr = services ? services.overall.figures : figs.incrementalTwin.overall;
  const report = {
    dataset: schema.name, description: schema.description ?? '', schema: args.schema, generatedAt: new Date().toISOString(),
    kind: kind.kind, eventsRead: events.length, rowsRead: stats.rowsRead, dropped: stats.dropped, examples: stream.size,
    metric: { headline: metric.headline, higherIsBetter: metric.higherIsBetter, counts, figures: figureNames, windowFigures: windowFigureNames },
    probes: probes ? { name: probes.name, sets: probes.count, size: probes.size, higherIsBetter: probes.higherIsBetter } : null,
    segments: stream.extras.segments.map((s) => ({ name: s.name, groups: s.groups })),
    config: { models: base.models, ps: base.ps, seed: base.seed },
    protocol: { ...o, maxEvents: Number.isFinite(o.maxEvents) ? o.maxEvents : null, firstEvalWindow: first },
    notes: [
      `Windows cut the example stream into ${o.windows} equal counts in time order; overall figures cover windows ${first + 1}-${o.windows} (the last ${Math.round((1 - o.evalFromFraction) * 100)}%). Every figure is the ${kind.kind} kind's metric (${metric.headline} leads, ${metric.higherIsBetter ? 'higher' : 'lower'} is better), over predictions made before the example was trained on.`,
      services ? `incremental = the real services (${services.topology.psShards} PS shard(s), ${services.topology.workers} worker, ${services.topology.eventShards} event shard): the metric per window from worker reports (metric states per ${services.evalBucketMs} ms bucket of event time, each bucket assigned to the window holding most of its examples); workerBaselines = the baselines the worker ran on its own batches.`
        : 'incremental through the real services was skipped (--skip-services): the summary line reports the in-process twin.',
      `incrementalTwin = an in-process twin trained online exactly like a worker (the kind's example source with worker 0's seed; score-then-train per batch of ${o.batchSize}; the PS update rules and clipping via LocalParams, one shard, no staleness).`,
      'frozen windows before the end of its training prefix show its first-epoch prequential scores; periodic window 1 is scored by the untrained initial weights (nothing seen yet).',
      baselineRuns.length ? `baselines (${baselineRuns.map((b) => b.name).join(', ')}) = the kind's yardsticks on the same examples in the same run: each predicts a batch of ${o.batchSize}, then learns it.` : `the ${kind.kind} kind has no baselines.`,
      ...stream.extras.notes,
    ],
    ways,
    baselines,
    durationMs: Date.now() - t0,
  };
  const files = writeReport(dir, report);
  say(`report: ${files.json}\n        ${files.html}`);
  const line = {
    dataset: schema.name, kind: kind.kind, eventsRead: events.length, examples: stream.size, headline: metric.headline,
    incremental: summaryOf(figureNames, incr),
    frozen: summaryOf(figureNames, figs.frozen.overall),
    periodic: summaryOf(figureNames, figs.periodic.overall),
    ...(baselineRuns.length ? { baselines: Object.fromEntries(Object.entries(baselines).map(([k, b]) => [k, summaryOf(figureNames, b.overall)])) } : {}),
  };
  say(JSON.stringify(line));
  return 0;
}

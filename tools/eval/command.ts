// `flywheel eval --schema FILE`: replays a dataset through the real services (incremental, as
// Flywheel runs) and, on the same examples in-process, trains the frozen and periodic-retrain
// baselines and an online twin of the workers; writes reports/eval-<dataset>-<ts>/report.json
// and report.html, and prints one JSON line of overall AUC and logloss per way, last.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  givenAsStrings, loadConfig, serverEnv, type CommandSpec, type FlywheelConfig, type FlywheelEvent, type ParsedOptions,
} from '../../shared/index.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { loadSchema, schemaConfig, schemaEvents } from '../../shared/datasets/schema.ts';
import { newLoadStats } from '../../shared/datasets/csv.ts';
import { bucketWindows, wayFigures } from './metrics.ts';
import { runFrozenAndPeriodic, runIncrementalTwin } from './offline.ts';
import { EVAL_DEFAULTS, chooseBucketMs, evalOptions, firstEvalWindow } from './protocol.ts';
import { writeReport } from './report.ts';
import { runThroughServices, type ServicesResult } from './services-run.ts';
import { buildEvalStream } from './stream.ts';
import { REPO_ROOT } from '../../cluster/processes.ts';

// Ranges are checked by evalOptions (protocol.ts), with the flag's name.
export const spec: CommandSpec = {
  name: 'eval',
  summary: 'the same stream three ways: incremental (the real services), frozen after a prefix, retrained periodically',
  options: {
    schema: { type: 'string', value: 'FILE', required: true, help: 'dataset schema (datasets/*.json)' },
    'max-events': { type: 'integer', value: 'N', help: 'read at most N events', defaultText: 'all' },
    config: { type: 'string', value: 'FILE', help: 'JSON config over the schema\'s settings' },
    out: { type: 'string', value: 'DIR', help: 'report directory', defaultText: 'reports/eval-<dataset>-<time>' },
    'skip-services': { type: 'boolean', help: 'in-process ways only (no NATS/Redis)' },
    windows: { type: 'integer', help: 'windows of equal example count', default: EVAL_DEFAULTS.windows },
    'frozen-fraction': { type: 'number', help: 'frozen way: trained on this leading fraction', default: EVAL_DEFAULTS.frozenFraction },
    'eval-from': { type: 'number', help: 'overall figures cover the examples from this fraction on', default: EVAL_DEFAULTS.evalFromFraction },
    epochs: { type: 'integer', help: 'passes of each offline (re)training', default: EVAL_DEFAULTS.epochs },
    'batch-size': { type: 'integer', help: 'examples per training step', defaultText: 'worker.batchSize' },
    'rank-positives': { type: 'integer', help: 'ranking: positives per window', default: EVAL_DEFAULTS.rankPositivesPerWindow },
    'rank-candidates': { type: 'integer', help: 'ranking: sampled candidates per positive', default: EVAL_DEFAULTS.rankCandidates },
    'rank-k': { type: 'integer', help: 'ranking cut-off K of HR@K and NDCG@K', default: EVAL_DEFAULTS.rankK },
    'rank-seed': { type: 'integer', help: 'seed of the candidates\' sampling', default: EVAL_DEFAULTS.rankSeed },
    'ps-shards': { type: 'integer', min: 1, max: 64, help: 'PS shards of the incremental way', default: 1 },
    'replay-fraction': { type: 'number', min: 0, max: 4, help: 'share of past examples mixed into online training', default: 0 },
  },
};

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

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null);

export async function run(p: ParsedOptions): Promise<number> {
  const args = givenAsStrings(p);
  const o = evalOptions(args);
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const t0 = Date.now();
  const schema = loadSchema(args.schema);
  const overrides = schemaConfig(schema);
  if (args['replay-fraction'] !== undefined) {
    const f = Number(args['replay-fraction']);
    if (!(f >= 0 && f <= 4)) throw new Error('--replay-fraction must be a number in 0..4');
    // The online ways (the services' workers and the twin) mix this share of past examples in.
    (overrides as Record<string, unknown>).worker = { ...((overrides.worker as object | undefined) ?? {}), replayFraction: f };
  }
  // The servers come from the environment (FLYWHEEL_NATS_URL/REDIS_URL) like every command's;
  // the rest of it (model, topology) would change what is evaluated, so it is not read.
  const base = loadConfig({ file: args.config, overrides, env: serverEnv() });
  if (base.worker.batchSize !== o.batchSize && args['batch-size'] === undefined) o.batchSize = base.worker.batchSize;
  const backend = await initTensorBackend(() => undefined);

  const stats = newLoadStats();
  const events: FlywheelEvent[] = [];
  for await (const b of schemaEvents(schema, { limit: o.maxEvents, stats })) for (const e of b) events.push(e);
  if (events.length === 0) throw new Error(`${args.schema}: no events (read ${stats.rowsRead} rows, dropped ${JSON.stringify(stats.dropped)})`);
  const stream = buildEvalStream(events, base, o);
  const first = firstEvalWindow(o);
  say(`eval ${schema.name}: ${events.length.toLocaleString('en-US')} events -> ${stream.size.toLocaleString('en-US')} examples `
    + `(${((Date.now() - t0) / 1000).toFixed(1)} s); ${stream.rank.count} ranking sets; tfjs ${backend}`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = args.out ?? join(REPO_ROOT, 'reports', `eval-${schema.name}-${stamp}`);
  let services: ServicesResult | undefined;
  if (!o.skipServices) {
    const bucketMs = chooseBucketMs(stream.eventTs);
    const psShards = args['ps-shards'] ? Number(args['ps-shards']) : 1;
    // One worker on one event shard sees the stream in replay order, so it builds the same
    // examples (and draws the same negatives) as the in-process ways.
    const cfg = servicesConfig(schema.name, overrides, { config: args.config, psShards, bucketMs });
    say(`incremental: the real services (${psShards} PS shard(s), 1 worker, 1 event shard, evalBucketMs ${bucketMs}) over NATS + Redis`);
    services = await runThroughServices(cfg, {
      events, bucketWindow: bucketWindows(stream, bucketMs, o.windows), windows: o.windows, firstEvalWindow: first, logDir: dir, say,
    });
    say(`  done in ${(services.durationMs / 1000).toFixed(1)} s: AUC ${services.overall.auc.toFixed(4)}, logloss ${services.overall.logLoss.toFixed(4)}`);
  }
  say('incremental twin (in-process, online, one pass)');
  const twin = runIncrementalTwin(stream, base, o);
  say(`  ${(twin.trainMs / 1000).toFixed(1)} s`);
  say(`frozen (first ${o.frozenFraction * 100}%, ${o.epochs} epochs) and periodic (from scratch every 1/${o.windows}, ${o.epochs} epochs)`);
  const { frozen, periodic } = runFrozenAndPeriodic(stream, base, o, say);

  const figs = {
    incrementalTwin: wayFigures(stream, twin.scores, twin.rankScores, o),
    frozen: wayFigures(stream, frozen.scores, frozen.rankScores, o),
    periodic: wayFigures(stream, periodic.scores, periodic.rankScores, o),
  };
  const ways: Record<string, unknown> = {};
  if (services) {
    ways.incremental = {
      source: 'real services (worker reports)', overall: services.overall,
      windows: services.windows.map((w) => ({ ...w, fromMs: figs.periodic.windows[w.window].fromMs, toMs: figs.periodic.windows[w.window].toMs })),
      run: { ...services, overall: undefined, windows: undefined },
    };
  }
  const timing = { incrementalTwin: twin, frozen, periodic };
  for (const [k, f] of Object.entries(figs)) {
    const t = timing[k as keyof typeof timing];
    ways[k] = { source: 'in-process', ...f, versions: t.versions, trainMs: t.trainMs, examplesTrained: t.examplesTrained };
  }
  const incr = services ? services.overall : figs.incrementalTwin.overall;
  const report = {
    dataset: schema.name, description: schema.description ?? '', schema: args.schema, generatedAt: new Date().toISOString(),
    eventsRead: events.length, rowsRead: stats.rowsRead, dropped: stats.dropped, examples: stream.size,
    config: { models: base.models, ps: base.ps, seed: base.seed },
    protocol: { ...o, maxEvents: Number.isFinite(o.maxEvents) ? o.maxEvents : null, firstEvalWindow: first },
    notes: [
      `Windows cut the example stream into ${o.windows} equal counts in time order; overall figures cover windows ${first + 1}-${o.windows} (the last ${Math.round((1 - o.evalFromFraction) * 100)}%).`,
      services ? `incremental = the real services (${services.topology.psShards} PS shard(s), ${services.topology.workers} worker, ${services.topology.eventShards} event shard): AUC, logloss, accuracy, precision, recall, F1 per window from worker reports (histograms per ${services.evalBucketMs} ms bucket of event time, each bucket assigned to the window holding most of its examples).`
        : 'incremental through the real services was skipped (--skip-services): the overall line reports the in-process twin.',
      'incrementalTwin = an in-process twin trained online exactly like a worker (same ExampleBuilder, label rule and sampler seed; score-then-train per batch of 256; the PS momentum rule and clipping via LocalParams, one shard, no staleness). HR@K, NDCG@K and segment figures come from the twin, frozen and periodic, all on the same examples and candidates.',
      `Ranking: up to ${o.rankPositivesPerWindow} positives per window, each ranked against ${o.rankCandidates} items drawn uniformly from items seen earlier; ties count against the positive.`,
      'frozen windows before the end of its training prefix show its first-epoch prequential scores; periodic window 1 is scored by the untrained initial weights (nothing seen yet).',
      'Segments: new user = no earlier event of the user in the stream; item popularity = earlier events on the item.',
    ],
    ways,
    durationMs: Date.now() - t0,
  };
  const files = writeReport(dir, report);
  say(`report: ${files.json}\n        ${files.html}`);
  const line = {
    dataset: schema.name, eventsRead: events.length,
    incremental: { auc: round(incr.auc), logloss: round(incr.logLoss) },
    frozen: { auc: round(figs.frozen.overall.auc), logloss: round(figs.frozen.overall.logLoss) },
    periodic: { auc: round(figs.periodic.overall.auc), logloss: round(figs.periodic.overall.logLoss) },
  };
  say(JSON.stringify(line));
  return 0;
}

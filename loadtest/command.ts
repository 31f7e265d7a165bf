// `flywheel loadtest`: starts a local cluster under a model of its own, replays real traffic
// through ingest at a fixed rate (or a speedup of its timestamps) while sending open-loop
// inference requests, samples the system from the outside once a second, and writes
// reports/loadtest-<timestamp>/report.{json,html}. The last line of stdout is the summary as
// one JSON object; progress goes to stderr. --ingest-only measures ingest's ceiling alone.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  JetStreamEventLog, ReportAggregator, connectNats, givenAsStrings, loadConfig, waitFor, type CommandSpec, type FlywheelConfig,
  type ParsedOptions,
} from '../shared/index.ts';
import { resolveModel } from '../shared/models/registry.ts';
import { IngestCeiling } from './ingest-ceiling.ts';
import { LoadtestOptionError, loadtestSpec, parseLoadtestOptions, settingsOf, type LoadtestOptions } from './options.ts';
import { PredictLoad } from './predict-load.ts';
import { replayUntilTrained } from '../cluster/replay-until-trained.ts';
import { writeReport } from './report.ts';
import { Sampler, progressLine } from './sampler.ts';
import { DATASET_MODEL, loadEvents, loopedEvents } from './sources.ts';
import { summarize, type LoadBaseline, type RunCounts } from './summary.ts';
import { ensureServices } from '../cluster/infra-check.ts';
import { assignPorts, resetModel, startLocalCluster } from '../cluster/local-cluster.ts';
import { ProcessGroup, REPO_ROOT } from '../cluster/processes.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);
type NatsConnection = Awaited<ReturnType<typeof connectNats>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stop steps run once each, in reverse order of start, every one even if another fails. */
class Teardown {
  private readonly steps: [string, () => Promise<unknown>][] = [];
  private done?: Promise<void>;
  add(what: string, step: () => Promise<unknown>): void {
    this.steps.push([what, step]);
  }
  run(): Promise<void> {
    this.done ??= (async () => {
      for (const [what, step] of this.steps.reverse()) {
        await step().catch((err) => say(`stopping ${what} failed: ${(err as Error).message}`));
      }
    })();
    return this.done;
  }
}

export const spec: CommandSpec = loadtestSpec;

export async function run(p: ParsedOptions): Promise<number> {
  let o: LoadtestOptions;
  try {
    o = parseLoadtestOptions(givenAsStrings(p));
  } catch (err) {
    if (err instanceof LoadtestOptionError) { say(err.message); return 2; }
    throw err;
  }
  const cfg = loadConfig({
    file: o.config,
    overrides: { model: `loadtest_${randomBytes(3).toString('hex')}`, psShards: o.psShards, workers: o.workers, ...DATASET_MODEL[o.data] },
  });
  if (!(await ensureServices(cfg.natsUrl, cfg.redisUrl, say))) {
    say('loadtest needs NATS (with JetStream) and Redis; they cannot be had on this machine');
    return 1;
  }
  const startedAt = new Date().toISOString();
  const dir = o.outDir ?? join(REPO_ROOT, 'reports', `loadtest-${startedAt.replace(/[:.]/g, '-')}`);
  const teardown = new Teardown();
  // First SIGINT: end the load and still write the report. Second: stop everything now.
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) { say('second SIGINT: stopping at once'); void teardown.run().finally(() => process.exit(130)); return; }
    interrupted = true;
    say('SIGINT: ending the load; the report is still written (SIGINT again to stop at once)');
  };
  process.on('SIGINT', onSigint);
  teardown.add('the SIGINT handler', async () => { process.off('SIGINT', onSigint); });

  try {
    await resetModel(cfg);
    teardown.add('model cleanup', () => resetModel(cfg));
    const nc = await connectNats(cfg.natsUrl, 'flywheel-loadtest');
    teardown.add('NATS connection', () => nc.close());
    const { summary, notes, points } = o.ingestOnly
      ? await ingestOnly(o, cfg, nc, dir, teardown, () => interrupted)
      : await fullSystem(o, cfg, nc, dir, teardown, () => interrupted);
    await teardown.run();
    const full = { startedAt, ...summary, interrupted, reportDir: dir };
    const files = writeReport(dir, full, points, notes);
    say(`report: ${files.html}`);
    process.stdout.write(`${JSON.stringify(full)}\n`);
    return interrupted ? 130 : 0;
  } finally {
    await teardown.run();
  }
}

/** Ingest, 2 PS shards, 2 workers, inference (by default), the replay and the predict load. */
async function fullSystem(o: LoadtestOptions, cfg: FlywheelConfig, nc: NatsConnection, dir: string, teardown: Teardown, interrupted: () => boolean) {
  say(`loadtest: ${o.data} ${o.speedup ? `at ${o.speedup}x its own pace` : `at ${o.ratePerSec} events/s`}, ${o.predictRatePerSec} predicts/s, `
    + `${cfg.psShards} PS shards, ${cfg.workers} workers, model ${cfg.model}; logs and report in ${dir}`);
  const cluster = await startLocalCluster(cfg, { embedded: false, logDir: dir });
  teardown.add('the cluster', () => cluster.stop());
  const agg = new ReportAggregator(cfg.worker.evalBucketMs, resolveModel(cfg).kind.metric);
  cluster.onReport((r) => agg.add(r));
  const trained = () => agg.total('eventsTrained');
  const predict = new PredictLoad({ inferenceUrl: cluster.inferenceUrl, ratePerSec: o.predictRatePerSec });
  teardown.add('the predict load', () => predict.stop());
  const ingestErrors: Record<string, number> = {};
  let accepted = 0;
  const sampler = new Sampler({
    ingestUrl: cluster.ingestUrl, inferenceUrl: cluster.inferenceUrl,
    workerMetricsUrls: Array.from({ length: cluster.cfg.workers }, (_, i) => `http://127.0.0.1:${cluster.cfg.workerMetricsBasePort + i}/metrics`),
    eventLog: new JetStreamEventLog(nc, { model: cfg.model, eventShards: cfg.eventShards }), eventShards: cfg.eventShards,
    acceptedClient: () => accepted, trained, predict,
  }, () => Object.values(ingestErrors).reduce((a, b) => a + b, 0) + Object.values(predict.errors).reduce((a, b) => a + b, 0));
  teardown.add('the sampler', () => sampler.stop());
  const everyN = Math.max(1, Math.round((o.progressEverySec * 1000) / o.sampleIntervalMs));
  sampler.start(o.sampleIntervalMs, (p) => { if (sampler.points.length % everyN === 0) say(progressLine(p)); });

  let capacity: number | null = null;
  if (o.capacityFraction !== undefined) {
    capacity = await measureCapacity(o, cluster, trained, cluster.failed, (n) => { accepted = n; }, interrupted);
    const rate = Math.max(1, Math.round(o.capacityFraction * capacity));
    say(`capacity: ${Math.round(capacity)} events/s trained; the load runs at ${o.capacityFraction} of it, ${rate} events/s`);
    o = { ...o, ratePerSec: rate };
  }
  // The load phase's own counts (after a capacity phase, the aggregator, ingest's counter and
  // the versions hold that one's too).
  const trainedBefore = trained();
  const trainedHere = () => trained() - trainedBefore;
  let before: LoadBaseline | undefined;
  // The summary's peaks and backlog are the load's; the report's charts show the capacity phase too.
  const firstLoadPoint = sampler.points.length;
  if (capacity !== null) {
    await sampler.tick();
    const m = await fetch(`${cluster.inferenceUrl}/v1/model`).then((r) => r.json() as Promise<Record<string, unknown>>).catch(() => undefined);
    before = { acceptedServer: sampler.points.at(-1)?.acceptedServer ?? 0, versions: (m?.versions as number[] | undefined) ?? [] };
  }

  const t0 = performance.now();
  const deadline = t0 + o.durationSec * 1000;
  const source = loopedEvents(o.data, { maxEvents: o.maxEvents, stop: () => interrupted() || performance.now() >= deadline });
  let predictStarted = false;
  let loadSeconds = 0;
  let trainedAtLoadEnd = 0;
  let steady: Record<string, unknown> | undefined;
  const result = await replayUntilTrained({
    events: source,
    to: {
      ingestUrl: cluster.ingestUrl, batchEvents: o.batchEvents, concurrency: o.concurrency,
      ratePerSec: o.speedup ? undefined : o.ratePerSec, speedup: o.speedup, requestTimeoutMs: 10_000,
      onRequestError: (kind) => { ingestErrors[kind] = (ingestErrors[kind] ?? 0) + 1; },
      // Predicts start with the first pairs, so none fails for want of a real (user, item).
      onBatch: (b) => { predict.observe(b); if (!predictStarted) { predictStarted = true; predict.start(); } },
    },
    trained: trainedHere, failed: cluster.failed, onSent: (n) => { accepted = n; },
    onReplayed: async (r) => {
      loadSeconds = (performance.now() - t0) / 1000;
      trainedAtLoadEnd = r.trained;
      // Freshness of the pushes applied in the last seconds of load: the steady state, without
      // the start-up (JIT, first batches) or a capacity phase in it.
      steady = await fetch(`${cluster.inferenceUrl}/v1/model`).then((x) => x.json() as Promise<Record<string, unknown>>)
        .then((m) => m.freshnessRecent as Record<string, unknown>).catch(() => undefined);
      await predict.stop();
      say(`load done: ${r.sent} events accepted in ${loadSeconds.toFixed(1)} s; draining up to ${o.drainSec} s`);
    },
    // Draining is bounded and best effort: what is still untrained at the end is the backlog reported.
    done: (p) => interrupted() || p.trained >= p.sent,
    drainTimeoutMs: o.drainSec * 1000, stallTimeoutMs: Infinity,
  });
  await sampler.stop();
  await sampler.tick();
  const finalModel = await fetch(`${cluster.inferenceUrl}/v1/model`).then((r) => r.json() as Promise<Record<string, unknown>>).catch(() => undefined);
  const counts: RunCounts = { loadSeconds, eventsAccepted: result.sent, trainedAtLoadEnd, trainedAtEnd: trainedHere(), ingestErrors, finalModel,
    versionsSpanSec: (performance.now() - t0) / 1000, steadyFreshness: steady, capacityEventsPerSec: capacity, before };
  const summary = summarize(settingsOf(o, cfg.model, cfg.eventShards), sampler.points.slice(firstLoadPoint), counts, sampler.pushRtt, sampler.freshness, predict, sampler.inferenceServer, sampler.ingestPublish);
  const notes = [
    `${o.data} replayed ${o.speedup ? `at ${o.speedup}x` : `at ${o.ratePerSec} events/s`} for ${loadSeconds.toFixed(1)} s; ${cfg.psShards} PS shards, ${cfg.workers} workers, 1 inference node, ingest; service logs beside this report.`,
    'Inference latency runs from each request\'s intended send time (open loop), so stalls are counted.',
    'freshnessP50Ms/P99Ms: the inference node\'s figures over its recent pushes at the end; freshnessHist*: its histogram over the whole run (bucket-interpolated);'
      + ' freshnessSteady*: the pushes applied in the last 10 s of load (what the target is judged on).',
    ...(capacity === null ? [] : [`Capacity ${Math.round(capacity)} events/s trained, measured over the second half of a ${o.saturateSec} s phase sent faster than the cluster trains, then drained; the load ran at ${o.capacityFraction} of it.`]),
    `Backlog is in JetStream messages of up to ${cfg.ingest.maxEventsPerMessage} events; backlogEvents* counts events accepted and not yet trained.`,
  ];
  return { summary, notes, points: sampler.points };
}

/** The capacity phase's first rate, its growth per step, and the step's length. */
const RAMP_START_PER_SEC = 1000;
const RAMP_GROWTH = 1.5;
const RAMP_STEP_SEC = 4;

/**
 * The cluster's training capacity, found by a ramp: the send rate grows by RAMP_GROWTH each
 * RAMP_STEP_SEC until, for two steps in a row, training keeps up with less than 90% of it; the
 * capacity is the trained rate over those two steps. Sending far above the capacity would take
 * the cores from training (ingest at 50k events/s on 2 cores: measured here, the "capacity"
 * fell to a sixth), so the ramp stays near it. The backlog is drained before the load.
 */
async function measureCapacity(
  o: LoadtestOptions, cluster: { ingestUrl: string }, trained: () => number, failed: Promise<never>,
  onSent: (n: number) => void, interrupted: () => boolean,
): Promise<number> {
  const deadline = performance.now() + o.saturateSec * 1000;
  let rate = RAMP_START_PER_SEC;
  let sentTotal = 0;
  const base = trained();
  const saturated: { n: number; ms: number }[] = [];
  while (!interrupted() && performance.now() < deadline) {
    const t0 = performance.now();
    const n0 = trained();
    const stepEnd = Math.min(deadline, t0 + RAMP_STEP_SEC * 1000);
    const r = await replayUntilTrained({
      events: loopedEvents(o.data, { stop: () => interrupted() || performance.now() >= stepEnd }),
      to: { ingestUrl: cluster.ingestUrl, batchEvents: o.batchEvents, concurrency: o.concurrency, ratePerSec: rate, requestTimeoutMs: 10_000 },
      trained: () => trained() - base, failed, onSent: (n) => onSent(sentTotal + n),
      done: () => true, drainTimeoutMs: 0, stallTimeoutMs: Infinity,
    });
    sentTotal += r.sent;
    const ms = performance.now() - t0;
    const trainedRate = ((trained() - n0) * 1000) / ms;
    const sentRate = (r.sent * 1000) / ms;
    say(`capacity phase: sent ${Math.round(sentRate)} events/s, trained ${Math.round(trainedRate)} events/s`);
    if (trainedRate < 0.9 * sentRate) saturated.push({ n: trained() - n0, ms });
    else saturated.length = 0;
    if (saturated.length === 2) {
      const cap = ((saturated[0].n + saturated[1].n) * 1000) / (saturated[0].ms + saturated[1].ms);
      say('capacity phase: training saturated; draining the backlog');
      await waitFor(() => interrupted() || trained() - base >= sentTotal, 120_000, 'the capacity phase\'s backlog trained', 200);
      return cap;
    }
    rate = Math.round(rate * RAMP_GROWTH);
  }
  throw new Error(`training kept up with every rate up to ${rate} events/s within --saturate ${o.saturateSec} s: give it more seconds`);
}

/** Ingest alone (its stream and consumers exist, nothing consumes), pushed as hard as it goes. */
async function ingestOnly(o: LoadtestOptions, cfg0: FlywheelConfig, nc: NatsConnection, dir: string, teardown: Teardown, interrupted: () => boolean) {
  const cfg = await assignPorts(cfg0);
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const cfgFile = join(dir, 'flywheel.json');
  writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  say(`loadtest --ingest-only: loading ${o.poolEvents} ${o.data} events; ${o.concurrency} POSTs of ${o.batchEvents} events in flight for ${o.durationSec} s`);
  const events = await loadEvents(o.data, o.poolEvents);
  const group = new ProcessGroup(dir);
  teardown.add('ingest', () => group.stop());
  group.start('ingest', 'ingest', ['--config', cfgFile]);
  const ingestUrl = `http://127.0.0.1:${cfg.ingest.port}`;
  await waitFor(async () => (await fetch(`${ingestUrl}/healthz`).catch(() => undefined))?.ok === true, 60_000, 'ingest to answer', 100);
  const load = new IngestCeiling({
    ingestUrl, events, batchEvents: o.batchEvents, concurrency: o.concurrency, durationMs: o.durationSec * 1000,
    maxEvents: o.maxEvents, requestTimeoutMs: 10_000, stop: interrupted,
  });
  const sampler = new Sampler({
    ingestUrl, workerMetricsUrls: [], eventShards: cfg.eventShards,
    eventLog: new JetStreamEventLog(nc, { model: cfg.model, eventShards: cfg.eventShards }),
    acceptedClient: () => load.accepted, trained: () => 0,
  }, () => Object.values(load.errors).reduce((a, b) => a + b, 0));
  teardown.add('the sampler', () => sampler.stop());
  const everyN = Math.max(1, Math.round((o.progressEverySec * 1000) / o.sampleIntervalMs));
  sampler.start(o.sampleIntervalMs, (p) => { if (sampler.points.length % everyN === 0) say(progressLine(p)); });
  const { elapsedMs } = await load.run();
  await sampler.stop();
  // The counter is read once more after the last answer, for the cross-check.
  await sleep(200);
  await sampler.tick();
  const counts: RunCounts = { loadSeconds: elapsedMs / 1000, eventsAccepted: load.accepted, trainedAtLoadEnd: 0, trainedAtEnd: 0, ingestErrors: load.errors };
  const summary = summarize(settingsOf(o, cfg.model, cfg.eventShards), sampler.points, counts, new Map(), new Map(), undefined, new Map(), sampler.ingestPublish);
  const lat = [...load.latenciesMs].sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] * 10) / 10 : null);
  Object.assign(summary, { ingestRequests: load.requests, ingestRequestP50Ms: q(0.5), ingestRequestP99Ms: q(0.99) });
  const notes = [
    `Ingest alone: ${o.concurrency} POSTs of ${o.batchEvents} ${o.data} events in flight (bodies serialized before the run), ${(elapsedMs / 1000).toFixed(1)} s, unique Idempotency-Key per request.`,
    `Events accepted are published to JetStream (file storage) in messages of up to ${cfg.ingest.maxEventsPerMessage} events; no worker consumes them.`,
    'The load generator shares the machine with ingest and nats-server: the ceiling is of the three together.',
  ];
  return { summary, notes, points: sampler.points };
}

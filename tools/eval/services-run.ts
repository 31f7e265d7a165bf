// The incremental way as Flywheel really runs: PS shards, workers, inference and ingest as
// separate processes over NATS and Redis, the dataset replayed through ingest, prequential
// figures taken from the workers' reports: the kind's metric state (and each baseline's) per
// bucket of event time; buckets are assigned to the same windows of example count as the
// in-process ways.
import { BucketMetrics, ReportAggregator, type FlywheelConfig, type FlywheelEvent, type MetricDef } from '../../shared/index.ts';
import { figuresOf, type Figures } from './metrics.ts';
import { replayUntilTrained } from '../../cluster/replay-until-trained.ts';
import { ensureServices } from '../../cluster/infra-check.ts';
import { resetModel, startLocalCluster } from '../../cluster/local-cluster.ts';

/** The model's figures and, per baseline the workers ran, its figures on the same examples. */
export interface ReportedFigures {
  figures: Figures;
  baselines: Record<string, Figures>;
}

export interface ServicesResult {
  topology: { psShards: number; workers: number; eventShards: number };
  eventsSent: number;
  eventsTrained: number;
  examples: number;
  evalBucketMs: number;
  backend: string;
  durationMs: number;
  overall: ReportedFigures;
  windows: (ReportedFigures & { window: number })[];
}

export interface ServicesRunOptions {
  events: FlywheelEvent[];
  /** bucket key -> window (see bucketWindows). */
  bucketWindow: Map<number, number>;
  windows: number;
  firstEvalWindow: number;
  /** The kind's metric, as the workers report it. */
  metric: MetricDef;
  logDir: string;
  say: (line: string) => void;
  /** Give up when nothing is sent or trained for this long. Default 120000 ms. */
  stallTimeoutMs?: number;
  /** Give up when sending and training take longer than this. Default: 60 s + 20 ms per event. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** Replays `events` through a fresh local cluster of `cfg` and returns the workers' figures. */
export async function runThroughServices(cfg: FlywheelConfig, o: ServicesRunOptions): Promise<ServicesResult> {
  if (!(await ensureServices(cfg.natsUrl, cfg.redisUrl, o.say))) {
    throw new Error(`NATS (${cfg.natsUrl}) and Redis (${cfg.redisUrl}) are needed for the incremental way (or pass --skip-services)`);
  }
  await resetModel(cfg);
  const t0 = Date.now();
  const cluster = await startLocalCluster(cfg, { embedded: false, logDir: o.logDir });
  const agg = new ReportAggregator(cfg.worker.evalBucketMs, o.metric);
  let backend = 'unknown';
  cluster.onReport((r) => { agg.add(r); backend = r.backend; });
  const trained = () => agg.total('eventsTrained');
  let sent = 0;
  try {
    // One POST in flight: ingest then sees the stream in order, as the in-process ways do.
    const r = await replayUntilTrained({
      events: o.events,
      // A POST that ingest never answers is aborted rather than waited on forever.
      to: { ingestUrl: cluster.ingestUrl, batchEvents: 500, concurrency: 1, maxBacklogEvents: 5000, requestTimeoutMs: 60_000 },
      trained, failed: cluster.failed, signal: o.signal,
      onProgress: (p) => o.say(`  services: sent ${p.sent.toLocaleString('en-US')}, trained ${p.trained.toLocaleString('en-US')} of ${o.events.length.toLocaleString('en-US')}`),
      progressIntervalMs: 10_000,
      stallTimeoutMs: o.stallTimeoutMs ?? 120_000, deadlineMs: o.deadlineMs ?? 60_000 + 20 * o.events.length,
      stallHint: `the incremental way's services; see their logs in ${o.logDir}`,
    });
    sent = r.sent;
  } finally {
    await cluster.stop();
    await resetModel(cfg).catch(() => undefined);
  }
  const perWindow = Array.from({ length: o.windows }, () => new BucketMetrics(o.metric));
  for (const [key, b] of agg.buckets) perWindow[o.bucketWindow.get(key) ?? nearestWindow(o.bucketWindow, key)].merge(b);
  const overall = new BucketMetrics(o.metric);
  for (let w = o.firstEvalWindow; w < o.windows; w++) overall.merge(perWindow[w]);
  // A window's figures may take from the window before it (figuresAfter); overall passes none.
  const reported = (m: BucketMetrics, order?: { previous: BucketMetrics | undefined }): ReportedFigures => ({
    figures: figuresOf(o.metric, m.model, order && { previous: order.previous?.model }),
    baselines: Object.fromEntries([...m.baselines].map(([k, acc]) => [k, figuresOf(o.metric, acc, order && { previous: order.previous?.baselines.get(k) })])),
  });
  return {
    topology: { psShards: cfg.psShards, workers: cfg.workers, eventShards: cfg.eventShards },
    eventsSent: sent, eventsTrained: trained(), examples: agg.total('examples'), evalBucketMs: cfg.worker.evalBucketMs,
    backend, durationMs: Date.now() - t0, overall: reported(overall),
    windows: perWindow.map((m, w) => ({ window: w, ...reported(m, { previous: perWindow[w - 1] }) })),
  };
}

/** A bucket the in-process stream has no example in (cannot happen with the same events): the closest one's window. */
function nearestWindow(m: Map<number, number>, key: number): number {
  let best = 0, dist = Infinity;
  for (const [k, w] of m) if (Math.abs(k - key) < dist) { dist = Math.abs(k - key); best = w; }
  return best;
}

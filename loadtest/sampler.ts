// Samples the running system once a second from the outside, as an operator would: ingest's
// and the workers' /metrics, the inference node's /v1/model, the JetStream consumers' backlog,
// the workers' training reports, and the load generator's own counts. Each sample is one point
// of the report's time series; every few samples a progress line is printed.
import { loadavg } from 'node:os';
import type { EventLog } from '../shared/index.ts';
import type { PredictLoad } from './predict-load.ts';
import { bucketsDelta, histogramBuckets, histogramQuantile, metricSum, scrape, type Buckets } from './prom.ts';

export interface SamplerTargets {
  ingestUrl: string;
  /** Absent in the ingest-only mode. */
  inferenceUrl?: string;
  workerMetricsUrls: string[];
  eventLog: EventLog;
  eventShards: number;
  /** Events the replay has had accepted (client side). */
  acceptedClient: () => number;
  /** Events the workers report trained. */
  trained: () => number;
  predict?: PredictLoad;
}

export interface TimePoint {
  tSec: number;
  acceptedClient: number;
  acceptedServer: number | null;
  trained: number;
  acceptedClientPerSec: number;
  acceptedServerPerSec: number | null;
  trainedPerSec: number;
  /** JetStream messages (up to maxEventsPerMessage events each) pending + ackPending, per event shard. */
  backlogMessages: number[];
  /** Events accepted by ingest and not yet trained. */
  backlogEvents: number | null;
  versions: number[];
  /** now - accept time of the newest event the served model contains. */
  modelAgeMs: number | null;
  freshnessP50Ms: number | null;
  freshnessP99Ms: number | null;
  inferenceCount: number;
  inferenceP50Ms: number | null;
  inferenceP99Ms: number | null;
  inferenceP999Ms: number | null;
  pushRttP50Ms: number | null;
  pushRttP99Ms: number | null;
  errors: number;
  /** The machine's 1-minute load average: on a shared machine, what else was running. */
  loadAvg1m: number;
}

const ms = (s: number | null) => (s === null ? null : s * 1000);

export class Sampler {
  readonly points: TimePoint[] = [];
  /** Worker push round trips over the whole run, summed over workers. */
  pushRtt: Buckets = new Map();
  /** Freshness histogram of the inference node over the whole run. */
  freshness: Buckets = new Map();
  /** The inference node's own handling time of /v1/predict (no queueing before it reads a request). */
  inferenceServer: Buckets = new Map();
  /** Ingest's time to publish one request's events to JetStream (acks included). */
  ingestPublish: Buckets = new Map();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly t0 = Date.now();

  constructor(private readonly t: SamplerTargets, private readonly errorsSoFar: () => number) {}

  start(intervalMs: number, onPoint?: (p: TimePoint) => void): void {
    // Ticks never overlap: the next one is armed when the last one is done.
    const loop = () => {
      this.timer = setTimeout(() => {
        this.running = this.tick().then((p) => onPoint?.(p)).catch(() => undefined).finally(() => {
          if (this.timer) loop();
        });
      }, intervalMs);
    };
    loop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  async tick(): Promise<TimePoint> {
    const t = this.t;
    const [ingest, workers, model, backlog, infMetrics] = await Promise.all([
      scrape(`${t.ingestUrl}/metrics`),
      Promise.all(t.workerMetricsUrls.map((u) => scrape(u))),
      t.inferenceUrl ? fetchJson(`${t.inferenceUrl}/v1/model`) : undefined,
      Promise.all(Array.from({ length: t.eventShards }, (_, s) => withTimeout(t.eventLog.backlog(s), 2000).then((b) => b.pending + b.ackPending).catch(() => NaN))),
      t.inferenceUrl ? scrape(`${t.inferenceUrl}/metrics`) : undefined,
    ]);
    const rtt: Buckets = new Map();
    for (const w of workers) if (w) histogramBuckets(w, 'fw_worker_push_rtt_seconds', rtt);
    const rttWindow = bucketsDelta(rtt, this.pushRtt);
    if (rtt.size) this.pushRtt = rtt;
    if (infMetrics) {
      this.freshness = histogramBuckets(infMetrics, 'fw_inference_freshness_seconds');
      this.inferenceServer = histogramBuckets(infMetrics.filter((x) => x.labels.route === 'predict'), 'fw_inference_request_seconds');
    }
    const prev = this.points[this.points.length - 1];
    const tSec = (Date.now() - this.t0) / 1000;
    const dt = prev ? tSec - prev.tSec : tSec;
    if (ingest) this.ingestPublish = histogramBuckets(ingest, 'fw_ingest_publish_seconds');
    const acceptedServer = ingest ? metricSum(ingest, 'fw_ingest_events_accepted_total') : null;
    const trained = t.trained();
    const win = t.predict?.latency.takeWindow();
    const p: TimePoint = {
      tSec,
      acceptedClient: t.acceptedClient(),
      acceptedServer,
      trained,
      acceptedClientPerSec: (t.acceptedClient() - (prev?.acceptedClient ?? 0)) / dt,
      acceptedServerPerSec: acceptedServer === null ? null : (acceptedServer - (prev?.acceptedServer ?? 0)) / dt,
      trainedPerSec: (trained - (prev?.trained ?? 0)) / dt,
      backlogMessages: backlog,
      backlogEvents: acceptedServer === null || t.workerMetricsUrls.length === 0 ? null : Math.max(0, acceptedServer - trained),
      versions: Array.isArray(model?.versions) ? (model.versions as number[]) : [],
      modelAgeMs: (model?.freshnessMs as number | null) ?? null,
      freshnessP50Ms: (model?.freshnessP50Ms as number | null) ?? null,
      freshnessP99Ms: (model?.freshnessP99Ms as number | null) ?? null,
      inferenceCount: win?.count ?? 0,
      inferenceP50Ms: win?.p50 ?? null,
      inferenceP99Ms: win?.p99 ?? null,
      inferenceP999Ms: win?.p999 ?? null,
      pushRttP50Ms: ms(histogramQuantile(rttWindow, 0.5)),
      pushRttP99Ms: ms(histogramQuantile(rttWindow, 0.99)),
      errors: this.errorsSoFar(),
      loadAvg1m: loadavg()[0],
    };
    this.points.push(p);
    return p;
  }
}

/** A sample must not wait on a slow answer: a missing figure is better than a late point. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function fetchJson(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? (await res.json() as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const f0 = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US'));

/** One progress line for a sample. */
export function progressLine(p: TimePoint): string {
  const backlog = p.backlogMessages.reduce((a, b) => a + b, 0);
  return `[${p.tSec.toFixed(0).padStart(4)} s] accepted ${f0(p.acceptedClient)} (${f0(p.acceptedClientPerSec)}/s, ingest ${f0(p.acceptedServerPerSec)}/s)`
    + `  trained ${f0(p.trained)} (${f0(p.trainedPerSec)}/s)  backlog ${f0(backlog)} msgs`
    + `  versions ${JSON.stringify(p.versions)}  freshness p50/p99 ${f0(p.freshnessP50Ms)}/${f0(p.freshnessP99Ms)} ms`
    + `  predict p50/p99 ${p.inferenceP50Ms?.toFixed(1) ?? '-'}/${p.inferenceP99Ms?.toFixed(1) ?? '-'} ms  errors ${p.errors}  load ${p.loadAvg1m.toFixed(1)}`;
}

// What the dashboard knows of a running system, from what travels over NATS: the workers'
// prequential reports (per model), the processes' heartbeats, the validator's gate decisions,
// and the consumer lag it polls per event shard. Everything the page and the gauges show is a
// snapshot of this; nothing here does I/O, so it is tested by feeding it messages.
import type { Heartbeat, MetricDef, WorkerReport } from '../../shared/index.ts';
import { TimeWindows } from './time-windows.ts';

export interface DashboardModel {
  name: string;
  kind: string;
  metric: MetricDef;
  eventShards: number;
  psShards: number;
  evalBucketMs: number;
}

/** A gate decision as the validator publishes it on the serving subject. */
export interface GateDecision {
  at: number;
  accepted: boolean;
  reason: string;
  metric: string;
  candidate: number;
  serving: number;
  candidateVersions: number[];
}

interface ProcessSeen { hb: Heartbeat; seenAtMs: number }

/** How many 1 s samples the time charts keep (15 minutes). */
const TIMELINE_SAMPLES = 900;
/**
 * Rates are taken over this span: heartbeats and reports come about once a second, like the
 * ticks, so a rate from one tick to the next would swing between 0 and twice the truth.
 */
const RATE_SPAN_MS = 5000;
/** A process whose heartbeats stopped stays listed (as gone) this long. */
const GONE_LISTED_MS = 60_000;

class ModelBoard {
  readonly agg: TimeWindows;
  readonly lag: (number | null)[];
  readonly decisions: GateDecision[] = [];
  gateStats: { accepted: number; rejected: number; rollbacks: number } | null = null;
  readonly trained = new RateOf();
  trainedPerSec = 0;
  /** The prequential figures as last computed, and whether reports came since. */
  figures: ReturnType<DashboardState['figuresOf']> | undefined;
  nextFiguresAtMs = -Infinity;
  dirty = true;
  readonly series = { trainedPerSec: [] as number[], lag: [] as (number | null)[], freshnessP50Ms: [] as (number | null)[], freshnessP99Ms: [] as (number | null)[] };

  constructor(readonly m: DashboardModel) {
    this.agg = new TimeWindows(m.evalBucketMs, m.metric);
    this.lag = new Array<number | null>(m.eventShards).fill(null);
  }
}

/** A counter's rate over the last RATE_SPAN_MS of samples; a counter that went back (a restarted process) starts over. */
export class RateOf {
  private readonly at: number[] = [];
  private readonly v: number[] = [];

  add(nowMs: number, total: number | null): number {
    if (total === null) return 0;
    if (this.v.length && total < this.v[this.v.length - 1]) { this.at.length = 0; this.v.length = 0; }
    this.at.push(nowMs);
    this.v.push(total);
    while (this.at.length > 2 && nowMs - this.at[1] >= RATE_SPAN_MS) { this.at.shift(); this.v.shift(); }
    const dt = nowMs - this.at[0];
    return dt > 0 ? ((total - this.v[0]) * 1000) / dt : 0;
  }
}

export interface ProcessRow {
  service: string;
  instance: string;
  model: string;
  id: string;
  alive: boolean;
  ready: boolean;
  notReady: string | null;
  lastSeenMsAgo: number;
  upMs: number;
  stats: Record<string, number | null>;
}

export class DashboardState {
  private readonly boards = new Map<string, ModelBoard>();
  private readonly processes = new Map<string, ProcessSeen>();
  private readonly t: number[] = [];
  private readonly ingestPerSec: number[] = [];
  private readonly accepted = new RateOf();
  private eventsPerSecIn = 0;
  /** Messages that did not parse, by subject kind: counted, never applied. */
  readonly bad = { reports: 0, heartbeats: 0, serving: 0 };

  /**
   * figuresEveryMs: the windows merge every bucket of the stream, a cost that grows with it:
   * recomputed at most this often (and only when reports came), the counters every snapshot;
   * 0 = whenever reports came.
   */
  constructor(models: readonly DashboardModel[], readonly startedAtMs = Date.now(), private readonly figuresEveryMs = 0) {
    for (const m of models) this.boards.set(m.name, new ModelBoard(m));
  }

  get modelNames(): string[] {
    return [...this.boards.keys()];
  }

  private board(model: string): ModelBoard {
    const b = this.boards.get(model);
    if (!b) throw new Error(`unknown model ${model}`);
    return b;
  }

  onReport(model: string, r: WorkerReport): void {
    const ok = r && typeof r.worker === 'string' && Number.isFinite(r.eventsTrained) && Array.isArray(r.buckets);
    if (!ok) { this.bad.reports++; return; }
    const b = this.board(model);
    b.agg.add(r);
    if (r.buckets.length) b.dirty = true;
  }

  onHeartbeat(hb: Heartbeat, nowMs = Date.now()): void {
    this.processes.set(hb.id, { hb, seenAtMs: nowMs });
  }

  onServing(model: string, msg: unknown): void {
    const m = msg as { kind?: string; accepted?: unknown; stats?: { accepted?: number; rejected?: number; rollbacks?: number } } & Partial<GateDecision>;
    if (!m || typeof m !== 'object') { this.bad.serving++; return; }
    if (m.kind !== 'decision') return; // pointer moves show as the served versions
    if (typeof m.accepted !== 'boolean' || typeof m.at !== 'number') { this.bad.serving++; return; }
    const b = this.board(model);
    b.decisions.push({
      at: m.at, accepted: m.accepted, reason: String(m.reason ?? ''), metric: String(m.metric ?? ''),
      candidate: Number(m.candidate), serving: Number(m.serving), candidateVersions: Array.isArray(m.candidateVersions) ? m.candidateVersions.map(Number) : [],
    });
    if (b.decisions.length > 50) b.decisions.shift();
    if (m.stats) b.gateStats = { accepted: Number(m.stats.accepted ?? 0), rejected: Number(m.stats.rejected ?? 0), rollbacks: Number(m.stats.rollbacks ?? 0) };
  }

  /** Messages waiting for (or held by) a worker on one event shard; null = not known (no consumer yet). */
  onBacklog(model: string, shard: number, messages: number | null): void {
    const b = this.board(model);
    if (shard >= 0 && shard < b.lag.length) b.lag[shard] = messages;
  }

  private alive(p: ProcessSeen, nowMs: number): boolean {
    return p.hb.intervalMs > 0 && nowMs - p.seenAtMs <= 3 * p.hb.intervalMs + 500;
  }

  /** The newest live heartbeat of a service of a model (the inference node, ingest). */
  private newest(service: string, model: string | undefined, nowMs: number): Heartbeat | undefined {
    let best: ProcessSeen | undefined;
    for (const p of this.processes.values()) {
      if (p.hb.service !== service || (model && p.hb.model !== model) || !this.alive(p, nowMs)) continue;
      if (!best || p.seenAtMs > best.seenAtMs) best = p;
    }
    return best?.hb;
  }

  /** One sample of the time charts: rates since the last tick. Call about once a second. */
  tick(nowMs = Date.now()): void {
    const ingest = this.newest('ingest', undefined, nowMs);
    this.eventsPerSecIn = this.accepted.add(nowMs, ingest?.stats.eventsAccepted ?? null);
    this.push(this.t, Math.round((nowMs - this.startedAtMs) / 100) / 10);
    this.push(this.ingestPerSec, this.eventsPerSecIn);
    for (const b of this.boards.values()) {
      b.trainedPerSec = b.trained.add(nowMs, b.agg.total('eventsTrained'));
      const inf = this.newest('inference', b.m.name, nowMs);
      this.push(b.series.trainedPerSec, b.trainedPerSec);
      this.push(b.series.lag, b.lag.every((x) => x === null) ? null : b.lag.reduce<number>((s, x) => s + (x ?? 0), 0));
      this.push(b.series.freshnessP50Ms, inf?.stats.freshnessP50Ms ?? null);
      this.push(b.series.freshnessP99Ms, inf?.stats.freshnessP99Ms ?? null);
    }
    for (const [id, p] of this.processes) if (nowMs - p.seenAtMs > GONE_LISTED_MS) this.processes.delete(id);
  }

  private push<T>(a: T[], x: T): void {
    a.push(x);
    if (a.length > TIMELINE_SAMPLES) a.shift();
  }

  snapshot(nowMs = Date.now()) {
    const processes: ProcessRow[] = [...this.processes.values()]
      .map((p) => ({
        service: p.hb.service, instance: p.hb.instance, model: p.hb.model, id: p.hb.id,
        alive: this.alive(p, nowMs), ready: this.alive(p, nowMs) && !p.hb.notReady, notReady: p.hb.notReady ?? null,
        lastSeenMsAgo: nowMs - p.seenAtMs, upMs: p.hb.atMs - p.hb.startedAtMs, stats: p.hb.stats,
      }))
      .sort((a, b) => a.model.localeCompare(b.model) || a.service.localeCompare(b.service) || a.instance.localeCompare(b.instance) || a.upMs - b.upMs);
    const ingest = this.newest('ingest', undefined, nowMs);
    return {
      atMs: nowMs,
      startedAtMs: this.startedAtMs,
      ingest: { eventsAccepted: ingest?.stats.eventsAccepted ?? null, eventsPerSec: this.eventsPerSecIn },
      timeline: { t: [...this.t], ingestPerSec: [...this.ingestPerSec] },
      processes,
      bad: { ...this.bad },
      models: [...this.boards.values()].map((b) => this.modelSnapshot(b, processes, nowMs)),
    };
  }

  /** The model's prequential figures: windows, the latest one, overall. */
  private figuresOf(b: ModelBoard) {
    const H = b.m.metric.headline;
    const hasFigures = b.agg.size > 0;
    const windows = hasFigures ? b.agg.windows() : [];
    const baselineNames = [...new Set(windows.flatMap((w) => Object.keys(w.baselines)))].sort();
    const overall = hasFigures ? b.agg.overall() : undefined;
    const last = windows[windows.length - 1];
    const fig = (f: Record<string, number> | undefined, k: string) => (f && Number.isFinite(f[k]) ? f[k] : null);
    return {
      windows: {
        toMs: windows.map((w) => w.toMs),
        examples: windows.map((w) => w.examples),
        model: windows.map((w) => fig(w.figures, H)),
        baselines: Object.fromEntries(baselineNames.map((n) => [n, windows.map((w) => fig(w.baselines[n], H))])),
      },
      latest: last ? {
        model: fig(last.figures, H), logLoss: fig(last.figures, 'logLoss'),
        baselines: Object.fromEntries(baselineNames.map((n) => [n, { [H]: fig(last.baselines[n], H), logLoss: fig(last.baselines[n], 'logLoss') }])),
      } : null,
      overall: overall ? {
        model: fig(overall.figures, H), logLoss: fig(overall.figures, 'logLoss'),
        baselines: Object.fromEntries(Object.keys(overall.baselines).sort().map((n) => [n, fig(overall.baselines[n], H)])),
      } : null,
    };
  }

  private modelSnapshot(b: ModelBoard, processes: ProcessRow[], nowMs: number) {
    if (!b.figures || (b.dirty && nowMs >= b.nextFiguresAtMs)) {
      const t0 = performance.now();
      b.figures = this.figuresOf(b);
      // The merge grows with the stream (a demand bucket holds every item): past a point it
      // runs less often, so that it takes at most a tenth of the dashboard's time.
      const tookMs = performance.now() - t0;
      b.nextFiguresAtMs = this.figuresEveryMs > 0 ? nowMs + Math.max(this.figuresEveryMs, 10 * tookMs) : nowMs;
      b.dirty = false;
    }
    const inf = processes.find((p) => p.service === 'inference' && p.model === b.m.name && p.alive);
    return {
      name: b.m.name, kind: b.m.kind,
      metric: { headline: b.m.metric.headline, higherIsBetter: b.m.metric.higherIsBetter },
      eventsTrained: b.agg.total('eventsTrained'),
      examples: b.agg.total('examples'),
      eventsPerSecTrained: b.trainedPerSec,
      ...b.figures,
      series: { trainedPerSec: [...b.series.trainedPerSec], lag: [...b.series.lag], freshnessP50Ms: [...b.series.freshnessP50Ms], freshnessP99Ms: [...b.series.freshnessP99Ms] },
      lagByShard: [...b.lag],
      freshness: { p50Ms: inf?.stats.freshnessP50Ms ?? null, p99Ms: inf?.stats.freshnessP99Ms ?? null },
      servedVersions: inf ? Array.from({ length: b.m.psShards }, (_, k) => inf.stats[`servedVersion.${k}`] ?? null) : null,
      psShards: Array.from({ length: b.m.psShards }, (_, k) => {
        const p = processes.find((x) => x.service === 'ps' && x.model === b.m.name && x.stats.shard === k && x.alive);
        return { shard: k, alive: !!p, version: p?.stats.version ?? null, persistedVersion: p?.stats.persistedVersion ?? null, epoch: p?.stats.epoch ?? null, lrFactor: p?.stats.lrFactor ?? null };
      }),
      gate: b.gateStats || b.decisions.length ? { ...(b.gateStats ?? { accepted: 0, rejected: 0, rollbacks: 0 }), decisions: b.decisions.slice(-20) } : null,
    };
  }
}

export type DashboardSnapshot = ReturnType<DashboardState['snapshot']>;

// Figure 7: events trained per second with 1 and 2 workers, and with 1, 2 and 4 PS shards: a
// real local cluster (separate processes over NATS and Redis, startLocalCluster), each run its
// own model (removed afterwards with resetModel), fed synthetic events published straight to
// JetStream as ingest would. The rate is read from the workers' reports (ReportAggregator):
// events trained between 10% and 90% of the total, so process start-up and the tail are out.
// It also samples each service's resident memory at the end of a run (figure 8 reads it).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JetStreamEventLog, ReportAggregator, binaryMetric, connectNats, encode, eventShardOf, loadConfig, mulberry32, waitFor,
  type EventBatchMessage, type FlywheelConfig, type FlywheelEvent,
} from '../shared/index.ts';
import { resetModel, startLocalCluster } from '../cluster/local-cluster.ts';
import { figure, progress, runId, sampled } from './lib/figures.ts';

export interface RunResult { workers: number; shards: number; eventsPerSec: number; rssBytes: Record<string, number> }

/** Resident bytes (VmRSS) of the cluster's service processes, found by their config file. */
function serviceRss(cfgFile: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmd.includes(cfgFile)) continue;
      const svc = /services\/(\w+)\/main\.ts/.exec(cmd.join(' '))?.[1] ?? 'unknown';
      const flag = cmd.indexOf(svc === 'ps' ? '--shard' : '--index');
      const name = flag >= 0 ? `${svc}-${cmd[flag + 1]}` : svc;
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (kb) out[name] = Number(kb) * 1024;
    } catch { /* the process went away while we looked */ }
  }
  return out;
}

function events(n: number, seed: number): FlywheelEvent[] {
  const rand = mulberry32(seed);
  const t0 = Date.UTC(2024, 0, 1);
  return Array.from({ length: n }, (_, i) => {
    const u = Math.floor(rand() * 20_000);
    const it = Math.floor(rand() * 20_000);
    return { userId: `u${u}`, itemId: `i${it}`, categoryId: `c${it % 200}`, type: it % 4 === 0 || u % 5 === 0 ? 'buy' : 'view', ts: t0 + i * 10 };
  });
}

export async function runCluster(workers: number, shards: number, nEvents: number): Promise<RunResult> {
  const cfg: FlywheelConfig = loadConfig({
    overrides: {
      model: runId(`s${workers}${shards}`), psShards: shards, workers, eventShards: 4,
      settings: { labels: { kind: 'types', positive: ['buy'] } },
      worker: { metricsIntervalMs: 250 }, ps: { publishIntervalMs: 100 },
    },
  });
  const logDir = mkdtempSync(join(tmpdir(), 'fw-bench-'));
  const nc = await connectNats(cfg.natsUrl, 'bench-scaling');
  const log = new JetStreamEventLog(nc, { model: cfg.model, eventShards: cfg.eventShards });
  let cluster: Awaited<ReturnType<typeof startLocalCluster>> | undefined;
  try {
    await log.ensure();
    // The whole stream is published before the services start, so the workers never wait for input.
    const evs = events(nEvents, 17);
    for (let i = 0; i < evs.length; i += 512) {
      const byShard: FlywheelEvent[][] = Array.from({ length: cfg.eventShards }, () => []);
      for (const ev of evs.slice(i, i + 512)) byShard[eventShardOf(ev.userId, cfg.eventShards)].push(ev);
      await Promise.all(byShard.map((b, s) => (b.length ? log.publish(s, encode({ acceptedAtMs: Date.now(), events: b } satisfies EventBatchMessage)) : undefined)));
    }
    progress(`scaling: ${workers} worker(s), ${shards} PS shard(s), ${nEvents} events: starting the cluster`);
    cluster = await startLocalCluster(cfg, { embedded: false, logDir });
    const agg = new ReportAggregator(cfg.worker.evalBucketMs, binaryMetric);
    const marks: { at: number; n: number }[] = [];
    cluster.onReport((r) => { agg.add(r); marks.push({ at: performance.now(), n: agg.total('eventsTrained') }); });
    await Promise.race([waitFor(() => agg.total('eventsTrained') >= nEvents, 240_000, 'every event trained', 100), cluster.failed]);
    const rssBytes = serviceRss(join(logDir, 'flywheel.json'));
    let a = marks.find((m) => m.n >= 0.1 * nEvents)!;
    let b = marks.find((m) => m.n >= 0.9 * nEvents)!;
    // Reports arrive in bursts (each worker's counters go out before each ack): when the two
    // marks fall within a burst, their distance in time says nothing; then the whole run, first
    // report to last, is the measure.
    if (b.at - a.at < MIN_SPAN_MS) { a = marks.find((m) => m.n > 0) ?? a; b = marks[marks.length - 1]; }
    const eventsPerSec = ((b.n - a.n) * 1000) / Math.max(1, b.at - a.at);
    progress(`scaling: ${workers}W/${shards}K: ${Math.round(eventsPerSec)} events/s`);
    return { workers, shards, eventsPerSec, rssBytes };
  } finally {
    await cluster?.stop().catch((err) => progress(`cluster stop: ${(err as Error).message}`));
    await nc.close();
    await resetModel(cfg).catch((err) => progress(`reset of ${cfg.model}: ${(err as Error).message}`));
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** Shortest time between the 10% and 90% marks that measures a rate (see runCluster). */
const MIN_SPAN_MS = 500;

/** The last run's service RSS, for the memory figures. */
export let lastRss: Record<string, number> | undefined;

/**
 * runCluster, once more on a port clash: startLocalCluster picks free ports, then the services
 * bind them a moment later, and on a machine shared with other clusters one can be taken in
 * between (EADDRINUSE). A fresh attempt picks new ports.
 */
export async function runClusterRetrying(workers: number, shards: number, nEvents: number): Promise<RunResult> {
  try {
    return await runCluster(workers, shards, nEvents);
  } catch (err) {
    if (!/EADDRINUSE/.test(String((err as Error).message))) throw err;
    progress('scaling: a port was taken between assignment and bind (EADDRINUSE): retrying with new ports');
    return runCluster(workers, shards, nEvents);
  }
}

/** `reps` runs of each layout, one of each in turn (so a load drift hits every layout alike). */
export async function benchScaling(nEvents: number, reps: number): Promise<void> {
  const layouts = [[1, 1], [2, 1], [2, 2], [2, 4]] as const;
  const rates: number[][] = layouts.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    for (const [i, [w, k]] of layouts.entries()) {
      progress(`scaling: repetition ${rep + 1} of ${reps}`);
      const r = await runClusterRetrying(w, k, nEvents);
      rates[i].push(r.eventsPerSec);
      lastRss = r.rssBytes;
    }
  }
  const [w1, w2, k2, k4] = layouts.map(([w, k], i) => sampled(`scaling.events.${w}W-${k}K`, 'events/s', rates[i]));
  const cores = 'this machine has 2 cores, shared: each worker is one tfjs-wasm thread, and PS, inference, ingest and NATS/Redis compete for the same cores';
  figure(w2, w1, { target: 'near 2x with 2 workers (ratio >= 1.6)', check: (x) => x >= 1.6, note: cores });
  figure(k2, w2, { note: '2 workers, 2 PS shards vs 1' });
  figure(k4, w2, { note: '2 workers, 4 PS shards vs 1' });
}

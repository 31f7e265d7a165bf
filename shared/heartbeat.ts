// Every service process publishes a small heartbeat about once a second: who it is, whether it
// is ready, and the few figures a watcher cannot get from the worker reports (a PS shard's
// version, inference's freshness, ingest's events accepted). The dashboard reads liveness from
// them: a process is alive while its heartbeats keep coming, whatever host or pod it runs on.
import { decode, encode } from './codec.ts';
import { subjects } from './protocol.ts';
import type { Transport } from './transport/types.ts';

export interface Heartbeat {
  /** ps, worker, inference, ingest, validator, dashboard. */
  service: string;
  /** Unique per process: a restarted process is a new id. */
  id: string;
  model: string;
  /** ps-1, worker-0, ...: what a human calls it. */
  instance: string;
  pid: number;
  startedAtMs: number;
  atMs: number;
  /** Publishing again within this many ms: a watcher counts the process gone after ~3 of them missed. */
  intervalMs: number;
  /** Not ready: why (no weights yet, restoring...). Absent when ready. */
  notReady?: string;
  /** The service's own figures; null = not known yet. */
  stats: Record<string, number | null>;
}

export interface HeartbeatSource {
  service: string;
  model: string;
  instance: string;
  /** Why the service is not ready, or undefined when it is. */
  notReady?: () => string | undefined;
  stats?: () => Record<string, number | null>;
}

export const HEARTBEAT_INTERVAL_MS = 1000;

/** Publishes heartbeats until stopped (the last one says the process is going). */
export function startHeartbeat(transport: Transport, src: HeartbeatSource, intervalMs = HEARTBEAT_INTERVAL_MS): { stop(): void } {
  const startedAtMs = Date.now();
  const id = `${src.instance}-${process.pid}-${startedAtMs.toString(36)}`;
  const beat = (going = false): void => {
    const hb: Heartbeat = {
      service: src.service, id, model: src.model, instance: src.instance, pid: process.pid, startedAtMs, atMs: Date.now(),
      intervalMs: going ? 0 : intervalMs, stats: {},
    };
    try {
      hb.notReady = going ? 'stopping' : src.notReady?.();
      hb.stats = src.stats?.() ?? {};
      transport.publish(subjects.heartbeat(src.model), encode(hb));
    } catch {
      // A heartbeat is best effort: a closed connection at shutdown or a failing figure must
      // not take the service down; the watcher sees the beats stop.
    }
  };
  beat();
  const timer = setInterval(() => beat(), intervalMs);
  timer.unref();
  return { stop: () => { clearInterval(timer); beat(true); } };
}

/** A heartbeat from the wire, or an error saying what is wrong with it. */
export function parseHeartbeat(data: Uint8Array): Heartbeat {
  const h = decode(data) as Partial<Heartbeat> | null;
  if (!h || typeof h !== 'object') throw new Error('heartbeat is not an object');
  for (const k of ['service', 'id', 'model', 'instance'] as const) if (typeof h[k] !== 'string' || !h[k]) throw new Error(`heartbeat without ${k}`);
  for (const k of ['pid', 'startedAtMs', 'atMs', 'intervalMs'] as const) if (typeof h[k] !== 'number' || !Number.isFinite(h[k])) throw new Error(`heartbeat ${k} is not a number`);
  if (h.stats !== undefined && (typeof h.stats !== 'object' || h.stats === null)) throw new Error('heartbeat stats is not an object');
  return { ...(h as Heartbeat), stats: h.stats ?? {} };
}

// Open-loop inference load: request i is due at start + i / rate whatever happened to the
// requests before it, and its latency runs from that due time, not from when it was sent.
// A stalled server or a blocked event loop here therefore shows as latency (no coordinated
// omission). Requests score real (user, item) pairs taken from the replayed stream.
import type { FlywheelEvent } from '../shared/index.ts';
import { quantile } from '../shared/index.ts';

export interface PredictLoadOptions {
  inferenceUrl: string;
  /** Requests per second. */
  ratePerSec: number;
  /** A request unanswered after this counts as a timeout. Default 2000 ms. */
  timeoutMs?: number;
  /** Requests in flight at most; a due request beyond it is dropped and counted. Default 256. */
  maxInFlight?: number;
  /** Recent (user, item) pairs kept to draw from. Default 10000. */
  pairPool?: number;
}

/** Latencies in ms, kept whole for the run's percentiles and cut into windows for the charts. */
export class LatencyLog {
  private all = new Float64Array(1024);
  private n = 0;
  private windowStart = 0;

  add(ms: number): void {
    if (this.n === this.all.length) {
      const bigger = new Float64Array(this.all.length * 2);
      bigger.set(this.all);
      this.all = bigger;
    }
    this.all[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  /** p50/p99/p999 over everything so far. */
  percentiles(): { p50: number | null; p99: number | null; p999: number | null } {
    return pct(this.all.subarray(0, this.n));
  }

  /** p50/p99/p999 since the last call, and how many. */
  takeWindow(): { count: number; p50: number | null; p99: number | null; p999: number | null } {
    const w = this.all.subarray(this.windowStart, this.n);
    this.windowStart = this.n;
    return { count: w.length, ...pct(w) };
  }
}

function pct(v: Float64Array) {
  if (v.length === 0) return { p50: null, p99: null, p999: null };
  return { p50: quantile(v, 0.5), p99: quantile(v, 0.99), p999: quantile(v, 0.999) };
}

export class PredictLoad {
  readonly latency = new LatencyLog();
  readonly errors: Record<string, number> = {};
  sent = 0;
  ok = 0;
  private readonly users: string[] = [];
  private readonly items: string[] = [];
  private next = 0;
  private inFlight = 0;
  private timer?: NodeJS.Timeout;
  private t0 = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly o: PredictLoadOptions) {}

  /** Remembers pairs of a batch being replayed (a ring: the newest replace the oldest). */
  observe(batch: FlywheelEvent[]): void {
    const cap = this.o.pairPool ?? 10_000;
    for (const ev of batch) {
      const i = this.next++ % cap;
      this.users[i] = ev.userId;
      this.items[i] = ev.itemId;
    }
  }

  start(): void {
    if (this.o.ratePerSec <= 0) return;
    this.t0 = performance.now();
    let due = 0; // requests scheduled so far
    // A 5 ms tick sends every request that fell due since the last tick, each stamped with its
    // own due time; the tick's lateness then lands in the latencies where it belongs.
    this.timer = setInterval(() => {
      const now = performance.now();
      const target = Math.floor(((now - this.t0) * this.o.ratePerSec) / 1000);
      for (; due < target; due++) this.fire(this.t0 + (due * 1000) / this.o.ratePerSec);
    }, 5);
  }

  private count(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  private fire(dueAt: number): void {
    const have = Math.min(this.next, this.users.length);
    if (have === 0) return this.count('no_pairs_yet');
    if (this.inFlight >= (this.o.maxInFlight ?? 256)) return this.count('dropped_client_overload');
    const k = Math.floor(Math.random() * have);
    const body = JSON.stringify({ events: [{ userId: this.users[k], itemId: this.items[k] }] });
    this.sent++;
    this.inFlight++;
    const p = (async () => {
      try {
        const res = await fetch(`${this.o.inferenceUrl}/v1/predict`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body,
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 2000),
        });
        const json = await res.json().catch(() => undefined) as { scores?: unknown[] } | undefined;
        if (!res.ok) return this.count(`http_${res.status}`);
        if (!Array.isArray(json?.scores) || json.scores.length !== 1) return this.count('bad_response');
        this.ok++;
        this.latency.add(performance.now() - dueAt);
      } catch (err) {
        this.count((err as Error).name === 'TimeoutError' ? 'timeout' : 'network');
      } finally {
        this.inFlight--;
      }
    })();
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Stops sending and waits for the requests in flight (each bounded by its timeout). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(this.pending);
  }
}

// Ingest alone, pushed as hard as it goes: request bodies are serialized once before the run
// (so the client's JSON work is not what is measured), then `concurrency` loops each POST the
// next body as soon as the last one is answered, until the time or event bound. Each request
// carries a unique Idempotency-Key, as real clients do, so JetStream's de-duplication is paid.
import { randomBytes } from 'node:crypto';
import type { FlywheelEvent } from '../shared/index.ts';

export interface IngestCeilingOptions {
  ingestUrl: string;
  /** Events to cycle through (a dataset's first N). */
  events: FlywheelEvent[];
  /** Events per POST. */
  batchEvents: number;
  /** POSTs in flight. */
  concurrency: number;
  /** Stop starting requests after this long (ms). */
  durationMs: number;
  /** Stop starting requests after this many events. Default: no bound. */
  maxEvents?: number;
  /** Per request; a slower answer counts as a 'timeout'. */
  requestTimeoutMs: number;
  /** Stop early (SIGINT). */
  stop?: () => boolean;
}

export class IngestCeiling {
  accepted = 0;
  requests = 0;
  readonly errors: Record<string, number> = {};
  /** Request latencies (ms) of accepted POSTs, for the report. */
  readonly latenciesMs: number[] = [];

  constructor(private readonly o: IngestCeilingOptions) {
    if (o.events.length === 0) throw new Error('no events to send');
  }

  private bodies(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.o.events.length; i += this.o.batchEvents) {
      out.push(JSON.stringify(this.o.events.slice(i, i + this.o.batchEvents)));
    }
    return out;
  }

  async run(): Promise<{ elapsedMs: number }> {
    const bodies = this.bodies();
    const sizes = bodies.map((b, i) => Math.min(this.o.batchEvents, this.o.events.length - i * this.o.batchEvents));
    const t0 = performance.now();
    const deadline = t0 + this.o.durationMs;
    const maxEvents = this.o.maxEvents ?? Infinity;
    let next = 0;
    let started = 0;
    // Keys unique to this run: a key seen in an earlier run (with the same body) would be
    // answered from its record without publishing, and counted as throughput.
    const run = randomBytes(6).toString('hex');
    const loop = async (lane: number) => {
      while (performance.now() < deadline && started < maxEvents && !this.o.stop?.()) {
        const k = next++ % bodies.length;
        started += sizes[k];
        const t = performance.now();
        try {
          const res = await fetch(`${this.o.ingestUrl}/v1/events`, {
            method: 'POST', body: bodies[k],
            headers: { 'content-type': 'application/json', 'idempotency-key': `ceiling-${run}-${lane}-${this.requests}-${k}` },
            signal: AbortSignal.timeout(this.o.requestTimeoutMs),
          });
          await res.arrayBuffer();
          this.requests++;
          if (res.ok) {
            this.accepted += sizes[k];
            if (this.latenciesMs.length < 1_000_000) this.latenciesMs.push(performance.now() - t);
          } else {
            this.count(`http_${res.status}`);
          }
        } catch (err) {
          this.requests++;
          this.count((err as Error).name === 'TimeoutError' ? 'timeout' : 'network');
          // A refused connection fails at once: do not spin on it.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency }, (_, i) => loop(i)));
    return { elapsedMs: performance.now() - t0 };
  }

  private count(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }
}

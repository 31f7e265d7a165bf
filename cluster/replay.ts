// Replays a stream of events into ingest over HTTP: batches of events per request, a bound
// on requests in flight, and an optional bound on the backlog (events sent but not yet
// trained) so the replay runs as fast as the system learns rather than flooding the stream.
// Load tests add pacing by the events' own timestamps (speedup) and count failed requests
// instead of stopping at the first one.
import { randomBytes } from 'node:crypto';
import type { FlywheelEvent } from '../shared/index.ts';

export interface ReplayOptions {
  ingestUrl: string;
  /** Events per POST. Default 500. */
  batchEvents?: number;
  /** POSTs in flight. Default 2. */
  concurrency?: number;
  /** Pause sending while sent - trained() exceeds this. Default: no bound. */
  maxBacklogEvents?: number;
  trained?: () => number;
  /** Fixed send rate in events/s (open loop); default as fast as allowed. */
  ratePerSec?: number;
  /** Send each event at (its ts - the first ts) / speedup after the start; overrides ratePerSec. Default: off. */
  speedup?: number;
  /** With speedup: a batch is sent once it spans this much send time, even if not full. Default 20 ms. */
  maxBatchSpanMs?: number;
  /** A POST not answered within this is aborted and counts as a 'timeout'. Default: no limit. */
  requestTimeoutMs?: number;
  /**
   * When set, a failed POST is reported here by kind (http_<status>, timeout, network) and the
   * replay goes on, so a load test can count errors; without it the first failure ends the replay.
   */
  onRequestError?: (kind: string, err: Error) => void;
  /** Each batch as it is handed to a POST (load tests draw predict requests from it). */
  onBatch?: (batch: FlywheelEvent[]) => void;
  signal?: AbortSignal;
  onProgress?: (sent: number) => void;
  /** A request that failed on the network and is sent again (same idempotency key). */
  onRetry?: (err: Error) => void;
}

export interface ReplayResult {
  sent: number;
  requests: number;
  failedRequests: number;
  elapsedMs: number;
}

/** A failed POST with the kind a load test counts it under. */
export class ReplayRequestError extends Error {
  override name = 'ReplayRequestError';
  constructor(readonly kind: string, message: string, override readonly cause?: unknown) {
    super(message);
  }
}

export async function replay(events: AsyncIterable<FlywheelEvent>, o: ReplayOptions): Promise<ReplayResult> {
  const batchEvents = o.batchEvents ?? 500;
  const concurrency = o.concurrency ?? 2;
  const spanMs = o.maxBatchSpanMs ?? 20;
  const t0 = performance.now();
  // Idempotency keys name one request for a day (ingest.idempotencyTtlSeconds): a second
  // replay of the same events must not reuse the first one's, or ingest answers it from the
  // first one's records and publishes nothing.
  const run = randomBytes(6).toString('hex');
  let sent = 0;
  let requests = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  let firstError: Error | undefined;
  let firstTs: number | undefined;
  // Send time of an event under speedup pacing, relative to t0.
  const dueOf = (ev: FlywheelEvent) => (ev.ts - (firstTs ??= ev.ts)) / o.speedup!;

  const postOnce = async (batch: FlywheelEvent[], key: string): Promise<Response> => {
    const signals = [o.signal, o.requestTimeoutMs ? AbortSignal.timeout(o.requestTimeoutMs) : undefined].filter((s) => s !== undefined);
    try {
      return await fetch(`${o.ingestUrl}/v1/events`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(batch), signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError';
      throw new ReplayRequestError(timeout ? 'timeout' : 'network', `POST /v1/events: ${(err as Error).message}`, err);
    }
  };

  const post = async (batch: FlywheelEvent[], key: string) => {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await postOnce(batch, key);
      } catch (err) {
        // A keep-alive socket the server closed as it was reused fails with a network error;
        // the same idempotency key makes sending the batch again safe (ingest keeps it once).
        if (err instanceof ReplayRequestError && err.kind === 'network' && attempt < 5 && !o.signal?.aborted) {
          o.onRetry?.(err);
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
          continue;
        }
        throw err;
      }
      const text = await res.text();
      if (res.ok) break;
      // 503: ingest or the stream is busy or down; 409: an earlier attempt of this request is still in flight.
      if ((res.status === 503 || res.status === 409) && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        continue;
      }
      throw new ReplayRequestError(`http_${res.status}`, `ingest answered ${res.status}: ${text.slice(0, 500)}`);
    }
    sent += batch.length;
    o.onProgress?.(sent);
  };

  let batch: FlywheelEvent[] = [];
  let queued = 0;
  const flush = async () => {
    const b = batch;
    batch = [];
    requests++;
    queued += b.length;
    const due = o.speedup ? t0 + dueOf(b[b.length - 1]) : o.ratePerSec ? t0 + (queued / o.ratePerSec) * 1000 : 0;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (o.maxBacklogEvents !== undefined && o.trained && sent - o.trained() > o.maxBacklogEvents) {
      if (o.signal?.aborted) throw new Error('replay aborted');
      await new Promise((r) => setTimeout(r, 10));
    }
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (firstError) throw firstError;
    o.onBatch?.(b);
    const p = post(b, `replay-${run}-${requests}`).catch((err) => {
      failed++;
      if (o.onRequestError && err instanceof ReplayRequestError) o.onRequestError(err.kind, err);
      else firstError ??= err as Error;
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  for await (const ev of events) {
    if (o.signal?.aborted) throw new Error('replay aborted');
    // Under speedup a batch must not hold an event back past its own send time.
    if (o.speedup && batch.length > 0 && dueOf(ev) - dueOf(batch[0]) > spanMs) await flush();
    batch.push(ev);
    if (batch.length >= batchEvents) await flush();
  }
  if (batch.length) await flush();
  await Promise.all(inFlight);
  if (firstError) throw firstError;
  return { sent, requests, failedRequests: failed, elapsedMs: performance.now() - t0 };
}

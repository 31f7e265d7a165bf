// Replays a stream of events into ingest over HTTP: batches of events per request, a bound
// on requests in flight, and an optional bound on the backlog (events sent but not yet
// trained) so the replay runs as fast as the system learns rather than flooding the stream.
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
  signal?: AbortSignal;
  onProgress?: (sent: number) => void;
}

export interface ReplayResult {
  sent: number;
  requests: number;
  failedRequests: number;
  elapsedMs: number;
}

export async function replay(events: AsyncIterable<FlywheelEvent>, o: ReplayOptions): Promise<ReplayResult> {
  const batchEvents = o.batchEvents ?? 500;
  const concurrency = o.concurrency ?? 2;
  const t0 = performance.now();
  let sent = 0;
  let requests = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  let firstError: Error | undefined;

  const post = async (batch: FlywheelEvent[]) => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${o.ingestUrl}/v1/events`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `replay-${requests}-${batch[0].ts}` },
        body: JSON.stringify(batch), signal: o.signal,
      });
      const text = await res.text();
      if (res.ok) break;
      if (res.status === 503 && attempt < 5) {
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        continue;
      }
      failed++;
      throw new Error(`ingest answered ${res.status}: ${text.slice(0, 500)}`);
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
    if (o.ratePerSec) {
      const due = t0 + (queued / o.ratePerSec) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    while (o.maxBacklogEvents !== undefined && o.trained && sent - o.trained() > o.maxBacklogEvents) {
      if (o.signal?.aborted) throw new Error('replay aborted');
      await new Promise((r) => setTimeout(r, 10));
    }
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (firstError) throw firstError;
    const p = post(b).catch((err) => { firstError ??= err as Error; }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  for await (const ev of events) {
    if (o.signal?.aborted) throw new Error('replay aborted');
    batch.push(ev);
    if (batch.length >= batchEvents) await flush();
  }
  if (batch.length) await flush();
  await Promise.all(inFlight);
  if (firstError) throw firstError;
  return { sent, requests, failedRequests: failed, elapsedMs: performance.now() - t0 };
}

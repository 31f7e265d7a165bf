// Replays a stream of events into a running Flywheel, then waits until the workers have
// trained them: the one driver behind `flywheel demo`, the eval harness's incremental way, the
// load test, the chaos harness and the integration tests. Events go either through ingest's
// HTTP API (replay.ts: batches, requests in flight, a backlog bound, pacing) or straight into
// the event log (publish), for runs that test what happens behind ingest.
import { encode, eventShardOf, type EventBatchMessage, type EventLog, type FlywheelEvent } from '../shared/index.ts';
import { replay, type ReplayOptions, type ReplayResult } from './replay.ts';

export interface TrainProgress {
  /** Events accepted so far (by ingest, or published). */
  sent: number;
  /** Events trained so far, as the caller counts them (worker reports). */
  trained: number;
  /** Since the driver started. */
  elapsedMs: number;
}

/** Through ingest's POST /v1/events, with replay.ts's options (batching, pacing, backlog bound). */
export type IngestSink = { ingestUrl: string } & Omit<ReplayOptions, 'ingestUrl' | 'trained' | 'signal' | 'onProgress'>;

/** Straight into the event log: `publish` gets the stream in batches, in order, one at a time. */
export interface PublishSink {
  publish: (batch: FlywheelEvent[]) => Promise<void>;
  /** Events per publish call. Default 500. */
  batchEvents?: number;
}

export interface ReplayUntilTrainedOptions {
  /** The stream, in the order it is sent. */
  events: AsyncIterable<FlywheelEvent> | Iterable<FlywheelEvent>;
  to: IngestSink | PublishSink;
  /** Events trained so far (e.g. ReportAggregator.total('eventsTrained') over the worker reports). */
  trained: () => number;
  /** Wait until trained() reaches this. Default: the number of events sent. */
  expected?: number;
  /** Replaces the expected-count test: the run is done when this says so (polled every pollMs). */
  done?: (p: TrainProgress) => boolean | Promise<boolean>;
  /** Called after each batch is accepted, with the events sent so far. */
  onSent?: (sent: number) => void;
  /** Called every progressIntervalMs while the driver runs. */
  onProgress?: (p: TrainProgress) => void;
  /** Default 0: no progress calls. */
  progressIntervalMs?: number;
  /** Called once the whole stream is sent, before the wait for training (awaited). */
  onReplayed?: (r: { sent: number; replayMs: number; trained: number }) => void | Promise<void>;
  /**
   * Fail when neither the events sent nor trained() move for this long, while sending (ingest
   * not answering, or the backlog bound waiting on training) or after. Default 120000 ms. Waits
   * of a replay paced by the events' timestamps count too: such runs pass Infinity.
   */
  stallTimeoutMs?: number;
  /** After the stream is sent, wait at most this long, then resolve with caughtUp false. Default: no limit. */
  drainTimeoutMs?: number;
  /** Fail when the whole run (sending and training) takes longer than this. Default: no limit. */
  deadlineMs?: number;
  /** Rejects when a service dies (LocalCluster.failed, ProcessGroup.watch()): the driver rejects with it. */
  failed?: Promise<never>;
  signal?: AbortSignal;
  /** How often the done test is polled while waiting. Default 100 ms. */
  pollMs?: number;
  /** Appended to the stall error (e.g. "see reports/demo-…"). */
  stallHint?: string;
}

export interface ReplayUntilTrainedResult {
  sent: number;
  trained: number;
  /** False only when drainTimeoutMs ran out first. */
  caughtUp: boolean;
  replayMs: number;
  drainMs: number;
  /** Request counts of an IngestSink run. */
  replay?: ReplayResult;
}

/** What a run that stopped moving was waiting for, as its error says. */
export type ReplayWait = 'training' | 'backlog' | 'sink';

const WAITING_FOR: Record<ReplayWait, string> = {
  training: 'the workers to train the events sent',
  backlog: 'the workers to train the backlog before more is sent',
  sink: 'the sink (ingest or the event log) to accept the next batch',
};

export class TrainingStalledError extends Error {
  override name = 'TrainingStalledError';
  constructor(readonly trained: number, readonly sent: number, hint?: string, readonly waitingFor: ReplayWait = 'training', stalledMs?: number) {
    super(`training stalled at ${trained} of ${sent} events, waiting for ${WAITING_FOR[waitingFor]}`
      + `${stalledMs !== undefined ? ` (nothing moved for ${stalledMs} ms)` : ''}${hint ? `; ${hint}` : ''}`);
  }
}

export class ReplayDeadlineError extends Error {
  override name = 'ReplayDeadlineError';
  constructor(readonly trained: number, readonly sent: number, readonly deadlineMs: number, readonly waitingFor: ReplayWait, hint?: string) {
    super(`replay not done within its deadline of ${deadlineMs} ms: ${sent} events sent, ${trained} trained, `
      + `waiting for ${WAITING_FOR[waitingFor]}${hint ? `; ${hint}` : ''}`);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function replayUntilTrained(o: ReplayUntilTrainedOptions): Promise<ReplayUntilTrainedResult> {
  const t0 = Date.now();
  let sent = 0;
  let sending = true;
  const progress = (): TrainProgress => ({ sent, trained: o.trained(), elapsedMs: Date.now() - t0 });
  // The watchdog stops the replay through this signal when the run stalls or runs out of time.
  const stop = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
  const waitingFor = (): ReplayWait => {
    if (!sending) return 'training';
    const bound = 'ingestUrl' in o.to ? o.to.maxBacklogEvents : undefined;
    return bound !== undefined && sent - o.trained() > bound ? 'backlog' : 'sink';
  };
  let fail!: (err: Error) => void;
  const watchdogFailed = new Promise<never>((_, reject) => { fail = reject; });
  watchdogFailed.catch(() => undefined);
  const stallMs = o.stallTimeoutMs ?? 120_000;
  let seen = '';
  let movedAt = Date.now();
  const watchdog = setInterval(() => {
    const p = progress();
    const key = `${p.sent}/${p.trained}`;
    if (key !== seen) { seen = key; movedAt = Date.now(); }
    let err: Error | undefined;
    if (o.deadlineMs !== undefined && p.elapsedMs > o.deadlineMs) err = new ReplayDeadlineError(p.trained, p.sent, o.deadlineMs, waitingFor(), o.stallHint);
    else if (Date.now() - movedAt > stallMs) err = new TrainingStalledError(p.trained, p.sent, o.stallHint, waitingFor(), stallMs);
    if (!err) return;
    clearInterval(watchdog);
    fail(err);
    stop.abort(err);
  }, Math.min(o.pollMs ?? 100, 1000));
  const races = [o.failed, watchdogFailed].filter((x) => x !== undefined);
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, ...races]);
  const aborted = () => { if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted'); };
  const onSent = (n: number) => { sent = n; o.onSent?.(n); };
  const timer = o.progressIntervalMs && o.onProgress ? setInterval(() => o.onProgress!(progress()), o.progressIntervalMs) : undefined;
  try {
    let replayResult: ReplayResult | undefined;
    if ('ingestUrl' in o.to) {
      replayResult = await race(replay(toAsync(o.events), { ...o.to, trained: o.trained, signal, onProgress: onSent }));
    } else {
      await race(publishAll(o.events, o.to, onSent, aborted));
    }
    sending = false;
    const replayMs = Date.now() - t0;
    await race(Promise.resolve(o.onReplayed?.({ sent, replayMs, trained: o.trained() })));

    const done = o.done ?? ((p: TrainProgress) => p.trained >= (o.expected ?? p.sent));
    const drainStart = Date.now();
    let caughtUp = true;
    while (!(await race(Promise.resolve(done(progress()))))) {
      aborted();
      if (Date.now() - drainStart >= (o.drainTimeoutMs ?? Infinity)) { caughtUp = false; break; }
      await race(sleep(o.pollMs ?? 100));
    }
    return { sent, trained: o.trained(), caughtUp, replayMs, drainMs: Date.now() - drainStart, replay: replayResult };
  } finally {
    clearInterval(watchdog);
    if (timer) clearInterval(timer);
  }
}

async function publishAll(events: AsyncIterable<FlywheelEvent> | Iterable<FlywheelEvent>, to: PublishSink,
  onSent: (n: number) => void, aborted: () => void): Promise<void> {
  const size = to.batchEvents ?? 500;
  let sent = 0;
  let batch: FlywheelEvent[] = [];
  const flush = async () => {
    aborted();
    const b = batch;
    batch = [];
    await to.publish(b);
    sent += b.length;
    onSent(sent);
  };
  for await (const ev of events) {
    batch.push(ev);
    if (batch.length >= size) await flush();
  }
  if (batch.length) await flush();
}

async function* toAsync(events: AsyncIterable<FlywheelEvent> | Iterable<FlywheelEvent>): AsyncGenerator<FlywheelEvent> {
  yield* events;
}

/**
 * A PublishSink's publish for the event log, as ingest publishes: each batch split by
 * hash(userId) mod eventShards, one message per shard, stamped with the accept time.
 */
export function publishToEventLog(log: EventLog, eventShards: number): (batch: FlywheelEvent[]) => Promise<void> {
  return async (batch) => {
    const byShard: FlywheelEvent[][] = Array.from({ length: eventShards }, () => []);
    for (const ev of batch) byShard[eventShardOf(ev.userId, eventShards)].push(ev);
    await Promise.all(byShard.map((evs, s) => (evs.length
      ? log.publish(s, encode({ acceptedAtMs: Date.now(), events: evs } satisfies EventBatchMessage))
      : undefined)));
  };
}

// A store loss's rewind on the worker side: a PS shard that restarted without what its store
// had persisted asked (services/ps/rewind.ts) for the acked messages of each event shard since
// the state it restored to be trained again, into it alone. The worker holding an event shard
// reads that range back from the stream, trains it in batches as it trains new events (beside
// them: nothing waits for the rewind) and pushes the gradients to that PS shard only, then
// moves the record's `done` once the shard persisted them, so a worker taking the event shard
// over carries on from there. Events the stream no longer holds are counted and logged.
import {
  type EventPositions, type ExampleSource, type FlywheelEvent, type RangeRead, type Replica, type RewindRecord, type RewindStore,
} from '../../shared/index.ts';
import type { Trainer } from './trainer.ts';
import { parseEventBatch } from './trainer.ts';
import type { WorkerMetrics } from './metrics.ts';

export interface RewinderDeps {
  model: string;
  psShards: number;
  rewinds: RewindStore;
  positions: EventPositions;
  trainer: Trainer;
  replica: Replica;
  newExamples: () => ExampleSource;
  /** Events gathered before a batch is trained (the worker's batch size over examples per event). */
  batchEvents: number;
  metrics: WorkerMetrics;
  log: (level: 'info' | 'warn' | 'error', msg: string, extra?: object) => void;
  /** How often the records are read. Default 1000 ms. */
  pollMs?: number;
}

/** One range being trained again: PS shard k's record of epoch `epoch`, event shard s. */
interface Job { k: number; s: number; epoch: number; stopped: boolean; done: Promise<void> }

class Stopped extends Error {}

export class Rewinder {
  private timer?: NodeJS.Timeout;
  private readonly jobs = new Map<string, Job>();
  private polling = false;
  private stopping = false;
  /** When each event shard was first seen held. */
  private readonly heldSince = new Map<number, number>();
  /** Events trained again, ranges completed, ranges the stream no longer held all of. */
  readonly stats = { events: 0, ranges: 0, unretained: 0 };

  constructor(private readonly d: RewinderDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.d.pollMs ?? 1000);
    this.timer.unref();
    void this.poll();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    for (const j of this.jobs.values()) j.stopped = true;
    await Promise.allSettled([...this.jobs.values()].map((j) => j.done));
  }

  /** The event shard went to another worker: its jobs read no more (what they pushed is still settled). */
  shardRemoved(s: number): void {
    for (const j of this.jobs.values()) if (j.s === s) j.stopped = true;
    this.heldSince.delete(s);
  }

  /**
   * Starts a job for each held event shard whose range of some PS shard's record is not done.
   * A shard just taken over waits a poll: its last holder's job may still be settling what it
   * pushed (and moving `done` past it).
   */
  async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      const now = Date.now();
      const current = new Set(this.d.trainer.shards);
      for (const s of [...this.heldSince.keys()]) if (!current.has(s)) this.shardRemoved(s);
      for (const s of current) if (!this.heldSince.has(s)) this.heldSince.set(s, now);
      const held = [...current].filter((s) => now - this.heldSince.get(s)! >= (this.d.pollMs ?? 1000));
      if (held.length === 0) return;
      for (let k = 0; k < this.d.psShards; k++) {
        const r = await this.d.rewinds.read(this.d.model, k).catch(() => null);
        if (!r) continue;
        // The replica must know the epoch that asked: the pushes go to it (or a later one).
        if ((this.d.replica.shards[k]?.epoch ?? 0) < r.epoch) continue;
        for (const s of held) {
          const range = r.ranges[s];
          const id = `${k}/${s}`;
          const running = this.jobs.get(id);
          if (running && running.epoch !== r.epoch) running.stopped = true; // a newer loss replaced it
          // A job still stopping is left be: the next poll starts it again.
          if (!range || range.done >= range.to || running) continue;
          this.run(k, s, r);
        }
      }
    } finally {
      this.polling = false;
    }
  }

  private run(k: number, s: number, r: RewindRecord): void {
    const job: Job = { k, s, epoch: r.epoch, stopped: false, done: Promise.resolve() };
    const id = `${k}/${s}`;
    this.jobs.set(id, job);
    job.done = this.train(job, r.ranges[s].done, r.ranges[s].to, r.createdAtMs)
      .catch((err: unknown) => {
        if (!(err instanceof Stopped)) this.d.log('warn', 'training a lost range again stopped: it resumes from where it was persisted', { psShard: k, eventShard: s, err: String(err) });
      })
      .finally(() => { if (this.jobs.get(id) === job) this.jobs.delete(id); });
  }

  /** Reads (from, to] of event shard s, trains it into PS shard k in batches, and moves `done` as k persists them. */
  private async train(job: Job, from: number, to: number, askedAtMs: number): Promise<void> {
    const { k, s } = job;
    const t0 = Date.now();
    const source = this.d.newExamples();
    let events: FlywheelEvent[] = [];
    let acceptedSum = 0;
    let lastSeq = from;
    let trained = 0;
    let lost = false;
    // Batches settle in push order (versions of one shard): done moves over the settled prefix.
    const settling: { upTo: number; events: number; ok: boolean | null }[] = [];
    let advancing = Promise.resolve();
    const advance = () => {
      let upTo = -1;
      while (settling.length && settling[0].ok === true) upTo = settling.shift()!.upTo;
      if (settling.length && settling[0].ok === false) { lost = true; job.stopped = true; }
      if (upTo >= 0) advancing = advancing.then(() => this.d.rewinds.advance(this.d.model, k, job.epoch, s, upTo)).then((same) => { if (!same) job.stopped = true; }, () => undefined);
    };
    const flush = async () => {
      if (!events.length) return;
      const batch = events;
      const entry = { upTo: lastSeq, events: batch.length, ok: null as boolean | null };
      settling.push(entry);
      const mean = acceptedSum / batch.length;
      events = [];
      acceptedSum = 0;
      await this.d.trainer.retrain(k, batch, source, mean, (ok) => { entry.ok = ok; advance(); });
      trained += batch.length;
      this.stats.events += batch.length;
      this.d.metrics.rewindEvents.inc(batch.length);
    };
    this.d.log('warn', 'training again the acked events a PS shard\'s store lost, into that shard only', { psShard: k, eventShard: s, fromSeq: from, toSeq: to, epoch: job.epoch });
    // Stopped (the event shard went to another worker, a newer loss replaced the record): no
    // more is read, but what was pushed is still waited for, so that `done` covers it and
    // whoever goes on from there does not train it a third time.
    let read: RangeRead | null = null;
    try {
      read = await this.d.positions.readRange(s, from, to, async (data, seq) => {
        if (job.stopped || this.stopping) throw new Stopped();
        lastSeq = seq;
        try {
          const b = parseEventBatch(data);
          events.push(...b.events);
          acceptedSum += b.acceptedAtMs * b.events.length;
        } catch {
          this.d.metrics.badMessages.inc();
        }
        if (events.length >= this.d.batchEvents) await flush();
      });
      await flush();
    } catch (err) {
      if (!(err instanceof Stopped)) throw err;
    }
    if (read?.expiredBelow) {
      this.d.metrics.rewindUnretained.inc();
      this.stats.unretained++;
      this.d.log('error', 'PART OF THE LOST RANGE IS NO LONGER IN THE STREAM: those events are not trained again', {
        psShard: k, eventShard: s, fromSeq: from, streamStartsAt: read.expiredBelow, hint: 'a longer streamRetentionHours keeps more to train again',
      });
    }
    // The last messages up to `to` may have held nothing to train: done moves to `to` with them.
    if (read) settling.push({ upTo: to, events: 0, ok: true });
    const deadline = Date.now() + 60_000;
    while (settling.length && !lost && !this.stopping && Date.now() < deadline) {
      advance();
      if (settling.length) await new Promise((r) => setTimeout(r, 50));
    }
    await advancing;
    if (lost) throw new Error('the PS shard lost a re-trained batch (it restarted again)');
    if (!read) throw new Stopped();
    if (settling.length) throw new Error('the re-trained batches were not persisted within 60 s');
    this.stats.ranges++;
    this.d.log('warn', 'trained again the lost range of an event shard', {
      psShard: k, eventShard: s, fromSeq: from, toSeq: to, messages: read.messages, events: trained, ms: Date.now() - t0, msSinceAsked: Date.now() - askedAtMs,
    });
  }
}

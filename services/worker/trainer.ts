// The worker's training loop: take JetStream messages of events, batch them by size and max
// wait, score each batch with the current replica before training on it (prequential), push
// the gradients to the PS shards with a bound on pushes in flight, and hand the messages to
// the AckTracker, which acks them once the PS has persisted their update.
import {
  BadMessageError, BatchReservoir, Semaphore, Signal, concatBatches, decode, emptyBatch, isHeldOut, sliceBatch, validateEvent,
  type Baseline, type Batch, type ExampleSource, type TrainableModel,
  type EventBatchMessage, type EventConsumer, type EventLog, type EventLogMessage, type FlywheelConfig,
  type FlywheelEvent, type HoldoutUnit, type Replica, type Transport, type WeightDelta,
} from '../../shared/index.ts';
import { DelayedScores } from '../../shared/models/delayed-scores.ts';
import { AckTracker, holds, type Requirement } from './ack-tracker.ts';

import { GradientSplitter } from './gradient-split.ts';
import { GradientPusher } from './pusher.ts';
import { ShardPushes, addRequirement, newOutcome, type StepOutcome } from './shard-pushes.ts';
import type { TrainingReport } from './training-report.ts';
import type { WorkerMetrics } from './metrics.ts';

export interface TrainerDeps {
  cfg: FlywheelConfig;
  workerId: string;
  eventShards: number[];
  transport: Transport;
  eventLog: EventLog;
  replica: Replica;
  /** The kind's model, example source and baselines (shared/models/<kind>). */
  model: TrainableModel;
  examples: ExampleSource;
  /** A fresh example source of the kind: a stateByShard kind gets one per event shard. */
  newExamples?: () => ExampleSource;
  baselines?: Baseline[];
  /** What the gate holds out (the kind's): events never trained on. Default 'event'. */
  holdout?: HoldoutUnit;
  metrics: WorkerMetrics;
  report: TrainingReport;
  log: (level: 'info' | 'warn' | 'error', msg: string, extra?: object) => void;
}

interface Inbound { msg: EventLogMessage; batch: EventBatchMessage; shard: number }

/**
 * Messages trained together: their examples in one block, trained in steps of batchSize. A
 * message is acked once every step holding some of its examples is persisted on every PS
 * shard (`left` counts the others; -1 once acked or nak'ed).
 */
interface TrainClass {
  msgs: EventLogMessage[];
  /** Per message, its events (counted when it is acked). */
  events: number[];
  left: number[];
  /** Per message, the steps holding its examples. */
  stepsOf: Step[][];
  /** Messages not acked or nak'ed yet. */
  open: number;
  newest: number;
  mean: number;
}

/**
 * One step of a class: its examples, the messages they came from (indexes into the class) and
 * where each one's are in the batch; once persisted everywhere, what each shard had to persist.
 */
interface Step { c: TrainClass; batch: Batch; covers: number[]; spans: [number, number][]; met?: Map<number, Requirement[]> }

export class Trainer {
  readonly acks: AckTracker;
  /** The re-trained ranges' pushes (a store loss's rewind), waiting for their shard to persist them. */
  readonly rewindAcks = new AckTracker();
  private inbox: Inbound[] = [];
  private inboxEvents = 0;
  private readonly wake = new Signal();
  private readonly inFlight: Semaphore;
  private readonly splitter: GradientSplitter;
  private consumers = new Map<number, EventConsumer>();
  private stopping = false;
  private loop?: Promise<void>;
  private seq = 0;
  private pushesInFlight = new Set<Promise<unknown>>();
  private readonly replay?: BatchReservoir;
  private keepAlive?: NodeJS.Timeout;
  /** Scores of forecasts (delayed targets) until their targets arrive. */
  private readonly delayed: DelayedScores;
  /** The same for each baseline: it too counts with the score it gave when the example was first seen. */
  private readonly baselineDelayed: DelayedScores[];
  private readonly pushes: ShardPushes;
  private lastStep: Promise<unknown> = Promise.resolve();
  /**
   * For a source whose state follows an event shard (stateByShard): one source per shard read,
   * with the last stream sequence pushed into it (a redelivered message at or below it is
   * already in its state).
   */
  private readonly bySource?: Map<number, { source: ExampleSource; floor: number }>;
  /**
   * Per stream sequence, the examples a message made in its shard's source but that are not
   * trained for sure yet (the message is not acked): a redelivered message is already in the
   * source's state, so these are trained again instead of what it would make a second time.
   * A rebuild fills it from the messages above the ack floor; an ack removes the entry.
   */
  private readonly heldExamples = new Map<number, { shard: number; batch: Batch }>();
  /** The groups of messages out of the inbox and not all acked yet: their deadline is kept alive while they wait. */
  private readonly classes = new Set<TrainClass>();
  /** Steps waiting to be trained again for the PS shards that lost or refused them (a timer each). */
  private readonly retries = new Map<NodeJS.Timeout, Step>();
  /** Steps trained and not yet answered by every shard they were pushed to. */
  private stepsInFlight = 0;
  /** A step's stand-in in the ack tracker: what it does once persisted on every shard (count, then ack, the messages it completes). */
  private readonly stepTokens = new WeakMap<EventLogMessage, () => number>();
  /** Examples trained again for the PS shards that lost or refused their part of a step only (the others held it). */
  examplesForMissingShards = 0;
  /** Messages this worker nak'ed (redelivered, then trained into every shard). */
  naked = 0;

  constructor(private readonly d: TrainerDeps) {
    const c = d.cfg;
    this.delayed = new DelayedScores(d.model.predictionWidth);
    this.baselineDelayed = (d.baselines ?? []).map(() => new DelayedScores(d.model.predictionWidth));
    if (d.examples.stateByShard && d.newExamples) this.bySource = new Map();
    this.inFlight = new Semaphore(c.worker.maxInFlightPushes);
    this.pushes = new ShardPushes(new GradientPusher(d.transport, c.model, c.worker.pushTimeoutMs, () => this.stopping), d.replica, d.metrics,
      c.worker.pushTimeoutMs, () => this.stopping);
    this.splitter = new GradientSplitter(c.psShards);
    if (c.worker.replayFraction > 0) this.replay = new BatchReservoir(c.worker.replayCapacity, d.examples.shape, c.seed + 11);
    this.acks = new AckTracker((events, ok, msgs) => {
      // A step persisted everywhere: the messages it completes are counted here, before the
      // report that precedes their acks.
      if (ok) for (const m of msgs) events += this.stepTokens.get(m)?.() ?? 0;
      if (ok && this.bySource) for (const m of msgs) this.heldExamples.delete(m.seq);
      if (ok) d.metrics.eventsTrained.inc(events);
      else d.metrics.eventsRetried.inc(events);
      d.report.settled(events, ok);
    }, () => d.report.publishCounters(d.transport, c.model));
  }

  /** The replica applied a delta: ack requirements may be met, and a step waiting to read its own writes may go. */
  onDelta(d: WeightDelta): void {
    this.acks.onDelta(d);
    this.rewindAcks.onDelta(d);
    this.pushes.replicaMoved(d.shard);
  }

  /** Starts the training loop and consumes the event shards given at construction (if any). */
  async start(): Promise<void> {
    for (const s of this.d.eventShards) await this.addShard(s);
    // Messages held (waiting in the inbox or for their update to be persisted) keep their ack
    // deadline alive, a third of it at a time: redelivery is for a dead worker, not a slow PS.
    const every = Math.max(250, Math.floor(this.d.cfg.worker.ackWaitMs / 3));
    this.keepAlive = setInterval(() => {
      this.acks.touch();
      for (const g of this.inbox) g.msg.working();
      for (const c of this.classes) c.msgs.forEach((m, i) => { if (c.left[i] > 0) m.working(); });
    }, every);
    this.keepAlive.unref();
    this.loop = this.run();
  }

  /** A forgotten user: every source of this worker drops what it holds of them. */
  forgetUser(userId: string): void {
    const sources = this.bySource ? [...this.bySource.values()].map((x) => x.source) : [this.d.examples];
    for (const src of sources) src.forgetUser?.(userId);
  }

  /** The sources' counters, summed over the shards this worker holds (those with counters). */
  sourceCounters(): Record<string, number> {
    const out: Record<string, number> = {};
    const sources = this.bySource ? [...this.bySource.values()].map((x) => x.source) : [this.d.examples];
    for (const src of sources) for (const [k, v] of Object.entries(src.counters?.() ?? {})) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** Starts consuming an event shard (its lease was taken). */
  async addShard(s: number): Promise<void> {
    if (this.consumers.has(s) || this.stopping) return;
    if (this.bySource && !this.bySource.has(s)) await this.rebuild(s);
    this.consumers.set(s, await this.d.eventLog.consume(s, (m) => this.receive(m, s), this.d.cfg.worker.maxUnackedMessages));
  }

  /**
   * A new source for shard s, fed every message of the shard the log has already delivered
   * (to this worker before a crash, or to the shard's previous owner): its state is then what
   * it was, and consumption goes on from there. Its examples were trained when first made.
   */
  private async rebuild(s: number): Promise<void> {
    const source = this.d.newExamples!();
    const t0 = performance.now();
    let messages = 0;
    let events = 0;
    let held = 0;
    const floor = await this.d.eventLog.replayDelivered(s, (data, seq, acked) => {
      try {
        const evs = this.kept(parseEventBatch(data).events);
        const b = source.push(evs);
        // An acked message's examples were trained when first made; the others' will be when
        // the message comes again.
        if (!acked) { this.heldExamples.set(seq, { shard: s, batch: this.apartRefs(b, s) }); held++; }
        messages++;
        events += evs.length;
      } catch {
        this.d.metrics.badMessages.inc();
      }
    });
    this.bySource!.set(s, { source, floor });
    if (messages) this.d.log('info', 'rebuilt the example source of an event shard from the log', { shard: s, messages, events, unacked: held, ms: Math.round(performance.now() - t0) });
  }

  /**
   * Each shard's source numbers its refs from 0: put them apart (in a copy: the source keeps
   * its own arrays) so the delayed scores of two shards never meet.
   */
  private apartRefs(b: Batch, shard: number): Batch {
    return b.refs ? { ...b, refs: b.refs.map((r) => (r < 0 ? r : r + (shard + 1) * 2 ** 32)) } : b;
  }

  /** Stops consuming an event shard; what was received from it is still trained and acked. */
  async removeShard(s: number): Promise<void> {
    const c = this.consumers.get(s);
    this.consumers.delete(s);
    await c?.stop();
    // Its state goes with it: the next owner rebuilds it from the log.
    this.bySource?.delete(s);
    for (const [seq, h] of this.heldExamples) if (h.shard === s) this.heldExamples.delete(seq);
  }

  get shards(): number[] {
    return [...this.consumers.keys()].sort((a, b) => a - b);
  }

  /** Decodes and checks one message; a malformed one is counted and dropped, never trained. */
  private receive(msg: EventLogMessage, shard: number): void {
    if (this.stopping) {
      msg.nak();
      return;
    }
    let batch: EventBatchMessage;
    try {
      batch = parseEventBatch(msg.data);
    } catch (err) {
      this.d.metrics.badMessages.inc();
      this.d.log('warn', 'dropping a malformed event message', { seq: msg.seq, err: (err as Error).message });
      msg.ack();
      return;
    }
    this.inbox.push({ msg, batch, shard });
    this.inboxEvents += batch.events.length;
    if (this.inboxEvents * this.d.examples.examplesPerEvent >= this.d.cfg.worker.batchSize) this.wake.notify();
  }

  private async run(): Promise<void> {
    const { batchSize, batchMaxWaitMs } = this.d.cfg.worker;
    while (!this.stopping) {
      if (this.inbox.length === 0) await this.wake.wait(1000);
      if (this.stopping) break;
      if (this.inbox.length === 0) continue;
      if (this.inboxEvents * this.d.examples.examplesPerEvent < batchSize) await this.wake.wait(batchMaxWaitMs);
      if (this.stopping || this.inbox.length === 0) continue;
      const group = this.inbox;
      this.inbox = [];
      this.inboxEvents = 0;
      try {
        await this.trainGroup(group);
      } catch (err) {
        this.d.log('error', 'training a batch failed: its messages will be redelivered', { err: String(err) });
        for (const g of group) g.msg.nak(1000);
      }
    }
  }

  /** Events held out for the validation gate are never trained on. */
  private kept(events: readonly FlywheelEvent[]): readonly FlywheelEvent[] {
    const heldOut = this.d.cfg.gate.holdoutPermille;
    return heldOut > 0 ? events.filter((e) => !isHeldOut(e, heldOut, this.d.holdout)) : events;
  }

  /**
   * Makes each message's examples (in arrival order: a source's state sees them as they came)
   * into one block and trains it in steps, each pushed to every PS shard.
   */
  private async trainGroup(group: Inbound[]): Promise<void> {
    const msgs: EventLogMessage[] = [];
    const events: number[] = [];
    const batches: Batch[] = [];
    let newest = 0;
    let acceptedSum = 0;
    for (const g of group) {
      const kept = this.kept(g.batch.events);
      let b: Batch;
      if (this.bySource) {
        const own = this.bySource.get(g.shard);
        // A shard given up while its messages waited here: the new owner trains them.
        if (!own) { g.msg.nak(); this.naked++; continue; }
        if (g.msg.seq > own.floor) {
          own.floor = g.msg.seq;
          b = this.apartRefs(own.source.push(kept), g.shard);
          this.heldExamples.set(g.msg.seq, { shard: g.shard, batch: b });
        } else {
          // Redelivered: in the state already; train what it made, if that is not trained yet.
          this.d.metrics.redeliveredInState.inc();
          b = this.heldExamples.get(g.msg.seq)?.batch ?? emptyBatch(this.d.examples.shape);
        }
      } else b = this.d.examples.push(kept);
      msgs.push(g.msg);
      events.push(g.batch.events.length);
      batches.push(b);
      newest = Math.max(newest, g.batch.acceptedAtMs);
      acceptedSum += g.batch.acceptedAtMs * g.batch.events.length;
    }
    const received = events.reduce((a, b) => a + b, 0);
    // The source may hold events back and emit examples of earlier ones (late labels, closed days).
    const block = concatBatches(this.d.examples.shape, batches);
    const c: TrainClass = { msgs, events, left: events.map(() => 0), stepsOf: events.map(() => []), open: 0, newest, mean: received ? acceptedSum / received : newest };
    // Which messages each step's examples came from.
    const B = this.d.cfg.worker.batchSize;
    const steps: Step[] = [];
    for (let from = 0; from < block.size; from += B) steps.push({ c, batch: sliceBatch(block, from, Math.min(from + B, block.size)), covers: [], spans: [] });
    let at = 0;
    batches.forEach((b, i) => {
      for (let j = Math.floor(at / B); b.size && j <= Math.floor((at + b.size - 1) / B); j++) {
        const s = steps[j];
        s.covers.push(i);
        s.spans.push([Math.max(at, j * B) - j * B, Math.min(at + b.size, (j + 1) * B) - j * B]);
        c.stepsOf[i].push(s);
        c.left[i]++;
      }
      at += b.size;
    });
    // A message that made no example (yet) has nothing to wait for.
    const none: EventLogMessage[] = [];
    let noneEvents = 0;
    for (let i = 0; i < msgs.length; i++) {
      if (c.left[i] > 0) { c.open++; continue; }
      c.left[i] = -1;
      none.push(msgs[i]);
      noneEvents += events[i];
    }
    if (none.length) this.acks.add(none, noneEvents, new Map(), (k) => this.persistedOf(k));
    if (c.open === 0) return;
    this.classes.add(c);
    this.gaugePending();
    const all = Array.from({ length: this.d.cfg.psShards }, (_, k) => k);
    for (const s of steps) {
      // One step at a time, each after the previous one's push was answered.
      if (this.d.cfg.worker.readOwnWrites) await this.lastStep;
      await this.inFlight.acquire();
      const p = this.trainStep(s, all, new Map(), 0);
      this.lastStep = p.catch(() => undefined);
    }
  }

  /**
   * Trains step `s` (after inFlight was acquired: released here) and pushes it to `targets`;
   * once they answered, the step waits in the ack tracker for those shards to persist it,
   * and for the shards of `held` (which had persisted it already) to still hold it.
   */
  private trainStep(s: Step, targets: readonly number[], held: Map<number, Requirement[]>, attempt: number): Promise<void> {
    const out = newOutcome();
    this.stepsInFlight++;
    // step() is async: whatever it throws arrives as a rejection, handled below.
    const p = this.step(s.batch, s.c.newest, s.c.mean, targets, attempt === 0, out)
      .finally(() => { this.inFlight.release(); this.stepsInFlight--; })
      .then(() => {
        const need = new Map<number, Requirement[]>();
        for (const src of [held, out.need]) for (const [k, rs] of src) for (const r of rs) addRequirement(need, k, r.epoch, r.version);
        if (out.refused.size) this.d.log('warn', 'a push was rejected: the step is trained again for the shards that do not hold it', { reason: [...out.refused.values()][0] });
        const met = new Map([...need].map(([k, rs]) => [k, rs.map((r) => ({ ...r }))]));
        for (const k of out.refused.keys()) met.delete(k);
        this.acks.add([this.stepToken(s, met)], 0, need, (k) => this.persistedOf(k), { refused: out.refused.keys(), retry: (h) => this.retryStep(s, h, attempt + 1) });
        this.gaugePending();
      }, (err: unknown) => {
        // A step that threw (a model error, not a refused push): train these events again later
        // rather than wait for the ack deadline.
        this.d.log('error', 'a training step failed: the batch will be redelivered', { err: String(err) });
        this.failClass(s.c);
      });
    this.track(p);
    return p;
  }

  /**
   * Step `s` once persisted on every shard it needs (`met`: what each had to persist): the
   * messages it completes are counted (when the tracker settles it) and acked (when the
   * tracker acks it, after the report). Before a message is acked, each step holding its
   * examples must still be held where it was persisted: a shard that has since restarted
   * without it (its store lost it) gets that step's examples of the messages not acked yet
   * again (acked ones are in the range the shard asks to have trained again, if any).
   */
  private stepToken(s: Step, met: Map<number, Requirement[]>): EventLogMessage {
    const c = s.c;
    const done: number[] = [];
    const token: EventLogMessage = {
      data: new Uint8Array(0), seq: 0, redelivered: false,
      ack: () => {
        for (const i of done) {
          c.msgs[i].ack();
          if (this.bySource) this.heldExamples.delete(c.msgs[i].seq);
        }
        if (c.open === 0) this.classes.delete(c);
        this.gaugePending();
      },
      nak: () => this.failClass(c),
      working: () => undefined,
    };
    this.stepTokens.set(token, () => {
      s.met = met;
      const ready = s.covers.filter((i) => c.left[i] > 0 && --c.left[i] === 0);
      const lost = new Map<Step, Set<number>>();
      for (const i of ready) {
        for (const t of c.stepsOf[i]) {
          for (const [k, rs] of t.met ?? []) {
            const p = this.persistedOf(k);
            if (p && rs.some((r) => holds(r, p) === 'lost')) lost.set(t, (lost.get(t) ?? new Set()).add(k));
          }
        }
      }
      for (const [t, shards] of lost) this.reopen(t, shards);
      let events = 0;
      for (const i of ready) {
        if (c.left[i] !== 0) continue;
        c.left[i] = -1;
        c.open--;
        done.push(i);
        events += c.events[i];
      }
      return events;
    });
    return token;
  }

  /** Step `t`, persisted, was lost since by `shards`: its examples of the messages not acked yet are trained again for them. */
  private reopen(t: Step, shards: Set<number>): void {
    const c = t.c;
    const covers: number[] = [];
    const parts: Batch[] = [];
    const spans: [number, number][] = [];
    let at = 0;
    t.covers.forEach((i, j) => {
      if (c.left[i] < 0) return;
      const [from, to] = t.spans[j];
      covers.push(i);
      parts.push(sliceBatch(t.batch, from, to));
      spans.push([at, at + to - from]);
      at += to - from;
    });
    const sub: Step = { c, batch: concatBatches(this.d.examples.shape, parts), covers, spans };
    for (const i of covers) {
      c.left[i]++;
      c.stepsOf[i] = c.stepsOf[i].map((x) => (x === t ? sub : x));
    }
    const held = new Map([...t.met!].filter(([k]) => !shards.has(k)));
    this.d.log('warn', 'a PS shard lost a step it had persisted (it restarted without it): trained again for it', { shards: [...shards], examples: sub.batch.size });
    this.retryStep(sub, held, 1);
  }

  /**
   * Trains a step again, the same examples, after a pause (longer each time), for the PS
   * shards that do not hold it: those of `held` had persisted it, and get it only if they
   * have since restarted without it. Its messages are kept alive meanwhile, and trained here
   * even if their event shard has gone to another worker: a nak'ed redelivery would be
   * trained into every shard again.
   */
  private retryStep(s: Step, held: Map<number, Requirement[]>, attempt: number): void {
    if (this.stopping) { this.failClass(s.c); return; }
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      if (this.stopping) { this.failClass(s.c); return; }
      for (const [k, rs] of held) {
        const p = this.persistedOf(k);
        if (p && rs.some((r) => holds(r, p) === 'lost')) held.delete(k);
      }
      const targets = Array.from({ length: this.d.cfg.psShards }, (_, k) => k).filter((k) => !held.has(k));
      this.examplesForMissingShards += s.batch.size;
      this.d.metrics.examplesForMissingShards.inc(s.batch.size);
      this.track(this.inFlight.acquire().then(() => this.trainStep(s, targets, held, attempt)));
    }, Math.min(5000, 500 * 2 ** (attempt - 1)));
    this.retries.set(timer, s);
  }

  /** Nak's what is left of a class (a step failed, or shutdown): its messages are redelivered and trained into every shard. */
  private failClass(c: TrainClass): void {
    let events = 0;
    c.msgs.forEach((m, i) => {
      if (c.left[i] < 0) return;
      c.left[i] = -1;
      m.nak(1000);
      this.naked++;
      events += c.events[i];
    });
    c.open = 0;
    this.classes.delete(c);
    if (events) this.d.metrics.eventsRetried.inc(events);
    this.gaugePending();
  }

  /** Messages trained and not yet acked. */
  get pendingMessages(): number {
    let n = 0;
    for (const c of this.classes) n += c.open;
    return n;
  }

  /** Steps not yet answered by their shards, or waiting to be trained again. */
  get stepsUnanswered(): number {
    return this.stepsInFlight + this.retries.size;
  }

  private gaugePending(): void {
    this.d.metrics.pendingAckMessages.set(this.pendingMessages);
  }

  /**
   * One prequential step: score with the current weights (unless `fresh` is false: a retrain
   * for some shards only, scored when first trained), then push the gradients to `targets`.
   */
  private async step(b: Batch, newest: number, mean: number, targets: readonly number[], fresh: boolean, into: StepOutcome): Promise<void> {
    const t0 = performance.now();
    // With a replay reservoir, past examples ride along in the step; only the fresh ones count
    // for the prequential figures (they are the ones not trained on before).
    const k = this.replay && fresh ? Math.round(this.d.cfg.worker.replayFraction * b.size) : 0;
    const input = this.replay && fresh ? this.replay.mix(b, k) : b;
    await this.pushes.caughtUp(this.d.cfg.worker.readOwnWrites ? 0 : this.d.cfg.worker.maxReplicaLag);
    const r = this.d.model.trainStep(input, this.pushes.weights);
    this.d.metrics.stepSeconds.observe((performance.now() - t0) / 1000);
    if (fresh) {
      this.replay?.add(b);
      // An example with delayed targets counts with the score it got when first emitted.
      const paired = this.delayed.pair(b, r.predictions);
      this.d.report.addPredictions(paired.predictions, b, b.size, r.loss, this.d.baselines, paired.counts,
        b.refs ? (k, p) => this.baselineDelayed[k].pair(b, p).predictions : undefined);
    }
    this.d.metrics.examples.inc(b.size);
    const parts = this.splitter.split(r.dense, r.sparse);
    // The newest event time of the batch: counter tables decay by it (event time, not arrival).
    let eventTimeMs = 0;
    for (let i = 0; i < b.size; i++) if (b.eventTs[i] > eventTimeMs) eventTimeMs = b.eventTs[i];
    const seq = ++this.seq;
    await Promise.all(targets.map((k) => this.pushes.push(k, parts[k], { worker: this.d.workerId, seq, examples: b.size, newest, mean, eventTimeMs }, into)));
  }

  /**
   * A store loss's rewind: trains `events` again (examples made by `source`, a source of the
   * rewind's own) and pushes the gradients to PS shard `k` alone: the other shards still hold
   * these events' updates. Not scored (the examples were scored when first seen). `settled`
   * hears whether shard k persisted all of it (false: lost again, or refused). Resolves with
   * the examples trained once the pushes are answered.
   */
  async retrain(k: number, events: readonly FlywheelEvent[], source: ExampleSource, meanAcceptedAtMs: number, settled: (ok: boolean) => void): Promise<number> {
    const block = source.push(this.kept(events));
    const out = newOutcome();
    const B = this.d.cfg.worker.batchSize;
    for (let from = 0; from < block.size && !this.stopping; from += B) {
      const b = sliceBatch(block, from, Math.min(from + B, block.size));
      await this.inFlight.acquire();
      try {
        await this.pushes.caughtUp(this.d.cfg.worker.maxReplicaLag);
        const r = this.d.model.trainStep(b, this.pushes.weights);
        let eventTimeMs = 0;
        for (let i = 0; i < b.size; i++) if (b.eventTs[i] > eventTimeMs) eventTimeMs = b.eventTs[i];
        const part = this.splitter.split(r.dense, r.sparse)[k];
        await this.pushes.push(k, part, { worker: this.d.workerId, seq: ++this.seq, examples: b.size, newest: 0, mean: meanAcceptedAtMs, eventTimeMs }, out);
      } finally {
        this.inFlight.release();
      }
    }
    if (out.refused.size || this.stopping) {
      if (out.refused.size) this.d.log('warn', 'a re-trained push was refused: the rewind goes back to where it was persisted', { reason: out.refused.get(k) });
      settled(false);
      return block.size;
    }
    const token: EventLogMessage = { data: new Uint8Array(0), seq: 0, redelivered: false, ack: () => settled(true), nak: () => settled(false), working: () => undefined };
    this.rewindAcks.add([token], events.length, out.need, (s) => this.persistedOf(s));
    return block.size;
  }

  /** Shard k as this worker's replica has it: what an AckTracker checks a requirement against. */
  private persistedOf(k: number) {
    const v = this.d.replica.shards[k];
    return v && { epoch: v.epoch, version: v.persistedVersion, epochStartVersion: v.epochStartVersion, restoredEpoch: v.restoredEpoch };
  }

  private track(p: Promise<unknown>): void {
    this.pushesInFlight.add(p);
    void p.catch(() => undefined).finally(() => this.pushesInFlight.delete(p));
  }

  /** Stops consuming, finishes the pushes in flight, then waits (bounded) for their acks. */
  async stop(settleTimeoutMs = 3000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.keepAlive);
    this.wake.notify();
    await Promise.all([...this.consumers.values()].map((c) => c.stop()));
    this.consumers.clear();
    await this.loop;
    while (this.pushesInFlight.size) await Promise.allSettled([...this.pushesInFlight]);
    const deadline = Date.now() + settleTimeoutMs;
    while (this.acks.pendingGroups > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.acks.nakAll();
    this.rewindAcks.nakAll();
    // Those waiting to be trained again for a shard go back to the log (their next holder trains them for every shard).
    for (const timer of this.retries.keys()) clearTimeout(timer);
    this.retries.clear();
    for (const c of [...this.classes]) this.failClass(c);
    for (const g of this.inbox) g.msg.nak();
    this.inbox = [];
  }
}

export function parseEventBatch(bytes: Uint8Array): EventBatchMessage {
  const o = decode(bytes) as Partial<EventBatchMessage> | null;
  if (!o || typeof o !== 'object' || typeof o.acceptedAtMs !== 'number' || !Array.isArray(o.events)) {
    throw new BadMessageError('event message must be { acceptedAtMs, events[] }');
  }
  // A NaN or infinite accept time would switch off the future-timestamp check below.
  if (!Number.isFinite(o.acceptedAtMs) || o.acceptedAtMs < 0) throw new BadMessageError('event message acceptedAtMs must be a finite time');
  const now = o.acceptedAtMs + 60_000;
  return { acceptedAtMs: o.acceptedAtMs, events: o.events.map((e) => validateEvent(e, now)) };
}

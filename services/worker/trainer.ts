// The worker's training loop: take JetStream messages of events, batch them by size and max
// wait, score each batch with the current replica before training on it (prequential), push
// the gradients to the PS shards with a bound on pushes in flight, and hand the messages to
// the AckTracker, which acks them once the PS has persisted their update.
import {
  BadMessageError, BatchReservoir, Semaphore, Signal, concatBatches, decode, emptyBatch, isHeldOut, sliceBatch, validateEvent,
  type Baseline, type Batch, type ExampleSource, type TrainableModel,
  type EventBatchMessage, type EventConsumer, type EventLog, type EventLogMessage, type FlywheelConfig,
  type FlywheelEvent, type GradientPush, type HoldoutUnit, type Replica, type Transport, type WeightDelta,
} from '../../shared/index.ts';
import { DelayedScores } from '../../shared/models/delayed-scores.ts';
import { AckTracker, holds, type Requirement } from './ack-tracker.ts';

import { GradientSplitter } from './gradient-split.ts';
import { GradientPusher } from './pusher.ts';
import { ReplicaLag } from './replica-lag.ts';
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
 * Messages trained together, with the examples each made, and the PS shards that already hold
 * their update persisted (none the first time; after a shard lost or refused its part, the
 * others): they are trained for the shards not in `held` only.
 */
interface TrainClass {
  inbound: Inbound[];
  msgs: EventLogMessage[];
  batches: Batch[];
  held: Map<number, Requirement[]>;
  /** 0 the first time (scored then); the retries' count after. */
  attempt: number;
  newest: number;
  mean: number;
}

/** One step's pushes: per PS shard, the (epoch, version) its part was applied at, or why it was refused. */
interface StepOutcome { need: Map<number, Requirement[]>; refused: Map<number, string> }

const newOutcome = (): StepOutcome => ({ need: new Map(), refused: new Map() });

/** One requirement per shard and epoch: the group's earlier updates must survive a restart too. */
function addRequirement(need: Map<number, Requirement[]>, k: number, epoch: number, version: number): void {
  const rs = need.get(k) ?? [];
  const same = rs.find((r) => r.epoch === epoch);
  if (same) same.version = Math.max(same.version, version);
  else rs.push({ epoch, version });
  need.set(k, rs);
}

export class Trainer {
  readonly acks: AckTracker;
  /** The re-trained ranges' pushes (a store loss's rewind), waiting for their shard to persist them. */
  readonly rewindAcks = new AckTracker();
  private inbox: Inbound[] = [];
  private inboxEvents = 0;
  private readonly wake = new Signal();
  private readonly inFlight: Semaphore;
  private readonly pusher: GradientPusher;
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
  private readonly lag: ReplicaLag;
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
  /**
   * The messages of the groups being trained, or waiting to be trained again for a shard that
   * lost or refused their part (out of the inbox, not in the ack tracker): their deadline is
   * kept alive too.
   */
  private readonly training = new Set<EventLogMessage[]>();
  /** Groups waiting to be trained again for the shards that lack them (a timer each). */
  private readonly retries = new Map<NodeJS.Timeout, TrainClass>();
  /** Events trained again for the PS shards that lost or refused their part only (the others held it). */
  eventsForMissingShards = 0;

  constructor(private readonly d: TrainerDeps) {
    const c = d.cfg;
    this.delayed = new DelayedScores(d.model.predictionWidth);
    this.baselineDelayed = (d.baselines ?? []).map(() => new DelayedScores(d.model.predictionWidth));
    this.lag = new ReplicaLag(c.psShards, d.replica.shards);
    if (d.examples.stateByShard && d.newExamples) this.bySource = new Map();
    this.inFlight = new Semaphore(c.worker.maxInFlightPushes);
    this.pusher = new GradientPusher(d.transport, c.model, c.worker.pushTimeoutMs, () => this.stopping);
    this.splitter = new GradientSplitter(c.psShards);
    if (c.worker.replayFraction > 0) this.replay = new BatchReservoir(c.worker.replayCapacity, d.examples.shape, c.seed + 11);
    this.acks = new AckTracker((events, ok, msgs) => {
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
    this.lag.replicaMoved();
  }

  /** Waits while the replica is more than `lag` versions behind this worker's pushes (readOwnWrites: 0), counted. */
  private async replicaCaughtUp(lag: number): Promise<void> {
    const r = await this.lag.caughtUp(lag, this.d.cfg.worker.pushTimeoutMs, () => this.stopping);
    if (r.waited) this.d.metrics.replicaLagWaits.inc();
    if (r.timedOut) this.d.metrics.ownWriteWaitTimeouts.inc();
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
      for (const msgs of this.training) for (const m of msgs) m.working();
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

  /** Makes each message's examples (in arrival order: a source's state sees them as they came), then trains them. */
  private async trainGroup(group: Inbound[]): Promise<void> {
    const c: TrainClass = { inbound: [], msgs: [], batches: [], held: new Map(), attempt: 0, newest: 0, mean: 0 };
    let acceptedSum = 0;
    let received = 0;
    for (const g of group) {
      const kept = this.kept(g.batch.events);
      let b: Batch;
      if (this.bySource) {
        const own = this.bySource.get(g.shard);
        // A shard given up while its messages waited here: the new owner trains them.
        if (!own) { g.msg.nak(); continue; }
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
      c.inbound.push(g);
      c.msgs.push(g.msg);
      c.batches.push(b);
      c.newest = Math.max(c.newest, g.batch.acceptedAtMs);
      acceptedSum += g.batch.acceptedAtMs * g.batch.events.length;
      received += g.batch.events.length;
    }
    c.mean = received ? acceptedSum / received : c.newest;
    await this.trainClass(c);
  }

  /**
   * Trains messages in steps, each pushed to the PS shards that do not hold them yet (every
   * shard the first time). A shard in `held` that has since restarted without them (its store
   * lost them) is trained again too.
   */
  private async trainClass(c: TrainClass): Promise<void> {
    for (const [k, rs] of c.held) {
      const p = this.persistedOf(k);
      if (p && rs.some((r) => holds(r, p) === 'lost')) c.held.delete(k);
    }
    const targets = Array.from({ length: this.d.cfg.psShards }, (_, k) => k).filter((k) => !c.held.has(k));
    const received = c.inbound.reduce((n, g) => n + g.batch.events.length, 0);
    // The source may hold events back and emit examples of earlier ones (late labels, closed days).
    const block = concatBatches(this.d.examples.shape, c.batches);
    // Trained again for some shards: these examples were scored when first trained.
    const fresh = c.attempt === 0;
    if (!fresh) {
      this.eventsForMissingShards += received;
      this.d.metrics.eventsForMissingShards.inc(received);
    }
    this.training.add(c.msgs);
    const outcomes: StepOutcome[] = [];
    const pushes: Promise<void>[] = [];
    const B = this.d.cfg.worker.batchSize;
    for (let from = 0; targets.length && from < block.size; from += B) {
      // One step at a time, each after the previous one's push was answered.
      if (this.d.cfg.worker.readOwnWrites) await this.lastStep;
      await this.inFlight.acquire();
      const out = newOutcome();
      outcomes.push(out);
      // step() is async: whatever it throws arrives as a rejection, handled where the group settles.
      const p = this.step(sliceBatch(block, from, Math.min(from + B, block.size)), c.newest, c.mean, targets, fresh, out)
        .finally(() => this.inFlight.release());
      this.lastStep = p.catch(() => undefined);
      pushes.push(p);
      this.track(p);
    }
    const settle = Promise.all(pushes).then(() => {
      this.training.delete(c.msgs);
      this.settleClass(c, outcomes);
    }, (err: unknown) => {
      this.training.delete(c.msgs);
      // A step that threw (a model error, not a refused push): train these events again later
      // rather than wait for the ack deadline.
      this.d.log('error', 'a training step failed: the batch will be redelivered', { err: String(err) });
      for (const m of c.msgs) m.nak(1000);
      this.d.metrics.eventsRetried.inc(received);
    });
    this.track(settle);
  }

  /**
   * Hands trained messages to the ack tracker, a few at a time (consecutive messages whose
   * examples went into the same steps): each needs what those steps were applied at, and
   * what the shards that held them already had persisted. Messages a shard lost or refused
   * come back once their other shards have settled, and are trained again for the shards
   * that do not hold all of their steps: they are not nak'ed, so no shard that holds them
   * gets them a second time, even if their event shard has gone to another worker meanwhile.
   */
  private settleClass(c: TrainClass, outcomes: readonly StepOutcome[]): void {
    const B = this.d.cfg.worker.batchSize;
    const runs: { at: number[]; events: number; first: number; last: number }[] = [];
    let at = 0;
    c.inbound.forEach((g, i) => {
      const n = c.batches[i].size;
      const first = n ? Math.floor(at / B) : -1;
      const last = n ? Math.floor((at + n - 1) / B) : -1;
      at += n;
      const run = runs[runs.length - 1];
      if (run && run.first === first && run.last === last) { run.at.push(i); run.events += g.batch.events.length; }
      else runs.push({ at: [i], events: g.batch.events.length, first, last });
    });
    let refusal: string | undefined;
    for (const r of runs) {
      const need = new Map<number, Requirement[]>();
      for (const [k, rs] of c.held) for (const q of rs) addRequirement(need, k, q.epoch, q.version);
      const refused = new Set<number>();
      for (let j = Math.max(0, r.first); j <= r.last && j < outcomes.length; j++) {
        for (const [k, rs] of outcomes[j].need) for (const q of rs) addRequirement(need, k, q.epoch, q.version);
        for (const [k, why] of outcomes[j].refused) { refused.add(k); refusal ??= why; }
      }
      const part: TrainClass = {
        inbound: r.at.map((i) => c.inbound[i]), msgs: r.at.map((i) => c.msgs[i]), batches: r.at.map((i) => c.batches[i]),
        held: new Map(), attempt: c.attempt + 1, newest: c.newest, mean: c.mean,
      };
      this.acks.add(part.msgs, r.events, need, (k) => this.persistedOf(k), { refused, retry: (held) => this.retryLater(part, held) });
    }
    if (refusal) this.d.log('warn', 'a push was rejected: the batch is trained again for the shards that do not hold it', { reason: refusal });
    this.d.metrics.pendingAckMessages.set(this.acks.pendingMessages);
  }

  /** Trains `c` again after a pause (longer each time), for the shards not in `held`; its messages are kept alive meanwhile. */
  private retryLater(c: TrainClass, held: Map<number, Requirement[]>): void {
    if (this.stopping) {
      for (const m of c.msgs) m.nak();
      return;
    }
    c.held = held;
    this.training.add(c.msgs);
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      if (this.stopping) { this.training.delete(c.msgs); for (const m of c.msgs) m.nak(); return; }
      this.track(this.trainClass(c));
    }, Math.min(5000, 500 * 2 ** (c.attempt - 1)));
    this.retries.set(timer, c);
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
    await this.replicaCaughtUp(this.d.cfg.worker.readOwnWrites ? 0 : this.d.cfg.worker.maxReplicaLag);
    const r = this.d.model.trainStep(input, this.d.replica);
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
    await Promise.all(targets.map((k) => this.pushTo(k, parts[k], seq, b.size, newest, mean, eventTimeMs, into)));
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
        await this.replicaCaughtUp(this.d.cfg.worker.maxReplicaLag);
        const r = this.d.model.trainStep(b, this.d.replica);
        let eventTimeMs = 0;
        for (let i = 0; i < b.size; i++) if (b.eventTs[i] > eventTimeMs) eventTimeMs = b.eventTs[i];
        const part = this.splitter.split(r.dense, r.sparse)[k];
        await this.pushTo(k, part, ++this.seq, b.size, 0, meanAcceptedAtMs, eventTimeMs, out);
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

  /** One part of a step's gradients to PS shard k, retried as below; its (epoch, version), or why it was refused, goes into `into`. */
  private async pushTo(k: number, part: { dense: GradientPush['dense']; sparse: GradientPush['sparse'] }, seq: number, examples: number, newest: number, mean: number,
    eventTimeMs: number, into: StepOutcome): Promise<void> {
    if (part.dense.length === 0 && part.sparse.length === 0) return;
    const push = (baseVersion: number) => this.pusher.push(k, {
      worker: this.d.workerId, seq, baseVersion,
      dense: part.dense, sparse: part.sparse, examples, newestAcceptedAtMs: newest, meanAcceptedAtMs: mean,
      ...(eventTimeMs > 0 ? { eventTimeMs: Math.floor(eventTimeMs) } : {}),
    });
    let out = await push(this.d.replica.shards[k].version);
    // A shard behind this replica restarted without what it had published (its store lost
    // it): resync the replica and send the same push again, same seq, so only this shard gets
    // it — a nak would train the batch again and apply it twice to every other shard.
    for (let attempt = 0; !out.ok && out.error.code === 'FUTURE_VERSION' && attempt < 3 && !this.stopping; attempt++) {
      this.d.metrics.pushErrors.inc({ code: out.error.code });
      await this.d.replica.resync(k).catch(() => undefined);
      // A resync already under way returns at once: give it time to land (a backoff, not a wait on it).
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      out = await push(this.d.replica.shards[k].version);
    }
    if (!out.ok) {
      this.d.metrics.pushErrors.inc({ code: out.error.code });
      into.refused.set(k, `${out.error.code}: ${out.error.message}`);
      return;
    }
    this.d.metrics.pushRtt.observe(out.rttMs / 1000);
    this.lag.pushed(k, out.epoch, out.version);
    addRequirement(into.need, k, out.epoch, out.version);
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
    for (const [timer, c] of this.retries) { clearTimeout(timer); for (const m of c.msgs) m.nak(); }
    this.retries.clear();
    this.training.clear();
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

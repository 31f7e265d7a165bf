// The validator actor: taps the event stream for held-out events (at-most-once: a core NATS
// subscription sees every JetStream publish), keeps a live replica of the model, and every
// intervalMs judges new held-out data and the candidate version. A candidate that passes is
// saved as a checkpoint and the serving pointer moves to it; one that fails leaves inference
// on the last good version and decays the PS learning rate. Every decision is logged, counted
// and published on fw.<model>.serving.
import {
  Actor, BatchAccumulator, shardKeyOf, FrozenWeights, decode, decodeCheckpoint, encode, encodeCheckpoint, isHeldOut, positionsOf, subjects,
  type Batch, type EventPositions, type ExampleSource, type FlywheelConfig, type FlywheelEvent, type Infra, type Replica, type ServingPointer,
  type HoldoutUnit, type Subscription, type TrainableModel,
} from '../../shared/index.ts';
import type { ResolvedModel } from '../../shared/models/registry.ts';
import { GateRules, type Decision, type Scorer } from './gate.ts';

/**
 * What the gate decided, one name per counted event: a candidate accepted or rejected, the PS
 * weights rolled back (after rejections in a row), new held-out data quarantined or, past the
 * quarantine limit, admitted as drift.
 */
export const GATE_DECISIONS = ['accept', 'reject', 'rollback', 'quarantine', 'admit_drift'] as const;
export type GateDecisionName = (typeof GATE_DECISIONS)[number];

export interface ValidatorStats { rounds: number; accepted: number; rejected: number; quarantined: number; rollbacks: number; servingCheckpoint: number | null }

type Msg = { kind: 'events'; events: FlywheelEvent[] } | { kind: 'round' };

export class Validator {
  readonly rules: GateRules;
  readonly stats: ValidatorStats = { rounds: 0, accepted: 0, rejected: 0, quarantined: 0, rollbacks: 0, servingCheckpoint: null };
  readonly decisions: (Decision & { at: number; candidateVersions: number[]; servingVersions: number[] | null })[] = [];
  private serving?: FrozenWeights;
  private readonly examples: ExampleSource;
  private readonly model: TrainableModel;
  private readonly holdout: HoldoutUnit;
  private readonly pending: BatchAccumulator;
  private readonly actor: Actor<Msg>;
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  private positions?: EventPositions;

  constructor(
    private readonly cfg: FlywheelConfig, private readonly infra: Infra, private readonly replica: Replica,
    resolved: ResolvedModel, private readonly log: (level: 'info' | 'warn', msg: string, extra?: object) => void,
    private readonly onDecision: (d: GateDecisionName) => void = () => undefined,
  ) {
    this.model = resolved.kind.create(replica.spec, resolved.settings);
    this.holdout = resolved.kind.holdout ?? 'event';
    this.examples = resolved.kind.exampleSource(resolved.settings, cfg.seed + 13);
    this.rules = new GateRules(cfg.gate, this.examples.shape, resolved.kind.metric);
    this.pending = new BatchAccumulator(this.examples.shape);
    this.actor = new Actor<Msg>(() => ({ handle: (m) => (m.kind === 'events' ? this.onEvents(m.events) : this.round()) }), {
      name: 'validator', mailboxCapacity: 10_000,
      onRestart: (err) => this.log('warn', 'validator round failed; continuing', { err: String(err) }),
    });
  }

  async start(): Promise<void> {
    const pointer = await this.infra.serving.getPointer(this.cfg.model);
    if (pointer) await this.loadServing(pointer);
    await this.actor.start();
    this.sub = this.infra.transport.subscribe(subjects.events(this.cfg.stream, '*', shardKeyOf(this.cfg)), (m) => {
      try {
        const batch = decode(m.data) as { events?: FlywheelEvent[] };
        const held = (batch.events ?? []).filter((e) => isHeldOut(e, this.cfg.gate.holdoutPermille, this.holdout));
        if (held.length) this.actor.tell({ kind: 'events', events: held });
      } catch {
        // Ingest validated these; a tap that cannot keep up simply misses some held-out events.
      }
    });
    this.timer = setInterval(() => { try { this.actor.tell({ kind: 'round' }); } catch { /* busy: next tick */ } }, this.cfg.gate.intervalMs);
  }

  private async loadServing(p: ServingPointer): Promise<void> {
    const bytes = await this.infra.serving.loadCheckpoint(this.cfg.model, p.checkpointId);
    if (!bytes) return;
    this.serving = new FrozenWeights(this.replica.spec, decodeCheckpoint(bytes));
    this.stats.servingCheckpoint = p.checkpointId;
  }

  /** Each event shard's ack floor, or undefined when the log cannot say (the checkpoint then records none). */
  private async eventFloors(): Promise<number[] | undefined> {
    const positions = this.positions ??= positionsOf(this.infra, this.cfg);
    if (!positions) return undefined;
    try {
      return await Promise.all(Array.from({ length: this.cfg.eventShards }, (_, s) => positions.ackFloor(s)));
    } catch (err) {
      this.log('warn', 'cannot read the event consumers\' ack floors: this checkpoint records no stream positions', { err: (err as Error).message });
      return undefined;
    }
  }

  private scorer(w: FrozenWeights | Replica): Scorer {
    return (b: Batch) => this.model.predict(b, w);
  }

  private onEvents(events: FlywheelEvent[]): void {
    this.pending.add(this.examples.push(events));
  }

  /** One gate round: judge the new data, then the candidate. */
  async round(): Promise<void> {
    this.stats.rounds++;
    if (this.pending.size >= this.cfg.gate.chunkExamples) {
      const verdict = this.rules.judgeChunk(this.pending.take(), this.serving && this.scorer(this.serving));
      if (verdict === 'quarantined') {
        this.stats.quarantined++;
        this.onDecision('quarantine');
        this.log('warn', 'new held-out data scores far worse than the holdout under the serving model: quarantined (label poisoning or a broken feed?)', { inARow: this.rules.quarantinedInARow });
      } else if (verdict === 'admitted-as-drift') {
        this.onDecision('admit_drift');
        this.log('warn', 'quarantine limit reached: accepting the new data as real drift');
      }
    }
    if (this.serving && this.replica.versions().every((v, k) => v === this.serving!.versions[k])) return;
    // Where each event shard is acked up to, read before the weights are taken: the events at
    // or below are in them (a shard restored from the checkpoint after a store loss has the
    // events since trained again).
    const eventFloors = await this.eventFloors();
    const candidateVersions = this.replica.versions();
    const candidate = FrozenWeights.fromReplica(this.replica);
    const d = this.rules.decide(this.scorer(candidate), this.serving && this.scorer(this.serving));
    if (!d) return;
    const record = { ...d, at: Date.now(), candidateVersions, servingVersions: this.serving?.versions ?? null };
    this.decisions.push(record);
    if (this.decisions.length > 1000) this.decisions.shift();
    if (d.accepted) {
      const id = await this.infra.serving.saveCheckpoint(this.cfg.model, encodeCheckpoint({ ...candidate.toBlob(), ...(eventFloors ? { eventFloors } : {}) }));
      const pointer: ServingPointer = { checkpointId: id, versions: candidateVersions, atMs: Date.now(), by: 'gate' };
      await this.infra.serving.setPointer(this.cfg.model, pointer, true);
      this.serving = candidate;
      this.stats.accepted++;
      this.onDecision('accept');
      this.stats.servingCheckpoint = id;
      this.infra.transport.publish(subjects.serving(this.cfg.model), encode({ kind: 'pointer', pointer }));
      this.log('info', 'candidate accepted: serving it', { checkpoint: id, versions: candidateVersions, metric: d.metric, candidate: d.candidate, serving: d.serving });
    } else {
      this.stats.rejected++;
      this.onDecision('reject');
      this.log('warn', 'candidate rejected: inference stays on the last good version; learning rate decayed', { ...d, lrFactor: this.rules.lrFactor });
      if (this.rules.takeRollback() && this.stats.servingCheckpoint !== null) {
        this.stats.rollbacks++;
        this.onDecision('rollback');
        this.log('warn', 'rejections in a row: rolling the PS weights back to the serving checkpoint', { checkpoint: this.stats.servingCheckpoint });
        this.infra.transport.publish(subjects.psControl(this.cfg.model), encode({ restoreCheckpoint: this.stats.servingCheckpoint }));
      }
    }
    this.infra.transport.publish(subjects.psControl(this.cfg.model), encode({ lrFactor: this.rules.lrFactor }));
    this.infra.transport.publish(subjects.serving(this.cfg.model), encode({ kind: 'decision', ...record, lrFactor: this.rules.lrFactor, stats: this.stats }));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.sub?.unsubscribe();
    await this.actor.stop();
  }
}

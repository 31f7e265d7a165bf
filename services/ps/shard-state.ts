// The state of one parameter-server shard and the two things it does: apply a gradient push
// (validate, de-duplicate, check staleness, then the shared Updater: clip and each parameter's
// update rule; bump the version) and
// publish (write what changed since the last publish to the store with the new version in
// one transaction, then broadcast the same delta). It runs as an actor: one message at a time.
import {
  DELTA_WIRE_NO_TOMBSTONES, DELTA_WIRE_VERSION, FutureVersionError, StaleGradientError, Updater, encodeDelta, errorToWire, encodeReply, parsePush, subjects,
  type Behavior, type DenseParam, type DenseState, type GradientPush, type ParamSpec, type PsConfig, type PushReply,
  type RowsState, type ShardStore, type ShardLedger, decodeCheckpoint, type TableParam, type Transport, type CheckpointBlob, type ServingStore,
  initRow, ownerOfRow, tableHash, parseForget, encode,
} from '../../shared/index.ts';
import { PushDedupe } from './dedupe.ts';
import { ownedParams, validatePush, type OwnedParams } from './validate-push.ts';
import { PushPlacement } from './push-placement.ts';
import type { PsMetrics } from './metrics.ts';

export type PsMessage =
  | { kind: 'push'; data: Uint8Array; respond?: (d: Uint8Array) => void; receivedAtMs: number }
  | { kind: 'publish' }
  /** From the validation gate: scale the learning rate (the adjustment step). */
  | { kind: 'control'; lrFactor: number }
  /** From the validation gate: put this shard's weights back to a validated checkpoint. */
  | { kind: 'restore'; checkpointId: number; blob: CheckpointBlob }
  /** From ingest's DELETE /v1/users/{id}: remove a forgotten user's rows (replies { removed, version }). */
  | { kind: 'forget'; data: Uint8Array; respond?: (d: Uint8Array) => void };

export interface ShardDeps {
  model: string;
  spec: ParamSpec;
  cfg: PsConfig;
  shard: number;
  shards: number;
  transport: Transport;
  store: ShardStore;
  metrics: PsMetrics;
  /** Where validated checkpoints are (for the gate's rollback of the weights); optional. */
  serving?: ServingStore;
  /** What this shard last published, outside the store (detects a store that lost it); optional. */
  ledger?: ShardLedger;
  /** How often an idle shard checks that the store still holds its snapshot. Default 1000 ms. */
  storeCheckMs?: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, extra?: object) => void;
}

export class ShardState implements Behavior<PsMessage> {
  version = 0;
  epoch = 0;
  epochStartVersion = 0;
  /** The epoch that wrote the snapshot this one restored (0: none). */
  restoredEpoch = 0;
  persistedVersion = 0;
  private publishedVersion = 0;
  private newestAcceptedAtMs = 0;
  private storeCheckedAtMs = Date.now();
  private needFull = true;
  private readonly updater: Updater;
  /** The updater's parameters, by name (test/corpus/shard-digest.ts reads them). */
  private readonly dense: Map<string, DenseParam>;
  private readonly tables: Map<string, TableParam>;
  private dedupe: PushDedupe;
  private readonly owned: OwnedParams;
  /** Where a push's arrays are decoded to: its gradients into the parameters' regions in wasm memory. */
  private readonly placement: PushPlacement;
  private pushAccepted: number[] = [];
  private pushExamples: number[] = [];
  /** Learning-rate factor set by the validation gate; 1 = the configured rates. */
  lrFactor = 1;
  examplesApplied = 0;
  /** The row bounds' figures as last exported to the metrics. */
  private boundsExported = { notAdmitted: 0, evictedTtl: 0, evictedBudget: 0, overBudget: 0 };

  constructor(private readonly d: ShardDeps) {
    this.owned = ownedParams(d.spec, d.shard, d.shards);
    this.dedupe = new PushDedupe(d.cfg.dedupeWindow);
    this.updater = new Updater(d.spec, d.cfg, (name) => this.owned.dense.has(name));
    this.dense = this.updater.dense;
    this.tables = this.updater.tables;
    this.placement = new PushPlacement(this.updater);
    // Evicted and forgotten rows are shipped as tombstones, so replicas and the store drop them too.
    for (const t of this.tables.values()) t.arena.recordRemovals = true;
  }

  /** What the row bounds (ps.rows) did; null when unbounded. */
  get rowBounds() {
    return this.updater.bounds?.stats ?? null;
  }

  /**
   * Restores weights, optimizer slots, version and de-duplication memory from the store, and
   * checks the store against the ledger: a store behind what this shard had published lost
   * updates that replicas saw and workers may have acked. The shard then says so, counts it,
   * restores the serving checkpoint if the store still has one, and keeps counting versions
   * from the ledger's, so replicas resync and workers' pushes are not refused as from the future.
   */
  async start(): Promise<void> {
    const { spec, store, model, shard } = this.d;
    const snap = await store.read(model, shard, spec.tables.map((t) => t.name), true);
    const ledger = await this.readLedger();
    if (snap) {
      // Slots another rule wrote (the configuration changed) are reset, not misread.
      const reset: string[] = [];
      for (const ds of snap.dense) if (!this.updater.setDense(ds.name, ds.weights, ds.slot)) reset.push(ds.name);
      for (const d of this.dense.values()) d.dirty = false;
      for (const rs of snap.sparse) if (!this.updater.setRows(rs.table, rs.rows, rs.weights, rs.slot)) reset.push(rs.table);
      if (reset.length) {
        const rules = reset.map((n) => `${n}: ${(this.dense.get(n) ?? this.tables.get(n))!.rule.name}`);
        this.d.log('warn', 'stored optimizer slots do not fit the configured update rules: reset', { params: rules });
      }
      this.version = snap.meta.version;
      this.newestAcceptedAtMs = snap.meta.newestAcceptedAtMs;
      this.examplesApplied = snap.meta.examplesApplied ?? 0;
      this.dedupe = PushDedupe.decode(snap.meta.dedupe, this.d.cfg.dedupeWindow);
      this.needFull = false;
      this.restoredEpoch = snap.meta.epoch;
    }
    const lost = ledger !== null && ledger.version > this.version;
    if (lost) {
      this.d.metrics.storeLost.inc();
      this.d.log('error', 'THE STORE LOST THIS SHARD\'S STATE: it holds an older version than the shard had published; updates since are gone', {
        publishedVersion: ledger.version, publishedEpoch: ledger.epoch, storeVersion: this.version, storeHadSnapshot: snap !== null,
        hint: 'run Redis with persistence (appendonly yes); events not yet acked are trained again, acked ones are not',
      });
      this.restoredEpoch = 0;
      this.needFull = true;
      await this.restoreServingCheckpoint();
      this.version = ledger.version;
    }
    // Above every epoch handed out before, whatever the store's counter remembers.
    this.epoch = await store.nextEpoch(model, shard, Math.max(snap?.meta.epoch ?? 0, ledger?.epoch ?? 0) + 1);
    this.epochStartVersion = this.persistedVersion = this.publishedVersion = this.version;
    await this.recordLedger();
    this.d.metrics.version.set(this.version);
    // The gate's factor is not stored: a (re)started shard trains at the factor it holds, and
    // the gauge must say so rather than keep a dead incarnation's value or read 0 until the gate speaks.
    this.d.metrics.lrFactor.set(this.lrFactor);
    this.d.log('info', snap && !lost ? 'restored from store' : lost ? 'restarted after store loss' : 'no snapshot in store: starting from initial values', {
      version: this.version, epoch: this.epoch, restoredEpoch: this.restoredEpoch, rows: this.rowCount(),
    });
  }

  private async readLedger() {
    try {
      return (await this.d.ledger?.read(this.d.model, this.d.shard)) ?? null;
    } catch (err) {
      this.d.metrics.ledgerErrors.inc();
      this.d.log('warn', 'cannot read the shard ledger: a lost store would go unnoticed', { err: (err as Error).message });
      return null;
    }
  }

  /** Records (epoch, persisted version) before replicas can see that version. */
  private async recordLedger(): Promise<void> {
    try {
      await this.d.ledger?.record(this.d.model, this.d.shard, { epoch: this.epoch, version: this.persistedVersion });
    } catch (err) {
      this.d.metrics.ledgerErrors.inc();
      this.d.log('warn', 'cannot write the shard ledger', { err: (err as Error).message });
    }
  }

  /** After a store loss: the weights of the checkpoint the serving pointer names, if it is still stored. */
  private async restoreServingCheckpoint(): Promise<void> {
    const serving = this.d.serving;
    try {
      const p = serving && await serving.getPointer(this.d.model);
      const bytes = p && await serving.loadCheckpoint(this.d.model, p.checkpointId);
      if (!p || !bytes) {
        this.d.log('warn', 'no checkpoint left to restore after the store loss: starting from initial values');
        return;
      }
      this.restore(p.checkpointId, decodeCheckpoint(bytes));
    } catch (err) {
      this.d.log('warn', 'restoring a checkpoint after the store loss failed: starting from initial values', { err: (err as Error).message });
    }
  }

  rowCount(): number {
    let n = 0;
    for (const t of this.tables.values()) n += t.arena.count;
    return n;
  }

  async handle(msg: PsMessage): Promise<void> {
    if (msg.kind === 'publish') return this.publish();
    if (msg.kind === 'restore') return this.restore(msg.checkpointId, msg.blob);
    if (msg.kind === 'forget') return this.forget(msg.data, msg.respond);
    if (msg.kind === 'control') {
      if (Number.isFinite(msg.lrFactor) && msg.lrFactor > 0 && msg.lrFactor <= 1 && msg.lrFactor !== this.lrFactor) {
        this.d.log('info', 'learning-rate factor set by the validation gate', { from: this.lrFactor, to: msg.lrFactor });
        this.lrFactor = msg.lrFactor;
        this.d.metrics.lrFactor.set(msg.lrFactor);
      }
      return;
    }
    let reply: PushReply;
    try {
      reply = this.applyPush(parsePush(msg.data, undefined, this.placement), msg.receivedAtMs);
    } catch (err) {
      const wire = errorToWire(err);
      this.d.metrics.pushes.inc({ result: wire.code.toLowerCase() });
      reply = { ok: false, error: wire };
    }
    msg.respond?.(encodeReply(reply));
  }

  private applyPush(p: GradientPush, receivedAtMs: number): PushReply {
    validatePush(p, this.owned, this.d.spec, this.d.shard, this.d.shards, this.placement.finite);
    if (this.dedupe.has(p.worker, p.seq)) {
      this.d.metrics.pushes.inc({ result: 'duplicate' });
      return { ok: true, version: this.version, epoch: this.epoch, duplicate: true };
    }
    if (p.baseVersion > this.version) throw new FutureVersionError(p.baseVersion, this.version);
    const staleness = this.version - p.baseVersion;
    this.d.metrics.staleness.observe(staleness);
    // The learning-rate scale: the gate's factor x staleness damping (the counter rule ignores it).
    let scale = this.lrFactor;
    if (this.d.cfg.consistency === 'bounded') {
      if (staleness > this.d.cfg.maxStaleness) throw new StaleGradientError(staleness, this.d.cfg.maxStaleness);
      scale *= 1 / (1 + staleness);
    }
    const t0 = performance.now();
    if (this.updater.apply(p, scale) < 1) this.d.metrics.clipped.inc();
    this.d.metrics.applySeconds.observe((performance.now() - t0) / 1000);
    let rows = 0;
    for (const s of p.sparse) rows += s.rows.length;
    this.d.metrics.pushRows.observe(rows);
    this.dedupe.add(p.worker, p.seq);
    this.version++;
    if (p.newestAcceptedAtMs > this.newestAcceptedAtMs) this.newestAcceptedAtMs = p.newestAcceptedAtMs;
    this.pushAccepted.push(p.meanAcceptedAtMs);
    this.pushExamples.push(p.examples);
    this.examplesApplied += p.examples;
    this.d.metrics.pushes.inc({ result: 'applied' });
    this.d.metrics.examples.inc(p.examples);
    this.d.metrics.version.set(this.version);
    this.d.metrics.pushLatency.observe((Date.now() - receivedAtMs) / 1000);
    return { ok: true, version: this.version, epoch: this.epoch, duplicate: false };
  }

  /**
   * Rollback of the training state: every value and optimizer slot this shard owns goes back
   * to the checkpoint (rows the checkpoint lacks go back to their initial values and slots), so
   * the shard continues exactly as it would have from the checkpoint's versions. Slots the
   * checkpoint lacks (a format-1 checkpoint) or wrote under another rule are reset to agree
   * with the weights, with a warning. The result is a new version like any other, published
   * with the next delta.
   */
  private restore(checkpointId: number, blob: CheckpointBlob): void {
    const rules = blob.rules ?? {};
    const reset = new Set<string>();
    for (const d of blob.dense) {
      const p = this.dense.get(d.name);
      if (!p) continue;
      const slot = rules[d.name] === p.rule.name ? d.slot ?? undefined : undefined;
      if (!this.updater.setDense(d.name, d.values, slot)) reset.add(d.name);
    }
    let rows = 0;
    for (const [name, t] of this.tables) {
      const a = t.arena;
      const h = tableHash(name);
      for (let s = 0; s < a.count; s++) {
        initRow(a.table, a.rowIds[s], this.d.spec.seed, a.weights, s * a.dim);
        this.updater.resetRowSlots(t, s);
        a.markDirty(s);
      }
      const x = blob.tables.find((b) => b.table === name);
      if (!x) continue;
      const sw = a.slotWidth;
      const slot = sw > 0 && rules[name] === t.rule.name && x.slot?.length === x.rows.length * sw ? x.slot : undefined;
      if (sw > 0 && !slot && x.rows.length) reset.add(name);
      for (let i = 0; i < x.rows.length; i++) {
        if (ownerOfRow(h, x.rows[i], this.d.shards) !== this.d.shard) continue;
        const s = a.slotOf(x.rows[i]);
        a.weights.set(x.values.subarray(i * a.dim, (i + 1) * a.dim), s * a.dim);
        if (slot) a.slot.set(slot.subarray(i * sw, (i + 1) * sw), s * sw);
        else this.updater.resetRowSlots(t, s);
        a.markDirty(s);
        rows++;
      }
    }
    this.version++;
    this.d.metrics.restores.inc();
    this.d.metrics.lrFactor.set(this.lrFactor);
    this.d.log('warn', 'weights and optimizer slots restored to a validated checkpoint by the gate', { checkpointId, version: this.version, rows });
    if (reset.size) this.d.log('warn', 'the checkpoint lacks the optimizer slots of some parameters (older format or another rule): reset to agree with the weights', { params: [...reset] });
  }

  /**
   * Removes a forgotten user's rows that this shard owns: they read as initial values again
   * and leave the store and every replica with the next delta's tombstones. A new version,
   * so that the delta is published. Idempotent: rows no longer held count 0.
   */
  private forget(data: Uint8Array, respond?: (d: Uint8Array) => void): void {
    let reply: object;
    try {
      const f = parseForget(data);
      let removed = 0;
      for (const x of f.tables) {
        const t = this.tables.get(x.table);
        if (!t) continue; // a table of another model's kind: nothing here
        const h = tableHash(x.table);
        const mine = x.rows.filter((r) => r >= 0 && r < t.arena.table.rows && ownerOfRow(h, r, this.d.shards) === this.d.shard);
        removed += t.arena.removeRows(mine);
      }
      if (removed) {
        this.version++;
        this.d.metrics.version.set(this.version);
      }
      this.d.metrics.rowsForgotten.inc(removed);
      this.d.log('info', 'rows of a forgotten user removed', { removed, version: this.version });
      reply = { ok: true, removed, version: this.version };
    } catch (err) {
      reply = { ok: false, error: errorToWire(err) };
    }
    respond?.(encode(reply));
  }

  /** Writes the changes since the last publish to the store, then broadcasts them. */
  async publish(): Promise<void> {
    if (!this.needFull && this.version === this.publishedVersion) {
      // Idle: nothing to write, but a store that restarted empty meanwhile must get its snapshot
      // back now, not at the next push (a replica resyncing in between would read nothing).
      if (Date.now() - this.storeCheckedAtMs < (this.d.storeCheckMs ?? 1000)) return;
      this.storeCheckedAtMs = Date.now();
      try {
        if (await this.d.store.hasSnapshot(this.d.model, this.d.shard)) return;
      } catch {
        return; // unreachable: the next write or check finds out
      }
      this.d.log('warn', 'the store had lost this shard\'s state while it was idle: writing a full snapshot');
      this.needFull = true;
    }
    const full = this.needFull;
    const t0 = performance.now();
    const dense: DenseState[] = [];
    for (const p of this.dense.values()) {
      if (!p.dirty && !full) continue;
      dense.push({ name: p.name, weights: p.weights.slice(), slot: p.slot.slice() });
      p.dirty = false;
    }
    const sparse: RowsState[] = [];
    let tombstones = 0;
    for (const [name, t] of this.tables) {
      if (full) t.arena.markAllDirty();
      const taken = t.arena.takeDirty();
      // A full snapshot replaces what was stored and every replica resyncs onto it: no tombstones needed.
      const removed = t.arena.recordRemovals ? t.arena.takeRemoved() : undefined;
      const keep = removed && removed.length && !full ? removed : undefined;
      tombstones += keep?.length ?? 0;
      sparse.push({ table: name, rows: taken.rows, weights: taken.weights, slot: taken.slot, ...(keep ? { removed: keep } : {}) });
    }
    const version = this.version;
    try {
      const res = await this.d.store.write(this.d.model, this.d.shard, {
        meta: { version, epoch: this.epoch, newestAcceptedAtMs: this.newestAcceptedAtMs, dedupe: this.dedupe.encode(), examplesApplied: this.examplesApplied },
        dense, sparse, full,
      });
      this.needFull = res.storeWasEmpty && !full;
      if (this.needFull) this.d.log('warn', 'the store had lost this shard\'s state: writing a full snapshot next');
    } catch (err) {
      // Nothing is lost: the rows stay in memory and the next publish writes everything.
      this.needFull = true;
      this.d.metrics.storeErrors.inc();
      this.d.log('error', 'store write failed; will write a full snapshot when it is back', { err: (err as Error).message });
      return;
    }
    this.persistedVersion = version;
    await this.recordLedger();
    // Two broadcasts of the same change: the weights with the slots readers need (every
    // worker and inference node), and the full state with every slot (the validator, whose
    // checkpoints a rollback restores). Shipping every slot to every reader would multiply
    // their delta bytes by 1 + the rule's slot count (docs/ARCHITECTURE.md has the figures).
    const head = {
      wire: tombstones ? DELTA_WIRE_VERSION : DELTA_WIRE_NO_TOMBSTONES, shard: this.d.shard, epoch: this.epoch, epochStartVersion: this.epochStartVersion, restoredEpoch: this.restoredEpoch,
      fromVersion: this.publishedVersion, toVersion: version, persistedVersion: version,
      newestAcceptedAtMs: this.newestAcceptedAtMs,
      pushAcceptedAtMs: Float64Array.from(this.pushAccepted),
      pushExamples: Int32Array.from(this.pushExamples),
      publishedAtMs: Date.now(),
    };
    const readable = (name: string) => (this.dense.get(name) ?? this.tables.get(name))!.rule.readableSlots;
    const withSlot = (slot: Float32Array | undefined, ship: boolean) => (ship && slot && slot.length ? { slot } : {});
    const delta = encodeDelta({
      ...head,
      dense: dense.map((x) => ({ name: x.name, values: x.weights, ...withSlot(x.slot, readable(x.name)) })),
      sparse: sparse.map((x) => ({ table: x.table, rows: x.rows, values: x.weights, ...withSlot(x.slot, readable(x.table)), ...(x.removed ? { removed: x.removed } : {}) })),
    });
    const stateDelta = encodeDelta({
      ...head,
      dense: dense.map((x) => ({ name: x.name, values: x.weights, ...withSlot(x.slot, true) })),
      sparse: sparse.map((x) => ({ table: x.table, rows: x.rows, values: x.weights, ...withSlot(x.slot, true), ...(x.removed ? { removed: x.removed } : {}) })),
    });
    this.pushAccepted = [];
    this.pushExamples = [];
    this.publishedVersion = version;
    this.d.transport.publish(subjects.weights(this.d.model, this.d.shard), delta);
    this.d.transport.publish(subjects.state(this.d.model, this.d.shard), stateDelta);
    this.d.metrics.persistedVersion.set(version);
    this.exportRowFigures();
    this.d.metrics.publishSeconds.observe((performance.now() - t0) / 1000);
    this.d.metrics.deltaBytes.observe({ subject: 'weights' }, delta.length);
    this.d.metrics.deltaBytes.observe({ subject: 'state' }, stateDelta.length);
  }

  private exportRowFigures(): void {
    let rows = 0;
    let bytes = this.updater.bounds?.bytes ?? 0;
    for (const t of this.tables.values()) { rows += t.arena.count; bytes += t.arena.bytes; }
    const m = this.d.metrics;
    m.sparseRows.set(rows);
    m.sparseBytes.set(bytes);
    const st = this.updater.bounds?.stats;
    if (!st) return;
    const was = this.boundsExported;
    m.rowsNotAdmitted.inc(st.notAdmitted - was.notAdmitted);
    m.rowsEvicted.inc({ reason: 'ttl' }, st.evictedTtl - was.evictedTtl);
    m.rowsEvicted.inc({ reason: 'budget' }, st.evictedBudget - was.evictedBudget);
    m.overBudget.inc(st.overBudget - was.overBudget);
    this.boundsExported = { notAdmitted: st.notAdmitted, evictedTtl: st.evictedTtl, evictedBudget: st.evictedBudget, overBudget: st.overBudget };
  }

  /** Bytes held by weights, slots and indexes: the memory figure per parameter. */
  paramBytes(): { params: number; bytes: number } {
    let params = 0;
    let bytes = 0;
    for (const p of this.dense.values()) { params += p.weights.length; bytes += p.weights.byteLength + p.slot.byteLength; }
    for (const t of this.tables.values()) { params += t.arena.count * t.arena.dim; bytes += t.arena.bytes; }
    return { params, bytes };
  }
}

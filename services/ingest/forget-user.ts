// Forgetting a user (DELETE /v1/users/{id}): everything Flywheel holds that is keyed by them.
// In this order, so that nothing re-creates what was removed:
//   1. their events, out of the event stream (a message of a request that mixed users is left,
//      counted, and expires with the stream's retention);
//   2. every worker and inference node drops what it holds of them in memory (fw.<model>.forget);
//   3. each PS shard removes the user's rows (the kind's userRows: the user's embedding, biases,
//      counters and crosses): they leave the store and every replica with the next delta;
//   4. every stored checkpoint is rewritten without those rows;
//   5. an audit record names what was done (the user by a hash of their id, not the id).
// Rows every user shares (items, totals, dense layers) keep the user's share of the aggregate:
// what the model learnt from many users at once is not attributable to one.
import { createHash } from 'node:crypto';
import {
  HttpError, UnavailableError, decode, shardKeyOf, decodeCheckpoint, encodeCheckpoint, encodeForget, modelDecl, subjects,
  type CheckpointBlob, type ErasedMessages, type ErasureVerdict, type EventErasure, type FlywheelConfig, type FlywheelEvent, type ForgetRows, type Infra,
} from '../../shared/index.ts';
import { kindSpec } from '../../shared/models/kind-specs.ts';

/** What one request removed, per model, as the response and the audit record say it. */
export interface ForgetReport {
  userHash: string;
  requestedAtMs: number;
  events: ErasedMessages & { retentionHours: number };
  models: { model: string; kind: string; tables: { table: string; rows: number }[]; psRowsRemoved: number; checkpointsRewritten: number }[];
}

export interface ForgetDeps {
  cfg: FlywheelConfig;
  infra: Infra;
  /** How long a PS shard may take to answer. Default 10 s. */
  timeoutMs?: number;
}

export function userHashOf(userId: string): string {
  return createHash('sha256').update(userId).digest('hex');
}

export async function forgetUser(userId: string, d: ForgetDeps): Promise<ForgetReport> {
  const { cfg, infra } = d;
  const erasure = infra.eventLog as Partial<EventErasure>;
  if (typeof erasure.erase !== 'function') throw new HttpError(501, 'this event log cannot delete messages');
  const requestedAtMs = Date.now();

  // 1. The user's events: every shard (a model sharded by item spreads them over all of them).
  const events: FlywheelEvent[] = [];
  const verdict = (data: Uint8Array): ErasureVerdict => verdictOf(data, userId, events);
  const erased: ErasedMessages = { scanned: 0, deleted: 0, mixed: 0 };
  // One ingest feeds every model: the events are on the subjects of each shard key in use.
  const keys = infra.embedded ? [shardKeyOf(cfg)] : [...new Set(cfg.models.map((m) => shardKeyOf(cfg, m.name)))];
  for (const key of keys) {
    // The copies on a second key's subjects are the same events: collect the user's once.
    const collect = key === keys[0];
    for (let s = 0; s < cfg.eventShards; s++) {
      const r = await erasure.erase!(s, collect ? verdict : (data) => verdictOf(data, userId), key);
      erased.scanned += r.scanned; erased.deleted += r.deleted; erased.mixed += r.mixed;
    }
  }

  const report: ForgetReport = { userHash: userHashOf(userId), requestedAtMs, events: { ...erased, retentionHours: cfg.streamRetentionHours }, models: [] };
  for (const m of cfg.models) {
    const decl = modelDecl(cfg, m.name);
    const spec = kindSpec(decl.kind);
    const tableNames = new Set(spec.paramSpec(m.name, cfg.seed, decl.settings).tables.map((t) => t.name));
    const held = heldRowsReader(infra, m.name, cfg.psShards);
    const rows = ((await spec.userRows?.(decl.settings, userId, events, held)) ?? []).filter((x) => tableNames.has(x.table) && x.rows.length > 0);
    const forget: ForgetRows = { userId, tables: rows.map((x) => ({ table: x.table, rows: Int32Array.from(new Set(x.rows)) })) };
    // 2. Readers first: a worker must not train a held example of the user after its rows go.
    infra.transport.publish(subjects.forget(m.name), encodeForget(forget));
    // 3. The PS shards.
    let psRowsRemoved = 0;
    for (let k = 0; k < cfg.psShards; k++) {
      let reply: { ok?: boolean; removed?: number; error?: { message?: string } };
      try {
        reply = decode(await infra.transport.request(subjects.psForget(m.name, k), encodeForget(forget), d.timeoutMs ?? 10_000)) as typeof reply;
      } catch (err) {
        throw new UnavailableError(`PS shard ${k} of ${m.name} did not answer (${(err as Error).message}); the user's events are deleted, repeat the request to remove the rows`);
      }
      if (!reply?.ok) throw new UnavailableError(`PS shard ${k} of ${m.name} refused: ${reply?.error?.message ?? 'no reason'}`);
      psRowsRemoved += reply.removed ?? 0;
    }
    // 4. Checkpoints.
    let checkpointsRewritten = 0;
    if (forget.tables.length) {
      for (const id of await infra.serving.checkpointIds(m.name)) {
        const bytes = await infra.serving.loadCheckpoint(m.name, id);
        if (!bytes) continue;
        const blob = decodeCheckpoint(bytes);
        if (!withoutRows(blob, forget.tables)) continue;
        if (await infra.serving.replaceCheckpoint(m.name, id, encodeCheckpoint(blob))) checkpointsRewritten++;
      }
    }
    report.models.push({
      model: m.name, kind: decl.kind, tables: forget.tables.map((x) => ({ table: x.table, rows: x.rows.length })), psRowsRemoved, checkpointsRewritten,
    });
  }
  // 5. The audit trail of every model the stream feeds.
  for (const m of cfg.models) await infra.serving.appendAudit(m.name, { action: 'forget-user', ...report });
  return report;
}

/** Removes rows from a checkpoint in place; returns whether any was there. */
export function withoutRows(blob: CheckpointBlob, tables: readonly { table: string; rows: Int32Array }[]): boolean {
  let changed = false;
  for (const x of tables) {
    const t = blob.tables.find((b) => b.table === x.table);
    if (!t || !t.rows.length) continue;
    const drop = new Set(x.rows);
    const keep: number[] = [];
    for (let i = 0; i < t.rows.length; i++) if (!drop.has(t.rows[i])) keep.push(i);
    if (keep.length === t.rows.length) continue;
    changed = true;
    const dim = t.values.length / t.rows.length;
    const sw = t.slot ? t.slot.length / t.rows.length : 0;
    const rows = new Int32Array(keep.length);
    const values = new Float32Array(keep.length * dim);
    const slot = t.slot ? new Float32Array(keep.length * sw) : undefined;
    keep.forEach((i, j) => {
      rows[j] = t.rows[i];
      values.set(t.values.subarray(i * dim, (i + 1) * dim), j * dim);
      if (slot) slot.set(t.slot!.subarray(i * sw, (i + 1) * sw), j * sw);
    });
    t.rows = rows;
    t.values = values;
    if (slot) t.slot = slot;
  }
  return changed;
}

/** Whether a message holds only, some or none of the user's events (collected into `into`). */
function verdictOf(data: Uint8Array, userId: string, into?: FlywheelEvent[]): ErasureVerdict {
  let mine = 0;
  let total = 0;
  for (const ev of eventsOf(data)) {
    total++;
    if (ev.userId === userId) { mine++; into?.push(ev); }
  }
  return mine === 0 ? 'none' : mine === total ? 'all' : 'some';
}

/** The events of an event-stream message (a batch); none when it is not one. */
function eventsOf(data: Uint8Array): FlywheelEvent[] {
  try {
    const m = decode(data) as { events?: unknown };
    return Array.isArray(m?.events) ? (m.events as FlywheelEvent[]).filter((e) => e && typeof e.userId === 'string') : [];
  } catch {
    return [];
  }
}

/** A table's rows held by the PS shards, as the store has them. */
function heldRowsReader(infra: Infra, model: string, shards: number): (table: string) => Promise<Int32Array> {
  return async (table) => {
    const ids: number[] = [];
    for (let k = 0; k < shards; k++) {
      const snap = await infra.store.read(model, k, [table], false);
      for (const x of snap?.sparse ?? []) ids.push(...x.rows);
    }
    return Int32Array.from(ids);
  };
}

// The event: what ingest accepts and what workers learn from. Validation happens once, at
// ingest, so nothing invalid reaches the stream; workers re-check cheaply on decode.
import { BadEventError } from './errors.ts';
import { hashString } from './hash.ts';

// 'return': units of an item given back (value = units, positive); sales models net them out,
// models of interest ignore them.
// 'transaction': something to be scored for risk (a claim, a payment; itemId is its reference),
// 'outcome': what it turned out to be, later (itemId = the transaction's reference, value = 0/1).
export const EVENT_TYPES = ['view', 'click', 'cart', 'fav', 'buy', 'rating', 'return', 'transaction', 'outcome'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Types that are not a user's interaction with an item: models of interest (ctr) skip them. */
export const NON_INTERACTION_TYPES: ReadonlySet<EventType> = new Set<EventType>(['return', 'transaction', 'outcome']);

export interface FlywheelEvent {
  userId: string;
  itemId: string;
  type: EventType;
  /** Event time, milliseconds since the epoch. */
  ts: number;
  categoryId?: string;
  /** A rating, a quantity: whatever the label rule reads. */
  value?: number;
  /** Extra categorical features, e.g. { country: 'France' }. */
  context?: Record<string, string>;
}

/** Events travel in JetStream messages of several events, stamped when ingest accepted them. */
export interface EventBatchMessage {
  acceptedAtMs: number;
  events: FlywheelEvent[];
}

export const EVENT_LIMITS = {
  maxIdChars: 128,
  // A claim or a card payment comes with 30-odd attributes; 64 keeps a message bounded
  // (64 x 128 characters) while leaving room for them.
  maxContextKeys: 64,
  maxContextValueChars: 128,
  /** Oldest accepted event time: 1990-01-01 (replays of old public datasets must still pass). */
  minTsMs: Date.UTC(1990, 0, 1),
  /** Events may be this far in the future (clock skew). */
  maxFutureMs: 24 * 3600 * 1000,
} as const;

const TYPE_SET = new Set<string>(EVENT_TYPES);
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

// Identifiers (userId, itemId, categoryId) and context values are hashed into feature rows:
// two strings that look the same but differ in their code points would train two rows, and
// an invisible character lets one client pose as another's user or item in what a model
// learns. So they are NFC-normalised (a precomposed "é" and "e" + combining acute are one
// id), trimmed, and refused when they hold characters that do not show: control characters
// (C0, DEL and C1, NUL included), zero-width characters and bidirectional controls (which
// can make an id display as another). docs/ARCHITECTURE.md, "Identifiers", has the rules.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/;
/** Printable ASCII, no space at either end: already NFC, trimmed and visible (most ids). */
const PLAIN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

function invisibleKind(c: number): string {
  if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return 'a control character';
  if (c === 0x200b || c === 0x200c || c === 0x200d || c === 0x2060 || c === 0xfeff) return 'a zero-width character';
  return 'a bidirectional control character';
}

const hex4 = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The clean form of an id-like string (NFC, trimmed), or throws BadEventError naming the
 * rule it broke; `name` is the field as the client wrote it (e.g. "userId", "context.country").
 * `allowEmpty`: context values may be empty, ids may not.
 */
export function cleanIdString(v: string, name: string, maxChars: number, allowEmpty = false): string {
  if (PLAIN.test(v)) {
    if (v.length > maxChars) throw new BadEventError(`${name} is longer than ${maxChars} characters`);
    return v;
  }
  // A bound before the work below, which is linear in the length; NFC changes the length of
  // few strings, and never by more than a factor of 3.
  if (v.length > 3 * maxChars) throw new BadEventError(`${name} is longer than ${maxChars} characters`);
  if (hasLoneSurrogate(v)) throw new BadEventError(`${name} is not valid unicode (lone surrogate)`);
  const bad = INVISIBLE.exec(v);
  if (bad) {
    const c = bad[0].charCodeAt(0);
    throw new BadEventError(`${name} contains ${invisibleKind(c)} (${hex4(c)} at index ${bad.index})`);
  }
  const clean = v.normalize('NFC').trim();
  if (clean.length === 0 && !allowEmpty) throw new BadEventError(v.length === 0 ? `${name} is empty` : `${name} is empty after trimming whitespace`);
  if (clean.length > maxChars) throw new BadEventError(`${name} is longer than ${maxChars} characters`);
  return clean;
}

function checkId(v: unknown, name: string): string {
  if (typeof v === 'number' && Number.isSafeInteger(v)) v = String(v);
  if (v === undefined) throw new BadEventError(`${name} is missing`);
  if (typeof v !== 'string') throw new BadEventError(`${name} must be a string or a safe integer, got ${typeName(v)}`);
  return cleanIdString(v, name, EVENT_LIMITS.maxIdChars);
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/**
 * Checks one decoded JSON value and returns a clean event, or throws BadEventError with the
 * reason. Unknown top-level keys are rejected so a typo does not silently drop a feature.
 */
export function validateEvent(raw: unknown, nowMs: number = Date.now()): FlywheelEvent {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BadEventError(`event must be an object, got ${typeName(raw)}`);
  }
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!['userId', 'itemId', 'type', 'ts', 'categoryId', 'value', 'context'].includes(k)) {
      throw new BadEventError(`unknown field "${k.slice(0, 40)}"`);
    }
  }
  const userId = checkId(r.userId, 'userId');
  const itemId = checkId(r.itemId, 'itemId');
  if (typeof r.type !== 'string' || !TYPE_SET.has(r.type)) {
    throw new BadEventError(`type ${r.type === undefined ? 'is missing' : 'is unknown'}: must be one of ${EVENT_TYPES.join(', ')}`);
  }
  const ts = r.ts;
  if (ts === undefined) throw new BadEventError('ts is missing (epoch milliseconds)');
  if (typeof ts !== 'number' || !Number.isFinite(ts)) throw new BadEventError('ts must be a number (epoch milliseconds)');
  if (ts < EVENT_LIMITS.minTsMs) throw new BadEventError('ts is before 1990-01-01 (is it in seconds rather than milliseconds?)');
  if (ts > nowMs + EVENT_LIMITS.maxFutureMs) throw new BadEventError('ts is more than a day in the future');
  const ev: FlywheelEvent = { userId, itemId, type: r.type as EventType, ts: Math.floor(ts) };
  if (r.categoryId !== undefined) ev.categoryId = checkId(r.categoryId, 'categoryId');
  if (r.value !== undefined) {
    if (typeof r.value !== 'number' || !Number.isFinite(r.value)) throw new BadEventError('value must be a finite number');
    ev.value = r.value;
  }
  if (r.context !== undefined) {
    const c = r.context;
    if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new BadEventError('context must be an object of strings');
    const keys = Object.keys(c);
    if (keys.length > EVENT_LIMITS.maxContextKeys) throw new BadEventError(`context has more than ${EVENT_LIMITS.maxContextKeys} keys`);
    const ctx: Record<string, string> = {};
    for (const k of keys) {
      if (!KEY_RE.test(k)) throw new BadEventError(`context key "${k.slice(0, 40)}" must match ${KEY_RE.source}`);
      // JSON.parse makes "__proto__" an own key; copied into ctx it would silently vanish.
      if (k === '__proto__') throw new BadEventError('context key "__proto__" is not allowed');
      const v = (c as Record<string, unknown>)[k];
      if (typeof v !== 'string') throw new BadEventError(`context.${k} must be a string`);
      if (v.length > EVENT_LIMITS.maxContextValueChars) throw new BadEventError(`context.${k} is too long`);
      // A context value is a categorical feature, hashed like an id: the same rules, but it may be empty.
      ctx[k] = cleanIdString(v, `context.${k}`, EVENT_LIMITS.maxContextValueChars, true);
    }
    ev.context = ctx;
  }
  return ev;
}

/** What the gate holds out: single events, or every event of some items (a kind that
 *  aggregates an item's events into examples must see all of them or none). */
export type HoldoutUnit = 'event' | 'item';

/** Whether an event is held out of training for the validation gate (permille of events or of items). */
export function isHeldOut(ev: FlywheelEvent, permille: number, by: HoldoutUnit = 'event'): boolean {
  if (permille <= 0) return false;
  return (by === 'item' ? hashString(`holdout|${ev.itemId}`) : hashString(`${ev.userId}|${ev.itemId}|${ev.ts}`)) % 1000 < permille;
}

/** The event shard of a user: every event of one user lands on one shard, in order. */
export function eventShardOf(userId: string, shards: number): number {
  return hashString(userId) % shards;
}

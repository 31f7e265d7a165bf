// Bounded memory for sparse tables: which rows a table keeps. Three rules, each off by default:
// - admission (ps.rows.admitAfter = n): a row id gets a row only once it has come in n pushes,
//   counted in a small count-min sketch; until then its gradients are dropped and it reads as
//   its initial value everywhere. Ids seen once (most of a long tail) never take memory. This is
//   the frequency filter of Monolith (Liu et al. 2022) and DeepRec; counter tables are exempt,
//   since their counts must add up exactly.
// - time to live (ps.rows.ttlMs): a row not used for that long (by the pushes' event time) is
//   evicted, swept as the clock moves on.
// - a budget (ps.rows.budgetBytes, per process): a table grows its arena only while every
//   table's bytes fit; otherwise it evicts its least recently used eighth before taking rows.
// An evicted row reads as its initial value again, as a row never trained does, on this process
// and, through the tombstones the PS ships in its deltas, on every replica.
import { ConfigError } from './errors.ts';
import type { SparseArena } from './sparse-arena.ts';

export interface RowBoundsConfig {
  /** Pushes a row id must come in before it gets a row; 1 = at once. */
  admitAfter: number;
  /** Evict a row unused for this long (ms of the pushes' event time); 0 = never. */
  ttlMs: number;
  /** Bytes the sparse tables of this process may hold; 0 = unbounded. */
  budgetBytes: number;
}

export const UNBOUNDED: RowBoundsConfig = { admitAfter: 1, ttlMs: 0, budgetBytes: 0 };

export function isBounded(c: RowBoundsConfig | undefined): c is RowBoundsConfig {
  return !!c && (c.admitAfter > 1 || c.ttlMs > 0 || c.budgetBytes > 0);
}

/** What the bounds did, since the process started. */
export interface RowBoundsStats {
  /** Gradient rows dropped because their id had not come often enough yet. */
  notAdmitted: number;
  /** Rows that got a place after passing the filter. */
  admitted: number;
  evictedTtl: number;
  evictedBudget: number;
  /** Pushes whose new rows did not fit even after eviction (the arena grew past the budget). */
  overBudget: number;
}

/** A bounded table as the bounds see it. */
export interface BoundedTable {
  readonly name: string;
  readonly arena: SparseArena;
  /** Exempt from admission (a counter table). */
  readonly exact: boolean;
}

const SKETCH_ROWS = 2;
/** Most counters per sketch row (2^20 bytes each); fewer when the filtered tables have fewer buckets. Collisions only admit an id early. */
const MAX_SKETCH_WIDTH = 1 << 20;
/** Share of a full table evicted at once to make room, so eviction scans stay rare. */
const EVICT_SHARE = 1 / 8;
/** Slots sampled to find the age threshold of an eviction. */
const SAMPLE = 1024;

export class RowBounds {
  readonly stats: RowBoundsStats = { notAdmitted: 0, admitted: 0, evictedTtl: 0, evictedBudget: 0, overBudget: 0 };
  private readonly sketch: Uint8Array | null;
  private readonly sketchMask: number;
  /** Per table, a salt mixed into the ids, so row 5 of one table is not counted as row 5 of another. */
  private readonly salts = new Map<string, number>();
  private sketchAdds = 0;
  private tick = 0;
  private clockMs = 0;
  private sweptAtMs = -Infinity;
  private kept = new Int32Array(0);

  constructor(readonly cfg: RowBoundsConfig, private readonly tables: readonly BoundedTable[]) {
    if (!Number.isInteger(cfg.admitAfter) || cfg.admitAfter < 1 || cfg.admitAfter > 255) throw new ConfigError('ps.rows.admitAfter', 'an integer 1..255');
    if (!(cfg.ttlMs >= 0) || !(cfg.budgetBytes >= 0)) throw new ConfigError('ps.rows', 'ttlMs and budgetBytes are >= 0');
    let buckets = 0;
    for (const t of tables) if (!t.exact) buckets += t.arena.table.rows;
    let width = 1 << 10;
    while (width < buckets && width < MAX_SKETCH_WIDTH) width *= 2;
    this.sketchMask = width - 1;
    this.sketch = cfg.admitAfter > 1 && buckets > 0 ? new Uint8Array(SKETCH_ROWS * width) : null;
    tables.forEach((t, i) => this.salts.set(t.name, Math.imul(i + 1, 0x27d4eb2f)));
    for (const t of tables) t.arena.keepUseStamps();
  }

  /** Bytes the bounds themselves hold (the sketch), counted in the budget's figures. */
  get bytes(): number {
    return this.sketch?.byteLength ?? 0;
  }

  /** Starts a push: advances the use counter and the clock (the push's event time, else now). */
  beginPush(eventTimeMs: number | undefined): void {
    this.tick++;
    const now = eventTimeMs !== undefined && eventTimeMs > 0 ? eventTimeMs : Date.now();
    if (now > this.clockMs) this.clockMs = now;
    for (const t of this.tables) { t.arena.useTick = this.tick; t.arena.useAtMs = this.clockMs; }
  }

  /**
   * The rows of a push to `t` that may be applied, with their gradients: held rows are stamped
   * as used, new ids pass the admission filter, and room is made for those that pass. Returns
   * the inputs themselves when every row passes.
   */
  admit(t: BoundedTable, rows: Int32Array, grads: Float32Array): { rows: Int32Array; grads: Float32Array } {
    const a = t.arena;
    const dim = a.dim;
    const usedTick = a.usedTick!;
    const usedAtMs = a.usedAtMs!;
    let fresh = 0;
    let dropped = 0;
    const filter = this.sketch !== null && !t.exact;
    const salt = this.salts.get(t.name) ?? 0;
    if (filter && this.kept.length < rows.length) this.kept = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const s = a.index.get(rows[i]);
      if (s >= 0) {
        usedTick[s] = this.tick;
        usedAtMs[s] = this.clockMs;
      } else if (filter && this.count(rows[i] ^ salt) < this.cfg.admitAfter) {
        dropped++;
        continue;
      } else {
        fresh++;
      }
      if (filter) this.kept[i - dropped] = i;
    }
    this.stats.notAdmitted += dropped;
    if (filter) this.stats.admitted += fresh;
    let out = { rows, grads };
    if (dropped) {
      const n = rows.length - dropped;
      const keptRows = new Int32Array(n);
      const keptGrads = new Float32Array(n * dim);
      for (let j = 0; j < n; j++) {
        const i = this.kept[j];
        keptRows[j] = rows[i];
        keptGrads.set(grads.subarray(i * dim, (i + 1) * dim), j * dim);
      }
      out = { rows: keptRows, grads: keptGrads };
    }
    if (fresh && this.cfg.budgetBytes > 0) this.makeRoom(t, fresh);
    return out;
  }

  /** Evicts rows unused for ttlMs, when the clock has moved a sixteenth of it since the last sweep. */
  sweep(): void {
    const ttl = this.cfg.ttlMs;
    if (!(ttl > 0) || this.clockMs - this.sweptAtMs < ttl / 16) return;
    this.sweptAtMs = this.clockMs;
    const before = this.clockMs - ttl;
    for (const t of this.tables) {
      const a = t.arena;
      const at = a.usedAtMs!;
      const victims: number[] = [];
      for (let s = a.count - 1; s >= 0; s--) if (at[s] < before) victims.push(s);
      a.removeSlots(victims);
      this.stats.evictedTtl += victims.length;
    }
  }

  /** Counts one more sighting of an id in the sketch; returns its (over-)estimated count. */
  private count(id: number): number {
    const sk = this.sketch!;
    const m = this.sketchMask;
    const h1 = (Math.imul(id, 0x9e3779b1) >>> 12) & m;
    const h2 = m + 1 + ((Math.imul(id ^ 0x5bd1e995, 0x85ebca6b) >>> 12) & m);
    let c = Math.min(sk[h1], sk[h2]);
    if (c < 255) {
      c++;
      // Conservative update: only the counters at the minimum grow, which halves overcounting.
      if (sk[h1] < c) sk[h1] = c;
      if (sk[h2] < c) sk[h2] = c;
    }
    // Aging (TinyLFU): every 10 counters' worth of sightings, halve them all, so an id must
    // come n times within a recent stretch of the stream, not over its whole history.
    if (++this.sketchAdds >= 10 * (m + 1)) {
      this.sketchAdds = 0;
      for (let i = 0; i < sk.length; i++) sk[i] >>= 1;
    }
    return c;
  }

  /** Makes room in t's arena for `fresh` new rows: grow within the budget, else evict the least recently used. */
  private makeRoom(t: BoundedTable, fresh: number): void {
    const a = t.arena;
    if (a.count + fresh <= a.capacity) return;
    let cap = a.capacity;
    while (cap < a.count + fresh) cap *= 2;
    const others = this.sparseBytes() - a.bytes;
    if (others + a.bytesAtCapacity(cap) + this.bytes <= this.cfg.budgetBytes) return;
    const want = a.count + fresh - a.capacity + Math.ceil(a.capacity * EVICT_SHARE);
    const evicted = this.evictOldest(a, Math.min(want, a.count));
    this.stats.evictedBudget += evicted;
    if (a.count + fresh > a.capacity) this.stats.overBudget++;
  }

  private sparseBytes(): number {
    let n = 0;
    for (const t of this.tables) n += t.arena.bytes;
    return n;
  }

  /**
   * Evicts about `k` of the least recently used rows, never one this push used: the age
   * threshold is read from a sample of the rows' use counters, then one pass evicts below it.
   */
  private evictOldest(a: SparseArena, k: number): number {
    const used = a.usedTick!;
    const n = a.count;
    const sample = new Uint32Array(Math.min(SAMPLE, n));
    for (let i = 0; i < sample.length; i++) sample[i] = used[Math.floor((i + 0.5) * n / sample.length)];
    sample.sort();
    let evicted = 0;
    // Thresholds from the sample upwards until enough are evicted (ties can make one too low).
    for (let q = Math.ceil((k / n) * sample.length); evicted < k; q = Math.ceil(q * 1.5) + 1) {
      const threshold = q >= sample.length ? this.tick : Math.min(sample[q], this.tick);
      const victims: number[] = [];
      for (let s = a.count - 1; s >= 0 && victims.length < k - evicted; s--) if (used[s] < threshold) victims.push(s);
      a.removeSlots(victims);
      evicted += victims.length;
      if (threshold === this.tick) break;
    }
    return evicted;
  }
}

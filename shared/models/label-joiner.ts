// Late labels: a scored example waits here until its outcome arrives (joined by reference) or
// its window closes (no outcome: a negative), and then goes out again to be trained on. The
// joiner lives inside a kind's example source, so it is sharded like the events (the outcome
// of a transaction lands on the transaction's event shard when both carry its reference in the
// shard key) and its state follows the shard: a worker that takes a shard rebuilds it from the
// event log (ExampleSource.stateByShard), so pending examples survive a crash with nothing
// lost or trained twice. Time is event time, so a replay closes windows as the stream did.
//
// Every row it emits has two targets: [label the metric counts, label trained on], NaN where
// there is none (a kind with one target, as ctr, runs the 'wait' mode: the one target is both). With the example's ref (Batch.refs), the metric pairs the label with the score
// the example got when it was first seen (shared/models/delayed-scores.ts):
//   mode 'wait'           at the transaction  [NaN, NaN]  scored, not trained
//                         outcome y / window  [y, y]      counted with the first score, trained
//   mode 'fake-negative'  at the transaction  [NaN, 0]    scored, trained at once as a negative
//   (Ktena et al. 2019)   outcome 1           [1, 1]      counted, trained again as a positive
//                         outcome 0 / window  [0, NaN]    counted, not trained again
// The model weights fake-negative training with their importance weights (risk/model.ts).
import type { BatchBuilder } from './batch-builder.ts';

export type LateLabelMode = 'wait' | 'fake-negative';

export interface LabelJoinerOptions {
  mode: LateLabelMode;
  /** Event-time ms after which an example without an outcome closes as a negative. */
  windowMs: number;
  /** Examples held at most; beyond it the oldest is dropped (counted), unlabelled. */
  maxPending: number;
  /**
   * When a labelled example goes out: as its outcome arrives (default), or when its window
   * closes, whatever the outcome. The second keeps every label equally late where only
   * positives ever arrive (a conversion within seconds, a non-conversion only at the window's
   * end): otherwise what learns from the stream sees positives early and negatives late.
   */
  releaseAt?: 'outcome' | 'window';
}

export interface LabelJoinerStats {
  admitted: number;
  /** Outcomes joined to their example. */
  joined: number;
  /** Windows closed without an outcome: negatives. */
  expired: number;
  /** Held examples dropped unlabelled because maxPending was reached. */
  dropped: number;
  /** Outcomes with no pending example: unknown reference, after the window, or a second outcome. */
  unmatched: number;
  /** A transaction whose reference is already pending: ignored. */
  duplicates: number;
}

/** The targets (1 or 2) of a row for `mode`, at admission (`label` undefined) or when labelled. */
export function joinedTargets(mode: LateLabelMode, label: 0 | 1 | undefined, out: Float32Array, at: number, width = 2): void {
  if (width === 1) { out[at] = label ?? NaN; return; }
  if (label === undefined) { out[at] = NaN; out[at + 1] = mode === 'wait' ? NaN : 0; return; }
  out[at] = label;
  out[at + 1] = mode === 'wait' || label === 1 ? label : NaN;
}

/**
 * Pending examples in a ring in admission order (so windows close from the head), in typed
 * arrays that grow by doubling up to maxPending; a joined example leaves a hole (its key
 * cleared) that the head skips.
 */
export class LabelJoiner {
  readonly stats: LabelJoinerStats = { admitted: 0, joined: 0, expired: 0, dropped: 0, unmatched: 0, duplicates: 0 };
  private readonly I: number;
  private readonly D: number;
  private readonly T: number;
  private cap = 0;
  private head = 0;
  /** Slots used from head on, holes included. */
  private used = 0;
  private keys: (string | undefined)[] = [];
  private ts = new Float64Array(0);
  private refs = new Float64Array(0);
  /** releaseAt 'window': the outcome that came, held until the window closes (0 = none yet). */
  private outcomes = new Uint8Array(0);
  private ids = new Int32Array(0);
  private dense = new Float32Array(0);
  private readonly slotOf = new Map<string, number>();
  /** Refs of the examples this joiner admits, from 0: the metric pairs a score and its label by it. */
  private nextRef = 0;

  constructor(shape: { idWidth: number; denseWidth: number; targetWidth?: number }, readonly opts: LabelJoinerOptions) {
    this.I = shape.idWidth;
    this.D = shape.denseWidth;
    this.T = shape.targetWidth ?? 2;
    if (this.T !== 1 && this.T !== 2) throw new Error('LabelJoiner: rows have 1 target (wait mode) or 2 (counted, trained)');
    if (this.T === 1 && opts.mode !== 'wait') throw new Error("LabelJoiner: with one target only the 'wait' mode is possible");
    if (!(opts.maxPending >= 1)) throw new Error('LabelJoiner: maxPending must be at least 1');
    this.grow(Math.min(1024, opts.maxPending));
  }

  /** Examples waiting for their outcome. */
  get pending(): number {
    return this.slotOf.size;
  }

  has(key: string): boolean {
    return this.slotOf.has(key);
  }

  /**
   * Emits the example of `key` to `out` to be scored now, and holds it until its outcome: a new
   * row with the next ref and its admission targets, whose features `write(row)` fills in.
   * False (counted as a duplicate, nothing emitted) when `key` is already pending.
   */
  admit(key: string, ts: number, out: BatchBuilder, write: (row: number) => void): boolean {
    if (this.slotOf.has(key)) { this.stats.duplicates++; return false; }
    const ref = this.nextRef++;
    const row = out.add(ts, ref);
    write(row);
    joinedTargets(this.opts.mode, undefined, out.targets, row * this.T, this.T);
    if (this.used === this.cap) {
      if (this.cap < this.opts.maxPending) this.grow(Math.min(this.cap * 2, this.opts.maxPending));
      else this.dropHead();
    }
    const s = (this.head + this.used) % this.cap;
    this.used++;
    this.keys[s] = key;
    this.ts[s] = ts;
    this.refs[s] = ref;
    this.outcomes[s] = 0;
    this.ids.set(out.ids.subarray(row * this.I, (row + 1) * this.I), s * this.I);
    this.dense.set(out.dense.subarray(row * this.D, (row + 1) * this.D), s * this.D);
    this.slotOf.set(key, s);
    this.stats.admitted++;
    return true;
  }

  /** The outcome of `key`: its example goes to `out` with its label; false when none is pending. */
  outcome(key: string, label: 0 | 1, ts: number, out: BatchBuilder): boolean {
    const s = this.slotOf.get(key);
    if (s === undefined || this.outcomes[s] !== 0) { this.stats.unmatched++; return false; }
    this.stats.joined++;
    if (this.opts.releaseAt === 'window') { this.outcomes[s] = label + 1; return true; }
    this.emit(s, label, out);
    this.release(s);
    return true;
  }

  /** Drops the pending examples whose key `matches` (a forgotten user's), emitting nothing; returns how many. */
  forget(matches: (key: string) => boolean): number {
    const doomed = [...this.slotOf].filter(([key]) => matches(key));
    for (const [, s] of doomed) this.release(s);
    return doomed.length;
  }

  /** Closes every window that ended by event time `nowMs`: those examples go to `out` as negatives. */
  expire(nowMs: number, out: BatchBuilder): void {
    while (this.used > 0) {
      const s = this.head;
      if (this.keys[s] !== undefined) {
        if (this.ts[s] + this.opts.windowMs > nowMs) return;
        const o = this.outcomes[s];
        this.emit(s, o === 2 ? 1 : 0, out);
        this.release(s);
        if (o === 0) this.stats.expired++;
      }
      this.head = (this.head + 1) % this.cap;
      this.used--;
    }
  }

  private emit(s: number, label: 0 | 1, out: BatchBuilder): void {
    const i = out.add(this.ts[s], this.refs[s]);
    out.ids.set(this.ids.subarray(s * this.I, (s + 1) * this.I), i * this.I);
    out.dense.set(this.dense.subarray(s * this.D, (s + 1) * this.D), i * this.D);
    joinedTargets(this.opts.mode, label, out.targets, i * this.T, this.T);
  }

  private release(s: number): void {
    this.slotOf.delete(this.keys[s]!);
    this.keys[s] = undefined;
  }

  private dropHead(): void {
    const s = this.head;
    if (this.keys[s] !== undefined) { this.release(s); this.stats.dropped++; }
    this.head = (this.head + 1) % this.cap;
    this.used--;
  }

  /** Re-lays the ring from its head into arrays of `n` slots. */
  private grow(n: number): void {
    const I = this.I, D = this.D;
    const keys: (string | undefined)[] = new Array(n);
    const ts = new Float64Array(n), refs = new Float64Array(n), ids = new Int32Array(n * I), dense = new Float32Array(n * D);
    const outcomes = new Uint8Array(n);
    for (let k = 0; k < this.used; k++) {
      const s = (this.head + k) % this.cap;
      keys[k] = this.keys[s]; ts[k] = this.ts[s]; refs[k] = this.refs[s]; outcomes[k] = this.outcomes[s];
      ids.set(this.ids.subarray(s * I, (s + 1) * I), k * I);
      dense.set(this.dense.subarray(s * D, (s + 1) * D), k * D);
      if (keys[k] !== undefined) this.slotOf.set(keys[k]!, k);
    }
    Object.assign(this, { keys, ts, refs, outcomes, ids, dense, cap: n, head: 0 });
  }
}

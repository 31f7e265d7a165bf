// Remembers the (worker, seq) pushes a shard has applied, so a push retried after a lost
// reply (or replayed) is applied once. Bounded: the last `window` seqs per worker. Saved
// with every snapshot, so the memory survives a shard restart.
import { decode, encode } from '../../shared/index.ts';

export class PushDedupe {
  private perWorker = new Map<string, { ring: Float64Array; pos: number; set: Set<number> }>();

  constructor(private readonly window: number) {}

  has(worker: string, seq: number): boolean {
    return this.perWorker.get(worker)?.set.has(seq) ?? false;
  }

  add(worker: string, seq: number): void {
    let w = this.perWorker.get(worker);
    if (!w) {
      w = { ring: new Float64Array(this.window).fill(-1), pos: 0, set: new Set() };
      this.perWorker.set(worker, w);
    }
    const old = w.ring[w.pos];
    if (old >= 0) w.set.delete(old);
    w.ring[w.pos] = seq;
    w.pos = (w.pos + 1) % this.window;
    w.set.add(seq);
  }

  encode(): Uint8Array {
    const o: Record<string, Float64Array> = {};
    for (const [worker, w] of this.perWorker) o[worker] = Float64Array.from(w.set);
    return encode(o);
  }

  static decode(bytes: Uint8Array | undefined, window: number): PushDedupe {
    const d = new PushDedupe(window);
    if (!bytes) return d;
    const o = decode(bytes) as Record<string, Float64Array>;
    for (const [worker, seqs] of Object.entries(o)) {
      const sorted = Array.from(seqs).sort((a, b) => a - b).slice(-window);
      for (const s of sorted) d.add(worker, s);
    }
    return d;
  }
}

// Splitting of messages larger than the transport's max payload, and their reassembly.
// NATS rejects a publish above max_payload (1 MiB by default); a delta of many rows can be
// larger, so it travels in numbered chunks and is rebuilt whole, never truncated.
import { PayloadTooLargeError } from '../errors.ts';

export interface ChunkHeader {
  id: string;
  part: number;
  parts: number;
}

export function splitIntoChunks(data: Uint8Array, maxBytes: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += maxBytes) out.push(data.subarray(off, Math.min(off + maxBytes, data.length)));
  return out;
}

interface Pending {
  parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  startedMs: number;
}

/** Rebuilds chunked messages. Bounded: at most maxPending at once and maxBytes per message. */
export class ChunkAssembler {
  private pending = new Map<string, Pending>();
  /** Assemblies dropped because they expired or overflowed the bounds. */
  dropped = 0;

  constructor(private readonly maxPending = 64, private readonly maxBytes = 256 * 1024 * 1024, private readonly expireMs = 30_000) {}

  /** Adds one chunk; returns the whole message when this chunk completes it. */
  add(h: ChunkHeader, data: Uint8Array, nowMs = Date.now()): Uint8Array | undefined {
    if (!(h.parts > 0 && h.part >= 0 && h.part < h.parts && h.parts < 1_000_000)) {
      this.dropped++;
      return undefined;
    }
    this.expire(nowMs);
    let p = this.pending.get(h.id);
    if (!p) {
      if (this.pending.size >= this.maxPending) {
        const oldest = this.pending.keys().next().value as string;
        this.pending.delete(oldest);
        this.dropped++;
      }
      p = { parts: new Array(h.parts), received: 0, bytes: 0, startedMs: nowMs };
      this.pending.set(h.id, p);
    }
    if (p.parts.length !== h.parts || p.parts[h.part]) return undefined;
    p.parts[h.part] = data.slice();
    p.received++;
    p.bytes += data.length;
    if (p.bytes > this.maxBytes) {
      this.pending.delete(h.id);
      this.dropped++;
      throw new PayloadTooLargeError(p.bytes, this.maxBytes);
    }
    if (p.received < h.parts) return undefined;
    this.pending.delete(h.id);
    const whole = new Uint8Array(p.bytes);
    let off = 0;
    for (const part of p.parts) { whole.set(part!, off); off += part!.length; }
    return whole;
  }

  private expire(nowMs: number): void {
    for (const [id, p] of this.pending) {
      if (nowMs - p.startedMs <= this.expireMs) break;
      this.pending.delete(id);
      this.dropped++;
    }
  }
}

// In-process transport: the embedded mode (one process, no servers) and unit tests.
// Delivery is asynchronous (a microtask), like a network hop, so code that works here does
// not depend on re-entrancy that NATS would never give it.
import { UnavailableError } from '../errors.ts';
import { subjectMatches, type Subscription, type Transport, type TransportMessage } from './types.ts';

interface Sub { pattern: string; handler: (m: TransportMessage) => void; queue?: string }

export class MemoryBus {
  readonly subs = new Set<Sub>();
  private rr = 0;

  deliver(subject: string, data: Uint8Array, respond?: (d: Uint8Array) => void): number {
    const groups = new Map<string, Sub[]>();
    let n = 0;
    for (const s of this.subs) {
      if (!subjectMatches(s.pattern, subject)) continue;
      if (s.queue) {
        const g = groups.get(s.queue) ?? [];
        g.push(s);
        groups.set(s.queue, g);
      } else {
        queueMicrotask(() => s.handler({ subject, data, respond }));
        n++;
      }
    }
    for (const g of groups.values()) {
      const s = g[this.rr++ % g.length];
      queueMicrotask(() => s.handler({ subject, data, respond }));
      n++;
    }
    return n;
  }
}

export class MemoryTransport implements Transport {
  readonly maxPayloadBytes = Number.MAX_SAFE_INTEGER;
  private readonly mine = new Set<Sub>();
  private closed = false;

  constructor(private readonly bus: MemoryBus) {}

  publish(subject: string, data: Uint8Array): void {
    if (!this.closed) this.bus.deliver(subject, data.slice());
  }

  subscribe(subject: string, handler: (m: TransportMessage) => void, opts: { queue?: string } = {}): Subscription {
    const s: Sub = { pattern: subject, handler, queue: opts.queue };
    this.bus.subs.add(s);
    this.mine.add(s);
    return { unsubscribe: () => { this.bus.subs.delete(s); this.mine.delete(s); } };
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new UnavailableError(`request to ${subject} timed out after ${timeoutMs} ms`)), timeoutMs);
      let answered = false;
      const n = this.bus.deliver(subject, data.slice(), (reply) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        resolve(reply);
      });
      if (n === 0) {
        clearTimeout(timer);
        reject(new UnavailableError(`no responders for ${subject}`));
      }
    });
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.mine) this.bus.subs.delete(s);
    this.mine.clear();
  }
}

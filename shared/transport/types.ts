// The messaging seam. Domain code (PS shard, worker, replica) talks to this interface; NATS
// implements it in production and an in-process bus in the embedded mode and unit tests.

export interface TransportMessage {
  subject: string;
  data: Uint8Array;
  /** Present when the sender awaits a reply. */
  respond?: (data: Uint8Array) => void;
}

export interface Subscription {
  unsubscribe(): void;
}

export interface Transport {
  /** Largest message the wire takes in one piece; larger ones are split into chunks. */
  readonly maxPayloadBytes: number;
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, handler: (m: TransportMessage) => void, opts?: { queue?: string }): Subscription;
  /** Sends and awaits one reply; rejects with UnavailableError on timeout or no responder. */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** NATS-style subject matching: `*` is one token, `>` the rest. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

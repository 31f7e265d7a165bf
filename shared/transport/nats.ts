// Transport over core NATS. Messages above max_payload are sent as chunks marked with a
// header and rebuilt by the subscriber (a request's reply goes to the last chunk's inbox).
import { connect, headers as natsHeaders, type ConnectionOptions, type Msg, type NatsConnection } from 'nats';
import { randomBytes } from 'node:crypto';
import { UnavailableError } from '../errors.ts';
import { ChunkAssembler, splitIntoChunks, type ChunkHeader } from './chunks.ts';
import type { Subscription, Transport, TransportMessage } from './types.ts';

const CHUNK_HEADER = 'Fw-Chunk';
/** Room left for headers and protocol overhead inside max_payload. */
const HEADER_ROOM_BYTES = 1024;

export async function connectNats(servers: string, name: string, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  // nats.js ignores user:pass in a URL; take them out and pass them as options.
  let user: string | undefined;
  let pass: string | undefined;
  const list = servers.split(',').map((s) => {
    const m = /^(\w+:\/\/)?([^:@/]+):([^@/]*)@(.+)$/.exec(s.trim());
    if (!m) return s.trim();
    user = decodeURIComponent(m[2]);
    pass = decodeURIComponent(m[3]);
    return `${m[1] ?? ''}${m[4]}`;
  });
  try {
    return await connect({
      servers: list, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: false,
      ...(user !== undefined ? { user, pass } : {}), ...extra,
    });
  } catch (err) {
    throw new UnavailableError(`cannot connect to NATS at ${list.join(',')}: ${(err as Error).message}`, err);
  }
}

export class NatsTransport implements Transport {
  readonly maxPayloadBytes: number;
  private readonly assembler = new ChunkAssembler();

  constructor(readonly nc: NatsConnection, maxPayloadOverride?: number) {
    this.maxPayloadBytes = maxPayloadOverride ?? nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Chunks dropped by reassembly (expired, overflowed): exported as a metric. */
  get droppedChunks(): number {
    return this.assembler.dropped;
  }

  private get chunkBytes(): number {
    return Math.max(1024, this.maxPayloadBytes - HEADER_ROOM_BYTES);
  }

  publish(subject: string, data: Uint8Array): void {
    if (data.length <= this.chunkBytes) {
      this.nc.publish(subject, data);
      return;
    }
    this.publishChunks(subject, data, false);
  }

  private publishChunks(subject: string, data: Uint8Array, holdLast: boolean): { last: Uint8Array; header: ChunkHeader } {
    const chunks = splitIntoChunks(data, this.chunkBytes);
    const id = randomBytes(8).toString('hex');
    const n = chunks.length;
    const upto = holdLast ? n - 1 : n;
    for (let i = 0; i < upto; i++) this.nc.publish(subject, chunks[i], { headers: chunkHeaders({ id, part: i, parts: n }) });
    return { last: chunks[n - 1], header: { id, part: n - 1, parts: n } };
  }

  subscribe(subject: string, handler: (m: TransportMessage) => void, opts: { queue?: string } = {}): Subscription {
    const sub = this.nc.subscribe(subject, {
      queue: opts.queue,
      callback: (err, msg) => {
        if (err) return;
        const whole = this.reassemble(msg);
        if (!whole) return;
        handler({
          subject: msg.subject,
          data: whole,
          respond: msg.reply ? (d: Uint8Array) => { this.respond(msg, d); } : undefined,
        });
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  private reassemble(msg: Msg): Uint8Array | undefined {
    const h = msg.headers?.get(CHUNK_HEADER);
    if (!h) return msg.data;
    const [id, part, parts] = h.split('/');
    return this.assembler.add({ id, part: Number(part), parts: Number(parts) }, msg.data);
  }

  private respond(msg: Msg, data: Uint8Array): void {
    if (data.length <= this.chunkBytes) msg.respond(data);
    else if (msg.reply) this.publish(msg.reply, data);
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      if (data.length <= this.chunkBytes) {
        const reply = await this.nc.request(subject, data, { timeout: timeoutMs });
        return this.replyData(reply);
      }
      const { last, header } = this.publishChunks(subject, data, true);
      const reply = await this.nc.request(subject, last, { timeout: timeoutMs, headers: chunkHeaders(header) });
      return this.replyData(reply);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`request to ${subject} failed: ${(err as Error).message}`, err);
    }
  }

  private replyData(reply: Msg): Uint8Array {
    if (reply.headers?.get(CHUNK_HEADER)) throw new UnavailableError('chunked replies are not supported');
    return reply.data;
  }

  async flush(): Promise<void> {
    await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}

function chunkHeaders(h: ChunkHeader) {
  const hs = natsHeaders();
  hs.set(CHUNK_HEADER, `${h.id}/${h.part}/${h.parts}`);
  return hs;
}

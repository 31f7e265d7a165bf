// Transport over core NATS. Messages above max_payload are sent as chunks marked with a
// header and rebuilt by the subscriber (a request's reply goes to the last chunk's inbox).
import {
  connect, credsAuthenticator, headers as natsHeaders, nkeyAuthenticator,
  type Authenticator, type ConnectionOptions, type Msg, type NatsConnection,
} from 'nats';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readEnv } from '../env.ts';
import { ConfigError, UnavailableError } from '../errors.ts';
import { ChunkAssembler, splitIntoChunks, type ChunkHeader } from './chunks.ts';
import type { Subscription, Transport, TransportMessage } from './types.ts';

const CHUNK_HEADER = 'Fw-Chunk';
/** Room left for headers and protocol overhead inside max_payload. */
const HEADER_ROOM_BYTES = 1024;

/** How a client proves who it is to NATS and checks the server. Secrets stay in here: never logged. */
export interface NatsSecurity {
  /** User and password (a password user of the server config). Default: from the URL, else none. */
  user?: string;
  pass?: string;
  /** Authorization token. Default none. */
  token?: string;
  /** File holding the user's nkey seed (a line starting "SU"). Default none. */
  nkeySeedFile?: string;
  /** JWT credentials file (operator/account mode). Default none. */
  credsFile?: string;
  /** TLS: CA bundle that signed the server's certificate; client certificate and key for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/**
 * Reads FLYWHEEL_NATS_USER, FLYWHEEL_NATS_PASSWORD (or _PASS), FLYWHEEL_NATS_TOKEN,
 * FLYWHEEL_NATS_NKEY_SEED_FILE, FLYWHEEL_NATS_CREDS_FILE and FLYWHEEL_NATS_TLS_CA / _CERT / _KEY.
 */
export function natsSecurityFromEnv(env: NodeJS.ProcessEnv = process.env): NatsSecurity {
  const e = readEnv(env).nats;
  const tls = { caFile: e.tlsCa, certFile: e.tlsCert, keyFile: e.tlsKey };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ConfigError('FLYWHEEL_NATS_TLS_CERT', 'a client certificate needs its key (FLYWHEEL_NATS_TLS_KEY), and the other way round');
  }
  return {
    user: e.user, pass: e.password, token: e.token, nkeySeedFile: e.nkeySeedFile, credsFile: e.credsFile,
    tls: tls.caFile || tls.certFile ? tls : undefined,
  };
}

/** Hides credentials in a URL before it goes into a message or a log. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//***@');
}

function readSecretFile(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    // The path and the errno only: never the content.
    throw new ConfigError(option, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function authOptions(sec: NatsSecurity): Partial<ConnectionOptions> {
  const out: Partial<ConnectionOptions> = {};
  if (sec.user !== undefined) Object.assign(out, { user: sec.user, pass: sec.pass ?? '' });
  if (sec.token !== undefined) out.token = sec.token;
  const auth: Authenticator[] = [];
  if (sec.nkeySeedFile) {
    const seed = readSecretFile(sec.nkeySeedFile, 'FLYWHEEL_NATS_NKEY_SEED_FILE').trim();
    if (!/^SU[A-Z2-7]{50,}$/.test(seed)) throw new ConfigError('FLYWHEEL_NATS_NKEY_SEED_FILE', `${sec.nkeySeedFile} does not hold a user nkey seed (one line starting with SU)`);
    auth.push(nkeyAuthenticator(new TextEncoder().encode(seed)));
  }
  if (sec.credsFile) auth.push(credsAuthenticator(new TextEncoder().encode(readSecretFile(sec.credsFile, 'FLYWHEEL_NATS_CREDS_FILE'))));
  if (auth.length) out.authenticator = auth.length === 1 ? auth[0] : auth;
  if (sec.tls) {
    for (const [k, f] of Object.entries(sec.tls)) if (f) readSecretFile(f, `FLYWHEEL_NATS_TLS_${k === 'caFile' ? 'CA' : k === 'certFile' ? 'CERT' : 'KEY'}`);
    out.tls = { ...sec.tls };
  }
  return out;
}

/**
 * Connects to NATS. Credentials come from the URL (nats://user:pass@host, percent-encoded),
 * else from `security` (default: natsSecurityFromEnv()); `extra` overrides any option.
 */
export async function connectNats(
  servers: string, name: string, extra: Partial<ConnectionOptions> = {}, security: NatsSecurity = natsSecurityFromEnv(),
): Promise<NatsConnection> {
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
  const where = redactUrl(list.join(','));
  const auth = authOptions(user !== undefined ? { ...security, user, pass } : security);
  try {
    return await connect({
      servers: list, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: false, ...auth, ...extra,
    });
  } catch (err) {
    const msg = (err as Error).message;
    const p = auth.pass ? String(auth.pass) : '';
    throw new UnavailableError(`cannot connect to NATS at ${where}: ${p ? msg.split(p).join('***') : msg}`, err);
  }
}

export class NatsTransport implements Transport {
  readonly maxPayloadBytes: number;
  private readonly assembler = new ChunkAssembler();

  /** Whether the connection is up now (false between a disconnect and the reconnect). */
  connected = true;

  constructor(readonly nc: NatsConnection, maxPayloadOverride?: number) {
    this.maxPayloadBytes = maxPayloadOverride ?? nc.info?.max_payload ?? 1024 * 1024;
    void this.followStatus();
  }

  private async followStatus(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        else if (s.type === 'reconnect') this.connected = true;
      }
    } catch {
      // The status stream ends with the connection; isClosed() says so from then on.
    }
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

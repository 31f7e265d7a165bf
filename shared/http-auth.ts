// Who may call a route: API tokens, read from the environment (FLYWHEEL_API_TOKENS,
// FLYWHEEL_API_TOKENS_FILE), sent as `Authorization: Bearer <token>` or `X-Api-Key: <token>`,
// and the rule of which routes need one (http.auth, http.authRoutes in the config). The HTTP
// server (shared/http.ts) asks `allows(req)` before it reads a body, so a refused request
// costs no memory and changes no state.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { readEnv, type FlywheelEnv } from './env.ts';
import { ConfigError } from './errors.ts';

/** auto: tokens on protected routes when the server binds outside loopback; required: always; off: never. */
export type AuthMode = 'auto' | 'required' | 'off';
/** writes: every POST/PUT/PATCH/DELETE that is not a query; all: also reads and /metrics (never /healthz, /readyz). */
export type AuthRoutes = 'writes' | 'all';

export const AUTH_MODES = ['auto', 'required', 'off'] as const;
export const AUTH_ROUTES = ['writes', 'all'] as const;

/** Shorter tokens are refused at start: a guessable token protects nothing. */
export const MIN_TOKEN_LENGTH = 16;
const TOKEN = /^[\x21-\x7e]+$/;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * The accepted tokens, kept only as SHA-256 digests: comparing digests of equal length with
 * timingSafeEqual tells an attacker nothing by timing, not even a token's length, and the
 * tokens themselves are never held where a log line or a heap dump could show them.
 */
export class ApiTokens {
  private readonly digests: Buffer[];
  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }
  get size(): number { return this.digests.length; }
  /** Whether `token` is one of them; every digest is compared, whatever matches first. */
  matches(token: string): boolean {
    const d = digest(token);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(d, known) || ok;
    return ok;
  }
}

/**
 * Checks tokens as read from `source` (a variable's name): printable ASCII without spaces or
 * commas, at least MIN_TOKEN_LENGTH long. The error names the variable and the token's position,
 * never the token.
 */
function checked(tokens: string[], source: string): string[] {
  tokens.forEach((tok, i) => {
    if (!TOKEN.test(tok) || tok.includes(',')) throw new ConfigError(source, `token ${i + 1} holds a character other than printable ASCII (no spaces or commas)`);
    if (tok.length < MIN_TOKEN_LENGTH) throw new ConfigError(source, `token ${i + 1} is shorter than ${MIN_TOKEN_LENGTH} characters (new one: openssl rand -hex 24)`);
  });
  return tokens;
}

/** The tokens of FLYWHEEL_API_TOKENS (comma-separated) and FLYWHEEL_API_TOKENS_FILE (one a line, # comments). */
export function loadApiTokens(env: FlywheelEnv = readEnv()): ApiTokens {
  const out: string[] = [];
  if (env.apiTokens) out.push(...checked(env.apiTokens.split(',').map((s) => s.trim()).filter(Boolean), 'FLYWHEEL_API_TOKENS'));
  if (env.apiTokensFile) {
    let text: string;
    try {
      text = readFileSync(env.apiTokensFile, 'utf8');
    } catch (err) {
      throw new ConfigError('FLYWHEEL_API_TOKENS_FILE', `cannot read ${env.apiTokensFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const lines = text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s && !s.startsWith('#'));
    out.push(...checked(lines, 'FLYWHEEL_API_TOKENS_FILE'));
  }
  return new ApiTokens(out);
}

/** Loopback addresses: a server bound to one can be reached only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The tokens a request presents: the credentials of `Authorization: Bearer <token>` (the
 * scheme is case-insensitive, RFC 7235) and `X-Api-Key`. Another scheme (Basic, Token) or a
 * bare token in Authorization presents nothing.
 */
export function presentedTokens(req: Pick<IncomingMessage, 'headers'>): string[] {
  const out: string[] = [];
  const auth = req.headers.authorization;
  const m = auth ? /^Bearer +(\S+) *$/i.exec(auth) : null;
  if (m) out.push(m[1]);
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key.trim()) out.push(key.trim());
  return out;
}

export interface HttpAuthOptions {
  /** Default auto. */
  mode?: AuthMode;
  /** Default writes. */
  routes?: AuthRoutes;
  /** Default: loadApiTokens() of the environment, read only when a route needs a token. */
  tokens?: ApiTokens;
}

/** What a server decided at start: whether its protected routes need a token, and the check. */
export interface HttpAuth {
  /** Whether `key` ("METHOD /path", or "GET /metrics") needs a token on this server. */
  protects(key: string): boolean;
  /** Whether the request carries one of the tokens. */
  allows(req: Pick<IncomingMessage, 'headers'>): boolean;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Decides, once at start, which of a server's routes need a token. `keys` are the routes it
 * serves, `queries` those of them that take a body but only read (inference's POST /v1/predict
 * and the like). Throws, naming the variables to set, when some route needs a token and none
 * is configured: a server that would refuse every write is a broken deployment, better caught
 * at start than at the first request. Warns (once) when auth is off on a non-loopback bind.
 */
export function resolveHttpAuth(o: HttpAuthOptions | undefined, host: string, keys: readonly string[], queries: readonly string[] = [], warn: (msg: string) => void = (m) => process.emitWarning(m)): HttpAuth {
  const mode = o?.mode ?? 'auto';
  const routes = o?.routes ?? 'writes';
  const reads = new Set(queries);
  const isProtected = (key: string): boolean => {
    if (key === 'GET /healthz' || key === 'GET /readyz') return false; // probes carry no credentials
    if (routes === 'all') return key !== 'GET /openapi.json';
    const method = key.split(' ')[0];
    return WRITE_METHODS.has(method) && !reads.has(key);
  };
  const guarded = keys.filter(isProtected);
  const loopback = isLoopbackHost(host);
  const on = guarded.length > 0 && (mode === 'required' || (mode === 'auto' && !loopback));
  if (mode === 'off' && !loopback && guarded.length > 0) {
    warn(`http.auth is off on a server bound to ${host}: anyone who reaches it may call ${guarded.join(', ')}`);
  }
  if (!on) return { protects: () => false, allows: () => true };
  const tokens = o?.tokens ?? loadApiTokens();
  if (tokens.size === 0) {
    throw new ConfigError('http.auth', `${mode === 'auto' ? `auto, and the server binds ${host} (not loopback),` : mode} so ${guarded.join(', ')} need an API token, but none is configured: set FLYWHEEL_API_TOKENS (comma-separated) or FLYWHEEL_API_TOKENS_FILE (one a line)`);
  }
  return {
    protects: isProtected,
    allows: (req) => presentedTokens(req).some((tok) => tokens.matches(tok)),
  };
}

/** The auth options of a service's config. */
export function httpAuthOf(cfg: { http: { auth: AuthMode; authRoutes: AuthRoutes } }): HttpAuthOptions {
  return { mode: cfg.http.auth, routes: cfg.http.authRoutes };
}

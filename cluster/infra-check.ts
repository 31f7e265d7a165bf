// Makes sure NATS (with JetStream) and Redis are there for a local run: uses them when they
// answer, otherwise runs scripts/ensure-services.sh (which starts or installs them), and
// reports when they still cannot be had so the caller can fall back to the embedded mode.
import { spawnSync } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.ts';

export function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url.includes('://') ? url.split(',')[0] : `x://${url.split(',')[0]}`);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port) || defaultPort };
}

export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function ensureServices(natsUrl: string, redisUrl: string, say: (m: string) => void): Promise<boolean> {
  const nats = hostPort(natsUrl, 4222);
  const redis = hostPort(redisUrl, 6379);
  if (await tcpReachable(nats.host, nats.port) && await tcpReachable(redis.host, redis.port)) return true;
  say('NATS or Redis is not running: starting them (scripts/ensure-services.sh)');
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'ensure-services.sh')], { stdio: 'inherit', timeout: 300_000 });
  if (r.status !== 0) return false;
  return await tcpReachable(nats.host, nats.port) && await tcpReachable(redis.host, redis.port);
}

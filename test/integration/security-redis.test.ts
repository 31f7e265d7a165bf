// Redis security against a temporary redis-server (free port, no persistence, stopped in
// teardown): an ACL user with the default user off; RedisShardStore works with the right
// credentials, fails with a clear UnavailableError (no password in it) with wrong ones; and
// TLS with our own CA through rediss:// and FLYWHEEL_REDIS_TLS_CA (skipped without openssl).
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, RedisShardStore, UnavailableError, waitFor } from '../../shared/index.ts';
import { hasOpenssl, makePki } from '../helpers/pki.ts';
import { freePort } from '../../cluster/local-cluster.ts';

const REDIS = '/usr/bin/redis-server';
const ACL = ['--user', 'default', 'off', '--user', 'flywheel', 'on', '>s3cret-pw', '~fw:*', '+@all'];

async function startRedis(t: { teardown(f: () => void): void }, args: string[]): Promise<void> {
  const p = spawn(REDIS, ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => { out += d; });
  t.teardown(() => { p.kill('SIGTERM'); });
  await waitFor(() => p.exitCode !== null || /Ready to accept connections/.test(out), 10_000, 'redis-server ready');
  if (p.exitCode !== null) throw new Error(`redis-server exited: ${out.slice(-500)}`);
}

const write = { meta: { version: 3, epoch: 1, newestAcceptedAtMs: 0 }, dense: [{ name: 'd', weights: new Float32Array([1, 2]) }], sparse: [], full: true };

t.test('an ACL user: right credentials work, wrong ones fail clearly without the password', async (t) => {
  const port = await freePort();
  await startRedis(t, ['--port', String(port), ...ACL]);
  const good = new RedisShardStore(connectRedis(`redis://flywheel:s3cret-pw@127.0.0.1:${port}`, {}, {}));
  t.teardown(() => good.close());
  await good.write('sec', 0, write);
  t.equal((await good.read('sec', 0, [], false))?.meta.version, 3, 'write and read back with the URL credentials');
  const viaEnv = new RedisShardStore(connectRedis(`redis://127.0.0.1:${port}`, {}, { FLYWHEEL_REDIS_USER: 'flywheel', FLYWHEEL_REDIS_PASSWORD: 's3cret-pw' }));
  t.teardown(() => viaEnv.close());
  t.equal((await viaEnv.read('sec', 0, [], false))?.meta.version, 3, 'and with FLYWHEEL_REDIS_USER / FLYWHEEL_REDIS_PASSWORD');
  for (const [what, url] of [['wrong password', `redis://flywheel:wrong-pw-123@127.0.0.1:${port}`], ['no credentials (default user off)', `redis://127.0.0.1:${port}`]]) {
    const redis = connectRedis(url, {}, {});
    redis.on('error', () => undefined);
    const bad = new RedisShardStore(redis);
    const err = await bad.read('sec', 0, [], false).then(() => undefined, (e: Error) => e);
    redis.disconnect();
    t.ok(err instanceof UnavailableError, `${what}: UnavailableError (${err?.message})`);
    t.match(err?.message ?? '', /WRONGPASS|NOAUTH/, `${what}: says why`);
    t.notMatch(err?.message ?? '', /wrong-pw-123|s3cret-pw/, `${what}: no password in the message`);
  }
  const outside = await good.redis.set('other:key', '1').then(() => 'allowed', (e: Error) => e.message);
  t.match(outside, /NOPERM/, 'the ACL keeps the user to fw:* keys');
});

t.test('TLS with our own CA', { skip: hasOpenssl() ? false : 'openssl is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-redis-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir);
  const port = await freePort();
  await startRedis(t, ['--port', '0', '--tls-port', String(port), '--tls-cert-file', pki.cert, '--tls-key-file', pki.key, '--tls-ca-cert-file', pki.ca, '--tls-auth-clients', 'no', ...ACL]);
  const store = new RedisShardStore(connectRedis(`rediss://flywheel:s3cret-pw@127.0.0.1:${port}`, {}, { FLYWHEEL_REDIS_TLS_CA: pki.ca }));
  t.teardown(() => store.close());
  await store.write('sec', 0, write);
  t.equal((await store.read('sec', 0, [], false))?.meta.version, 3, 'rediss:// with the CA from FLYWHEEL_REDIS_TLS_CA');
  const noCa = connectRedis(`rediss://flywheel:s3cret-pw@127.0.0.1:${port}`, { maxRetriesPerRequest: 0, retryStrategy: () => null }, {});
  noCa.on('error', () => undefined);
  const err = await new RedisShardStore(noCa).read('sec', 0, [], false).then(() => undefined, (e: Error) => e);
  noCa.disconnect();
  t.ok(err instanceof UnavailableError, `without the CA the server is not trusted: ${err?.message}`);
});




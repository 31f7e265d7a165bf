// NATS security against a temporary nats-server (free port, temp dir, stopped in teardown)
// running deploy/nats/flywheel-nats.conf with test passwords and the ps user switched to an
// nkey: per-role permissions hold, a wrong password is refused without echoing it, an nkey
// seed file works through connectNats, and TLS with our own CA works (skipped without openssl).
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from 'nkeys.js';
import type { NatsConnection } from 'nats';
import { Deferred, connectNats, natsSecurityFromEnv, waitFor } from '../../shared/index.ts';
import { hasOpenssl, makePki } from '../helpers/pki.ts';
import { freePort } from '../../cluster/local-cluster.ts';

const NATS = '/usr/sbin/nats-server';
const PASSWORDS = { WORKER: 'w-secret-1', INFERENCE: 'i-secret-2', INGEST: 'g-secret-3', ADMIN: 'a-secret-4', PS: 'unused', VALIDATOR: 'v-secret-5', DASHBOARD: 'd-secret-6' };


const canConnect = (port: number) => new Promise<boolean>((r) => {
  const c = tcpConnect(port, '127.0.0.1', () => { c.destroy(); r(true); });
  c.on('error', () => r(false));
});

/** Starts nats-server on `conf`; stopped (by its own pid) in teardown. */
async function startNats(t: { teardown(f: () => void): void }, conf: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const p = spawn(NATS, ['-c', conf], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d) => { stderr += d; });
  t.teardown(() => { p.kill('SIGTERM'); });
  await waitFor(async () => p.exitCode !== null || await canConnect(port), 10_000, 'nats-server listening');
  if (p.exitCode !== null) throw new Error(`nats-server exited: ${stderr.slice(-500)}`);
  return p;
}

/** The deploy config, made local: loopback port, no monitor port, temp store, ps by nkey. */
function deriveConfig(dir: string, port: number, psNkey: string): string {
  let c = readFileSync(new URL('../../deploy/nats/flywheel-nats.conf', import.meta.url), 'utf8');
  const swaps: [RegExp, string][] = [
    [/^listen: .*$/m, `listen: 127.0.0.1:${port}`],
    [/^http: .*$/m, ''],
    [/store_dir: ".*"/, `store_dir: "${join(dir, 'js')}"`],
    [/max_file_store: .*$/m, 'max_file_store: 64MB'],
    [/user: ps\s+password: \$FLYWHEEL_NATS_PS_PASSWORD/, `nkey: ${psNkey}`],
  ];
  for (const [re, to] of swaps) {
    if (!re.test(c)) throw new Error(`deploy config changed: ${re} not found`);
    c = c.replace(re, to);
  }
  const file = join(dir, 'nats.conf');
  writeFileSync(file, c);
  return file;
}

const env = (user: string, pass: string): NodeJS.ProcessEnv => ({ FLYWHEEL_NATS_USER: user, FLYWHEEL_NATS_PASSWORD: pass });

/** Resolves with the first permissions violation the server reports to this connection. */
function violation(nc: NatsConnection): Promise<string> {
  const d = new Deferred<string>();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && /permissions violation/i.test(String(s.data))) d.resolve(String(s.data));
      const ctx = (s as { permissionContext?: { subject: string } }).permissionContext;
      if (ctx) d.resolve(`permissions violation for ${ctx.subject}`);
    }
  })();
  return d.promise;
}

t.test('per-role users from deploy/nats/flywheel-nats.conf', { skip: existsSync(NATS) ? false : `${NATS} missing` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-nats-sec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const ps = createUser();
  const seedFile = join(dir, 'ps.nk');
  writeFileSync(seedFile, new TextDecoder().decode(ps.getSeed()), { mode: 0o600 });
  await startNats(t, deriveConfig(dir, port, ps.getPublicKey()), port, Object.fromEntries(Object.entries(PASSWORDS).map(([k, v]) => [`FLYWHEEL_NATS_${k}_PASSWORD`, v])));
  const url = `nats://127.0.0.1:${port}`;
  const model = 'sec';
  const open = async (name: string, e: NodeJS.ProcessEnv) => {
    const nc = await connectNats(url, name, { maxReconnectAttempts: 0 }, natsSecurityFromEnv(e));
    t.teardown(() => nc.close());
    return nc;
  };
  const psNc = await open('ps', { FLYWHEEL_NATS_NKEY_SEED_FILE: seedFile });
  const worker = await open('worker', env('worker', PASSWORDS.WORKER));
  const inference = await open('inference', env('inference', PASSWORDS.INFERENCE));
  t.pass('ps connected with its nkey seed file, worker and inference with passwords');

  // The ps shard answers pushes; a worker may send them.
  const pushesSeen: string[] = [];
  psNc.subscribe(`fw.${model}.ps.0.push`, { callback: (_e, m) => { pushesSeen.push(new TextDecoder().decode(m.data)); m.respond(new TextEncoder().encode('ack')); } });
  // Inference follows the weights.
  const weightsSeen: string[] = [];
  const sentinel = new Deferred();
  inference.subscribe(`fw.${model}.weights.0`, { callback: (_e, m) => { const s = new TextDecoder().decode(m.data); weightsSeen.push(s); if (s === 'from-ps') sentinel.resolve(); } });
  await Promise.all([psNc.flush(), inference.flush()]);
  const reply = await worker.request(`fw.${model}.ps.0.push`, new TextEncoder().encode('from-worker'), { timeout: 3000 });
  t.equal(new TextDecoder().decode(reply.data), 'ack', 'a worker CAN publish a push request and gets the reply');

  const workerDenied = violation(worker);
  worker.publish(`fw.${model}.weights.0`, new TextEncoder().encode('forged-by-worker'));
  t.match(await workerDenied, /permissions violation/i, 'a worker CANNOT publish a weight delta: the server reports a permissions violation');
  await worker.flush();
  psNc.publish(`fw.${model}.weights.0`, new TextEncoder().encode('from-ps'));
  await sentinel.promise;
  t.same(weightsSeen, ['from-ps'], 'the weights subscriber got the ps delta and never the forged one');

  const inferenceDenied = violation(inference);
  inference.publish(`fw.${model}.ps.0.push`, new TextEncoder().encode('from-inference'));
  t.match(await inferenceDenied, /permissions violation/i, 'an inference user cannot publish pushes');
  await inference.flush();
  await worker.request(`fw.${model}.ps.0.push`, new TextEncoder().encode('from-worker-2'), { timeout: 3000 });
  t.same(pushesSeen, ['from-worker', 'from-worker-2'], 'the ps shard never saw the inference push');

  const err = await connectNats(url, 'intruder', { maxReconnectAttempts: 0 }, { user: 'worker', pass: 'not-the-password-xyz' }).catch((e: Error) => e);
  t.ok(err instanceof Error && err.name === 'UnavailableError', `a wrong password is refused: ${(err as Error).message}`);
  t.match((err as Error).message, /authorization/i, 'with the server\'s reason');
  t.notMatch((err as Error).message, /not-the-password-xyz/, 'and without the password in the message');
  const viaUrl = await connectNats(`nats://worker:${encodeURIComponent('wrong pw')}@127.0.0.1:${port}`, 'intruder2', { maxReconnectAttempts: 0 }, {}).catch((e: Error) => e);
  t.notMatch((viaUrl as Error).message, /wrong pw|wrong%20pw/, 'URL credentials are not echoed either');
});

t.test('TLS with our own CA', { skip: !existsSync(NATS) ? `${NATS} missing` : hasOpenssl() ? false : 'openssl is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-nats-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir);
  const port = await freePort();
  const conf = join(dir, 'tls.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${port}\ntls {\n  cert_file: "${pki.cert}"\n  key_file: "${pki.key}"\n  ca_file: "${pki.ca}"\n  timeout: 2\n}\n`);
  await startNats(t, conf, port);
  const nc = await connectNats(`nats://127.0.0.1:${port}`, 'tls', { maxReconnectAttempts: 0 }, natsSecurityFromEnv({ FLYWHEEL_NATS_TLS_CA: pki.ca }));
  t.teardown(() => nc.close());
  await nc.flush();
  t.pass('connected over TLS, server verified with the CA from FLYWHEEL_NATS_TLS_CA');
  const noCa = await connectNats(`nats://127.0.0.1:${port}`, 'tls-no-ca', { maxReconnectAttempts: 0 }, { tls: {} }).catch((e: Error) => e);
  t.ok(noCa instanceof Error, `without the CA the self-signed server is refused: ${(noCa as Error).message}`);
});



// NATS security against a temporary nats-server (free port, temp dir, stopped in teardown)
// running deploy/nats/flywheel-nats.conf with test passwords and the ps user switched to an
// nkey: per-role permissions hold, a wrong password is refused without echoing it, an nkey
// seed file works through connectNats, only admin creates streams (ingest and workers cannot
// create one capturing the PS pushes; `flywheel streams ensure` as admin makes what they need),
// and TLS with our own CA works (skipped without openssl).
import t from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from 'nkeys.js';
import { promisify } from 'node:util';
import { RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import {
  Deferred, JetStreamEventLog, JetStreamLedger, connectNats, consumerName, eventLogOptions, natsSecurityFromEnv, streamName, validateConfig, waitFor,
} from '../../shared/index.ts';
import { REPO_ROOT } from '../../cluster/processes.ts';
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

t.test('only admin creates streams: ingest and workers cannot capture the PS pushes; `flywheel streams ensure` makes what they need', { skip: existsSync(NATS) ? false : `${NATS} missing` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-nats-streams-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const ps = createUser();
  const seedFile = join(dir, 'ps.nk');
  writeFileSync(seedFile, new TextDecoder().decode(ps.getSeed()), { mode: 0o600 });
  await startNats(t, deriveConfig(dir, port, ps.getPublicKey()), port, Object.fromEntries(Object.entries(PASSWORDS).map(([k, v]) => [`FLYWHEEL_NATS_${k}_PASSWORD`, v])));
  const url = `nats://127.0.0.1:${port}`;
  const open = async (name: string, e: NodeJS.ProcessEnv) => {
    const nc = await connectNats(url, name, { maxReconnectAttempts: 0 }, natsSecurityFromEnv(e));
    t.teardown(() => nc.close());
    return nc;
  };
  const ingest = await open('ingest', env('ingest', PASSWORDS.INGEST));
  const worker = await open('worker', env('worker', PASSWORDS.WORKER));
  const admin = await open('admin', env('admin', PASSWORDS.ADMIN));
  const adminJsm = await admin.jetstreamManager();
  const cfg = validateConfig({ model: 'sec', eventShards: 2, natsUrl: url });
  const events = streamName(cfg.stream);
  const captures = (subject: string) => adminJsm.streams.find(subject).then((name) => name, () => null);

  // The attack: a stream capturing every PS push (fw.<model>.ps.*.push), under any name,
  // also the events stream's own name (not created yet), and a stream of all of fw.>.
  const hijacks = [
    { name: 'FW_HIJACK', subjects: [`fw.${cfg.model}.ps.*.push`] },
    { name: events, subjects: [`fw.${cfg.model}.ps.*.push`] },
    { name: 'FW_ALL', subjects: ['fw.>'] },
  ];
  for (const [who, nc] of [['ingest', ingest], ['worker', worker]] as const) {
    const jsm = await nc.jetstreamManager();
    for (const h of hijacks) {
      const err = await jsm.streams.add({ ...h, retention: RetentionPolicy.Workqueue, storage: StorageType.Memory }).then(() => null, (e: Error & { code?: string }) => e);
      t.ok(err, `${who} CANNOT create stream ${h.name} on ${h.subjects.join(', ')}`);
      t.match(`${err?.code} ${err?.message}`, /PERMISSIONS_VIOLATION|permissions violation/i, `${who}: refused as a permissions violation (${err?.code})`);
    }
  }
  t.equal(await captures(`fw.${cfg.model}.ps.0.push`), null, 'no stream captures fw.sec.ps.0.push');
  t.same((await adminJsm.streams.names().next()), [], 'no stream was created at all');

  // ensure() as ingest: the stream is missing and may not be created: a clear error, at once...
  const ingestLog = (waitMs: number) => new JetStreamEventLog(ingest, { ...eventLogOptions(cfg), missingStreamWaitMs: waitMs });
  await t.rejects(ingestLog(0).ensure(), { name: 'UnavailableError', message: /the events stream FW_sec_EVENTS does not exist and this NATS user may not create it: run `flywheel streams ensure/ },
    'ingest ensure(): the stream is missing and this user may not create it: run `flywheel streams ensure` as admin');
  // ...or, told to wait, it waits for the admin step.
  const warnings: string[] = [];
  const waiting = new JetStreamEventLog(ingest, { ...eventLogOptions(cfg), missingStreamWaitMs: 30_000, onWarning: (m) => warnings.push(m) }).ensure();
  await waitFor(async () => warnings.length > 0, 5_000, 'the waiting ensure() warns');
  t.match(warnings[0], /does not exist and this NATS user may not create it.*waiting up to 30 s/, 'the waiting ensure() says what it waits for');

  // The admin step: the `flywheel` command, as the admin user, on the config.
  const cfgFile = join(dir, 'flywheel.json');
  writeFileSync(cfgFile, JSON.stringify({ model: cfg.model, eventShards: cfg.eventShards }));
  const run = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.mjs'), 'streams', 'ensure', '--config', cfgFile], {
    cwd: REPO_ROOT, env: { ...process.env, FLYWHEEL_NATS_URL: `nats://admin:${PASSWORDS.ADMIN}@127.0.0.1:${port}`, FLYWHEEL_LOG_LEVEL: 'warn' }, timeout: 60_000,
  });
  const report = JSON.parse(run.stdout.trim().split('\n').pop()!) as { created: string[]; existed: string[] };
  t.same(report.created.sort(), [events, `${events}/${consumerName(cfg.model, 0)}`, `${events}/${consumerName(cfg.model, 1)}`, 'KV_fw_ps_ledger', 'KV_fw_ps_rewinds'].sort(),
    'streams ensure created the events stream, both consumers and the two PS buckets');
  const info = await adminJsm.streams.info(events);
  t.same(info.config.subjects, [`fw.${cfg.model}.events.>`], 'the events stream captures the events only');
  await waiting;
  t.pass('the waiting ingest ensure() went on once the stream existed');
  const again = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.mjs'), 'streams', 'ensure', '--config', cfgFile], {
    cwd: REPO_ROOT, env: { ...process.env, FLYWHEEL_NATS_URL: `nats://admin:${PASSWORDS.ADMIN}@127.0.0.1:${port}`, FLYWHEEL_LOG_LEVEL: 'warn' }, timeout: 60_000,
  });
  t.same((JSON.parse(again.stdout.trim()) as { created: string[] }).created, [], 'run again, it creates nothing (idempotent)');

  // Now the stream exists: ingest still may not alter it (take in the pushes) or add a capturing one.
  const ingestJsm = await ingest.jetstreamManager();
  const alter = await ingestJsm.streams.update(events, { subjects: [`fw.${cfg.model}.events.>`, `fw.${cfg.model}.ps.*.push`] }).then(() => null, (e: Error & { code?: string }) => e);
  t.match(`${alter?.code} ${alter?.message}`, /PERMISSIONS_VIOLATION|permissions violation/i, 'ingest CANNOT add fw.sec.ps.*.push to the events stream');
  t.equal(await captures(`fw.${cfg.model}.ps.0.push`), null, 'still no stream captures the pushes');

  // What the roles do every day still works: ingest publishes (JetStream ack), a worker consumes and acks.
  const log = ingestLog(0);
  await log.ensure();
  const data = (s: string) => new TextEncoder().encode(s);
  await log.publish(0, data('event-1'), 'msg-1');
  await log.publish(0, data('event-of-forgotten-user'), 'msg-2');
  const workerLog = new JetStreamEventLog(worker, { ...eventLogOptions(cfg), missingStreamWaitMs: 0 });
  await workerLog.ensure();
  const got: string[] = [];
  const all = new Deferred();
  const consumer = await workerLog.consume(0, (m) => { got.push(new TextDecoder().decode(m.data)); m.ack(); if (got.length === 2) all.resolve(); }, 10);
  await all.promise;
  await consumer.stop();
  t.same(got, ['event-1', 'event-of-forgotten-user'], 'a worker consumed what ingest published');
  await waitFor(async () => (await adminJsm.consumers.info(events, consumerName(cfg.model, 0))).ack_floor.stream_seq === 2, 5_000, 'the acks reach the server');
  t.pass('and its acks moved the consumer\'s ack floor');
  // DELETE /v1/users/{id}: ingest reads a shard back with its own reader and deletes the user's messages.
  const erased = await log.erase(0, (d) => (new TextDecoder().decode(d) === 'event-of-forgotten-user' ? 'all' : 'none'));
  t.same(erased, { scanned: 2, deleted: 1, mixed: 0 }, 'ingest can still erase a user\'s messages');
  // The PS binds the buckets the admin step made.
  const psNc = await open('ps', { FLYWHEEL_NATS_NKEY_SEED_FILE: seedFile });
  const ledger = new JetStreamLedger(psNc);
  await ledger.record(cfg.model, 0, { epoch: 1, version: 3 });
  t.same(await ledger.read(cfg.model, 0), { epoch: 1, version: 3 }, 'the PS uses its ledger bucket');
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



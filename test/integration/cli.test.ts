// The `flywheel` command as users meet it (spawned as `node bin/flywheel.mjs ...`): --help on
// every command prints usage and starts nothing, an unknown flag is an error naming it,
// --version prints package.json's version, and a service that cannot reach NATS says so in
// one line, without a stack trace.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../cluster/processes.ts';

const COMMANDS = ['demo', 'ps', 'worker', 'inference', 'ingest', 'validator', 'eval', 'pretrain', 'rollback', 'streams', 'loadtest', 'chaos'];

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

function flywheel(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.mjs'), ...args], {
      cwd: REPO_ROOT, env: { ...process.env, FLYWHEEL_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`flywheel ${args.join(' ')} still running after ${timeoutMs} ms:\n${stdout}\n${stderr}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, ms: Date.now() - t0 }); });
  });
}

for (const cmd of COMMANDS) {
  t.test(`flywheel ${cmd} --help prints usage and starts nothing`, async (t) => {
    // An unreachable NATS: anything that tried to start would fail or hang, not print usage.
    const r = await flywheel([cmd, '--help'], { FLYWHEEL_NATS_URL: 'nats://127.0.0.1:1', FLYWHEEL_REDIS_URL: 'redis://127.0.0.1:1' });
    t.equal(r.code, 0, 'exit 0');
    t.match(r.stdout, new RegExp(`^usage: flywheel ${cmd}\\b`), 'usage first');
    t.match(r.stdout, /--help/, 'lists --help');
    t.notMatch(r.stdout + r.stderr, /running|listening|started|cannot connect|replaying/i, 'nothing started');
    t.ok(r.ms < 15_000, `quick (${r.ms} ms)`);
  });
}

t.test('flywheel --help and no command list every command', async (t) => {
  for (const args of [['--help'], []]) {
    const r = await flywheel(args);
    t.equal(r.code, 0);
    for (const cmd of COMMANDS) t.match(r.stdout, new RegExp(`\\n  ${cmd}\\b`), `${cmd} listed`);
  }
});

t.test('an unknown flag is an error that names it', async (t) => {
  const r = await flywheel(['ps', '--shrad', '1'], { FLYWHEEL_NATS_URL: 'nats://127.0.0.1:1' });
  t.equal(r.code, 2, 'usage error: exit 2');
  t.match(r.stderr, /--shrad/, 'stderr names --shrad');
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

t.test('a bad number names its flag', async (t) => {
  const r = await flywheel(['demo', '--events', 'lots']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--events must be an integer/);
});

t.test('demo --kinds names a kind it does not know, and refuses one given twice', async (t) => {
  const r = await flywheel(['demo', '--kinds', 'ctr,fraud']);
  t.not(r.code, 0);
  t.match(r.stderr, /--kinds.*unknown model kind "fraud" \(known: ctr, value/);
  const twice = await flywheel(['demo', '--kinds', 'value,value']);
  t.not(twice.code, 0);
  t.match(twice.stderr, /--kinds.*named twice/);
});

t.test('an unknown command is a usage error', async (t) => {
  const r = await flywheel(['dmeo']);
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown command "dmeo"/);
});

t.test('flywheel streams takes its action word first: ensure', async (t) => {
  const help = await flywheel(['streams', 'ensure', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: flywheel streams ensure\b/, 'usage of streams ensure');
  for (const args of [['streams'], ['streams', 'create'], ['streams', '--config', 'x.json']]) {
    const r = await flywheel(args);
    t.equal(r.code, 2, `${args.join(' ')}: usage error`);
    t.match(r.stderr, /expected "streams ensure"/, `${args.join(' ')}: names the action`);
  }
  const down = await flywheel(['streams', 'ensure'], { FLYWHEEL_NATS_URL: 'nats://127.0.0.1:1' });
  t.equal(down.code, 1, 'NATS unreachable: exit 1');
  t.match(down.stderr, /^streams failed: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/, 'in one line');
});

t.test('--version prints the version in package.json', async (t) => {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await flywheel(['--version']);
  t.equal(r.code, 0);
  t.equal(r.stdout.trim(), version);
});

t.test('a service given an unreachable NATS prints one line and exits non-zero', async (t) => {
  for (const svc of ['ps', 'ingest']) {
    const r = await flywheel([svc], { FLYWHEEL_NATS_URL: 'nats://127.0.0.1:1' });
    t.not(r.code, 0, `${svc}: non-zero exit (${r.code})`);
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, `${svc}: one line on stderr: ${JSON.stringify(r.stderr)}`);
    t.match(lines[0], /cannot start.*NATS.*127\.0\.0\.1:1/, `${svc}: says why`);
    t.notMatch(r.stderr, /\n\s+at |Error:.*\n/, `${svc}: no stack trace`);
  }
});

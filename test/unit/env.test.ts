// Every FLYWHEEL_* variable is read in shared/env.ts; `flywheel eval` and the services it
// starts use the servers FLYWHEEL_NATS_URL / FLYWHEEL_REDIS_URL name (they used to be ignored
// by eval, so eval and its services could land on different servers and wait forever).
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV_VARS, childServiceEnv, loadConfig, readEnv } from '../../shared/index.ts';
import { servicesConfig } from '../../tools/eval/command.ts';
import { REPO_ROOT } from '../../cluster/processes.ts';

const ENV = {
  FLYWHEEL_NATS_URL: 'nats://10.9.8.7:4333', FLYWHEEL_REDIS_URL: 'redis://10.9.8.7:6390',
  FLYWHEEL_MODEL: 'someone_elses', FLYWHEEL_PS_SHARDS: '7', FLYWHEEL_WORKERS: '5',
};

t.test('eval\'s services get the servers of the environment, and nothing else from it', async (t) => {
  const cfg = servicesConfig('taobao', {}, { psShards: 2, bucketMs: 1000 }, ENV);
  t.equal(cfg.natsUrl, ENV.FLYWHEEL_NATS_URL);
  t.equal(cfg.redisUrl, ENV.FLYWHEEL_REDIS_URL);
  t.match(cfg.model, /^eval_taobao_[0-9a-f]{6}$/, 'its own model, not FLYWHEEL_MODEL');
  t.equal(cfg.psShards, 2, 'its own topology, not FLYWHEEL_PS_SHARDS');
  t.equal(cfg.workers, 1);

  // A child reads the file eval wrote, in the environment ProcessGroup gives it.
  const dir = mkdtempSync(join(tmpdir(), 'fw-env-'));
  const file = join(dir, 'flywheel.json');
  writeFileSync(file, JSON.stringify(cfg));
  const child = loadConfig({ file, env: { ...childServiceEnv({ ...ENV, PATH: '/bin' }) } });
  t.equal(child.natsUrl, cfg.natsUrl, 'child: same NATS');
  t.equal(child.redisUrl, cfg.redisUrl, 'child: same Redis');
  t.equal(child.model, cfg.model, 'child: same model');
  t.equal(child.psShards, 2, 'child: same shards');
});

t.test('childServiceEnv drops what would override the config file and keeps the rest', async (t) => {
  const e = childServiceEnv({ ...ENV, FLYWHEEL_NATS_USER: 'ps', FLYWHEEL_LOG_LEVEL: 'warn', HOME: '/root' });
  t.same(Object.keys(e).sort(), ['FLYWHEEL_LOG_LEVEL', 'FLYWHEEL_NATS_USER', 'HOME']);
});

t.test('readEnv: empty is unset; FLYWHEEL_NATS_PASS is read as the password', async (t) => {
  const e = readEnv({ FLYWHEEL_MODEL: '', FLYWHEEL_NATS_PASS: 'pw', FLYWHEEL_TF_BACKEND: ' cpu ' });
  t.equal(e.model, undefined);
  t.equal(e.nats.password, 'pw');
  t.equal(e.tfBackend, 'cpu');
});

t.test('no FLYWHEEL_* variable is read outside shared/env.ts, and each is documented', async (t) => {
  const documented = new Set(ENV_VARS.map((v) => v.name));
  const offenders: string[] = [];
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
  for (const d of ['shared', 'services', 'cli', 'cluster', 'tools', 'loadtest']) {
    for (const f of walk(join(REPO_ROOT, d))) {
      if (f.endsWith(join('shared', 'env.ts'))) continue;
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        // A write (the embedded demo sets the log level for the in-process services) is not a read.
        const write = /FLYWHEEL_\w+\s*(\?\?)?=[^=]/.test(line);
        if (!write && /process\.env\.FLYWHEEL_|process\.env\[['"]FLYWHEEL_|env\.FLYWHEEL_/.test(line)) offenders.push(`${f.slice(REPO_ROOT.length)}:${i + 1}`);
      });
    }
  }
  t.same(offenders, [], 'read through readEnv()');
  for (const name of ['FLYWHEEL_CONFIG', 'FLYWHEEL_NATS_URL', 'FLYWHEEL_REDIS_URL', 'FLYWHEEL_PS_SHARD', 'FLYWHEEL_TF_BACKEND', 'FLYWHEEL_SERVICE_WAIT']) {
    t.ok(documented.has(name), `${name} documented`);
  }
});

// deploy/compose.yaml, checked without a Docker engine: for every service, the files it names
// exist (build context, Dockerfile, bind mounts, the config it reads), the variables it sets are
// ones the code reads, its config loads with the project's loader, the ports it publishes are
// those it listens on, its command runs a service that exists and reaches the image, every
// PS shard and worker index runs exactly once, and its depends_on targets exist.
//
// Not checked here (they need a Docker engine): that the image builds (npm ci, tfjs-node),
// that the containers start and become healthy, the healthcheck commands themselves, NATS and
// Redis images and their flags, network reachability between services, and docker compose's
// own reading of the file (interpolation, profiles), which this test only approximates.
import t from 'tap';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../shared/config.ts';
import { isLoopbackHost } from '../../shared/http-auth.ts';
import { CODE_ENV_VARS, ROOT, dockerfileEnv, imageHas, isDir, isFile, readYamlDocs, type Obj } from '../helpers/deploy.ts';

const COMPOSE = join(ROOT, 'deploy/compose.yaml');
const DEPLOY = join(ROOT, 'deploy');

const envOf = (s: Obj): Record<string, string> => {
  const e = s.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv: string) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
};

/** Everything wrong with a compose file, one line each; empty when it is fine. */
function composeProblems(compose: Obj): string[] {
  const problems: string[] = [];
  const services: Record<string, Obj> = compose.services ?? {};
  const named = new Set(Object.keys(compose.volumes ?? {}));
  const shards = new Map<string, string[]>();
  const claim = (what: string, name: string) => shards.set(what, [...(shards.get(what) ?? []), name]);
  let psShards = 0;
  let workers = 0;
  for (const [name, s] of Object.entries(services)) {
    const p = (msg: string) => problems.push(`${name}: ${msg}`);
    for (const dep of Object.keys(Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d: string) => [d, {}])) : s.depends_on ?? {})) {
      if (!services[dep]) p(`depends_on ${dep}, which is not a service`);
      else if (s.depends_on[dep]?.condition === 'service_healthy' && !services[dep].healthcheck) p(`waits for ${dep} to be healthy, which has no healthcheck`);
    }
    const mounts = new Map<string, string>();
    for (const v of s.volumes ?? []) {
      const [src, target] = String(v).split(':');
      if (src.startsWith('.') || src.startsWith('/')) {
        const host = resolve(DEPLOY, src);
        if (!isFile(host) && !isDir(host)) p(`mounts ${src}, which does not exist`);
        mounts.set(target, host);
      } else if (!named.has(src)) p(`mounts volume ${src}, which is not declared under volumes:`);
    }
    if (!s.build) continue;
    // A Flywheel service: built from this repository.
    const context = resolve(DEPLOY, s.build.context ?? '.');
    const dockerfile = resolve(context, s.build.dockerfile ?? 'Dockerfile');
    if (!isDir(context)) { p(`build context ${s.build.context} does not exist`); continue; }
    if (!isFile(dockerfile)) { p(`Dockerfile ${s.build.dockerfile} does not exist`); continue; }
    const env = { ...dockerfileEnv(dockerfile), ...envOf(s) };
    for (const k of Object.keys(envOf(s))) if (!CODE_ENV_VARS.has(k)) p(`sets ${k}, which the code does not read (shared/env.ts)`);
    const cmd: string[] = (Array.isArray(s.command) ? s.command : String(s.command ?? '').split(/\s+/)).map(String);
    // The one-shot admin step (`flywheel streams ensure`): in the image, on the mounted config, run once.
    if (cmd.join(' ').startsWith('node --import tsx cli/main.ts streams ensure')) {
      for (const f of ['cli/main.ts', 'cli/streams-command.ts']) if (!imageHas(dockerfile, context, f)) p(`runs ${f}, which the image does not contain (COPY / .dockerignore)`);
      if (!mounts.has(env.FLYWHEEL_CONFIG)) p(`reads its config from ${env.FLYWHEEL_CONFIG}, which nothing is mounted at`);
      if (!['no', 'on-failure'].includes(String(s.restart))) p(`a one-shot with restart ${s.restart}: it would run again and again`);
      continue;
    }
    const main = cmd.find((a) => /^services\/[a-z]+\/main\.ts$/.test(a));
    if (!main) { p(`command ${JSON.stringify(cmd)} runs no services/<name>/main.ts`); continue; }
    if (!isFile(join(context, main))) p(`command runs ${main}, which does not exist`);
    else if (!imageHas(dockerfile, context, main)) p(`command runs ${main}, which the image does not contain (COPY / .dockerignore)`);
    const service = main.split('/')[1];
    const flag = (f: string) => { const i = cmd.indexOf(f); return i >= 0 ? cmd[i + 1] : undefined; };
    const configPath = flag('--config') ?? env.FLYWHEEL_CONFIG;
    let cfg;
    if (configPath) {
      const host = mounts.get(configPath);
      if (!host) { p(`reads its config from ${configPath}, which nothing is mounted at`); continue; }
      try {
        cfg = loadConfig({ file: host, env });
      } catch (err) {
        p(`its config ${configPath} does not load: ${(err as Error).message}`);
        continue;
      }
    } else cfg = loadConfig({ env });
    psShards = cfg.psShards;
    workers = cfg.workers;
    if (service === 'ps') claim(`ps shard ${flag('--shard') ?? env.FLYWHEEL_PS_SHARD ?? 0}`, name);
    if (service === 'worker') claim(`worker ${flag('--index') ?? env.FLYWHEEL_WORKER_INDEX ?? 0}`, name);
    // A service with write routes (ingest's POST /v1/events) bound outside loopback needs API
    // tokens under http.auth auto or required, or it refuses to start (shared/http-auth.ts).
    const bound = env.FLYWHEEL_HTTP_HOST ?? '127.0.0.1';
    const needsTokens = service === 'ingest' && (cfg.http.auth === 'required' || (cfg.http.auth === 'auto' && !isLoopbackHost(bound)));
    if (needsTokens && !env.FLYWHEEL_API_TOKENS && !env.FLYWHEEL_API_TOKENS_FILE) p(`binds ${bound} with http.auth ${cfg.http.auth} but has no FLYWHEEL_API_TOKENS or FLYWHEEL_API_TOKENS_FILE: it would not start`);
    const listens: Record<string, number | undefined> = {
      ingest: cfg.ingest.port, inference: cfg.inference.port, dashboard: cfg.dashboard.port,
      ps: cfg.psMetricsBasePort + Number(flag('--shard') ?? 0), worker: cfg.workerMetricsBasePort + Number(flag('--index') ?? 0),
      validator: undefined,
    };
    const port = flag('--port') !== undefined ? Number(flag('--port')) : listens[service];
    for (const mapping of s.ports ?? []) {
      const container = Number(String(mapping).split(':').pop()!.split('/')[0]);
      if (container !== port) p(`publishes container port ${container}, but ${service} listens on ${port ?? 'a free port (no --port)'}`);
    }
  }
  for (let k = 0; k < psShards; k++) if ((shards.get(`ps shard ${k}`) ?? []).length !== 1) problems.push(`ps shard ${k} runs in ${shards.get(`ps shard ${k}`)?.join(', ') || 'no service'}; exactly one expected`);
  for (let i = 0; i < workers; i++) if ((shards.get(`worker ${i}`) ?? []).length !== 1) problems.push(`worker ${i} runs in ${shards.get(`worker ${i}`)?.join(', ') || 'no service'}; exactly one expected`);
  for (const key of shards.keys()) {
    const [what, n] = [key.replace(/ \d+$/, ''), Number(key.split(' ').pop())];
    if (n >= (what === 'ps shard' ? psShards : workers)) problems.push(`${key} (${shards.get(key)!.join(', ')}) is outside the config's ${what === 'ps shard' ? `psShards ${psShards}` : `workers ${workers}`}`);
  }
  return problems;
}

const compose = readYamlDocs(COMPOSE)[0];

t.test('deploy/compose.yaml has no problem', async (t) => {
  t.same(composeProblems(compose), [], 'no problems');
});

t.test('every Flywheel service is in the compose file', async (t) => {
  const run = Object.values(compose.services as Record<string, Obj>).map((s) => (s.command ?? []).find?.((a: string) => a.startsWith('services/'))).filter(Boolean);
  for (const s of ['ps', 'worker', 'inference', 'ingest', 'validator', 'dashboard']) t.ok(run.includes(`services/${s}/main.ts`), `${s} runs`);
  t.ok(compose.services.dashboard.ports.includes('8090:8090'), 'the dashboard is published on 8090');
});

t.test('the services start once the one-shot `flywheel streams ensure` has succeeded', async (t) => {
  t.same(compose.services.streams?.command, ['node', '--import', 'tsx', 'cli/main.ts', 'streams', 'ensure'], 'a one-shot service runs it');
  for (const [name, s] of Object.entries(compose.services as Record<string, Obj>)) {
    if (!(s.command ?? []).some?.((a: string) => a.startsWith('services/'))) continue;
    t.equal(s.depends_on?.streams?.condition, 'service_completed_successfully', `${name} waits for it`);
  }
  const c = structuredClone(compose);
  c.services.streams.restart = 'unless-stopped';
  t.match(composeProblems(c).join('\n'), /streams: a one-shot with restart unless-stopped/, 'a one-shot that restarts is reported');
});

t.test('a compose file with a broken path, variable, port or dependency is reported', async (t) => {
  const broken = (edit: (c: Obj) => void) => {
    const c = structuredClone(compose);
    edit(c);
    return composeProblems(c).join('\n');
  };
  t.match(broken((c) => { c.services.ingest.volumes = ['./no-such-flywheel.json:/etc/flywheel/flywheel.json:ro']; }), /ingest: mounts \.\/no-such-flywheel\.json, which does not exist/);
  t.match(broken((c) => { c.services.ingest.volumes = []; }), /ingest: reads its config from \/etc\/flywheel\/flywheel\.json, which nothing is mounted at/);
  t.match(broken((c) => { c.services.ingest.build = { ...c.services.ingest.build, dockerfile: 'deploy/Dockerfile.nope' }; }), /ingest: Dockerfile deploy\/Dockerfile\.nope does not exist/);
  t.match(broken((c) => { c.services.ingest.environment = { ...c.services.ingest.environment, FLYWHEEL_INGEST_PORT: '9' }; }), /ingest: sets FLYWHEEL_INGEST_PORT, which the code does not read/);
  t.match(broken((c) => { c.services.ingest.environment = { ...c.services.ingest.environment, FLYWHEEL_PS_SHARDS: 'two' }; }), /ingest: its config .* does not load: .*psShards/);
  t.match(broken((c) => { c.services.ingest.ports = ['8080:9999']; }), /ingest: publishes container port 9999, but ingest listens on 8080/);
  t.match(broken((c) => { c.services.validator.command = c.services.validator.command.slice(0, 4); }), /validator: publishes container port 8082, but validator listens on a free port/);
  t.match(broken((c) => { c.services.dashboard.command = ['node', '--import', 'tsx', 'services/dashbord/main.ts']; }), /dashboard: command runs services\/dashbord\/main\.ts, which does not exist/);
  t.match(broken((c) => { c.services.ingest.depends_on = { ...c.services.ingest.depends_on, kafka: { condition: 'service_started' } }; }), /ingest: depends_on kafka, which is not a service/);
  t.match(broken((c) => { delete c.services['worker-1']; }), /worker 1 runs in no service; exactly one expected/);
  t.match(broken((c) => { c.services['ps-1'].command = c.services['ps-0'].command; }), /ps shard 0 runs in ps-0, ps-1/);
  t.match(broken((c) => { delete c.services.ingest.environment.FLYWHEEL_API_TOKENS; }), /ingest: binds 0\.0\.0\.0 with http\.auth auto but has no FLYWHEEL_API_TOKENS/);
  t.match(broken((c) => { c.services.nats.volumes = ['nats-dat:/data']; }), /nats: mounts volume nats-dat, which is not declared/);
});

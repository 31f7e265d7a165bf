// The Kubernetes manifests, rendered as `kustomize build deploy/k8s/overlays/dev` would (by the
// renderer in test/helpers/deploy.ts) and checked without a cluster: every object against the
// Kubernetes API's JSON schemas (kubernetes-models), every Secret and ConfigMap a workload
// reads present in the rendering, the config the services get valid for the project's loader
// and in step with the replicas and ports, probes on the paths the services serve, every
// metrics port announced to Prometheus, and the admin step (the Job flywheel-streams running
// `flywheel streams ensure` as the NATS admin user on the services' config).
//
// Not checked here: unknown fields (the schemas allow them; kubeconform --strict or the API
// server's field validation catch them), whether the cluster accepts the objects (admission,
// quotas, storage classes, GPUs), whether the images build and the pods start, NATS accepting
// the users' permissions at run time, and kustomize's own output byte for byte.
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type FlywheelConfig } from '../../shared/config.ts';
import { readEnv } from '../../shared/env.ts';
import { loadApiTokens } from '../../shared/http-auth.ts';
import {
  CODE_ENV_VARS, ROOT, containersOf, imageHas, isFile, renderKustomization, validateK8s, type Obj,
} from '../helpers/deploy.ts';

const OVERLAY = join(ROOT, 'deploy/k8s/overlays/dev');
const objects = renderKustomization(OVERLAY);
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata?.name === name);
const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(o.kind));
const label = (o: Obj) => `${o.kind} ${o.metadata?.name}`;

/** Flywheel's own containers (the image built from deploy/Dockerfile*), with the service each runs. */
const flywheelAll = workloads.flatMap((w) => containersOf(w).filter((c) => /\/flywheel(-gpu)?:/.test(String(c.image))).map((c) => {
  const script = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
  const main = /services\/([a-z]+)\/main\.ts/.exec(script);
  return { w, c, script, service: main?.[1], main: main?.[0] };
}));
/** The admin step (`flywheel streams ensure`, streams-job.yaml): a Job, no service, no ports or probes. */
const isStreamsSetup = (f: { script: string }) => /^node --import tsx cli\/main\.ts streams ensure\b/.test(f.script);
const setup = flywheelAll.filter(isStreamsSetup);
const flywheel = flywheelAll.filter((f) => !isStreamsSetup(f));

t.test('the rendering holds every manifest of the base, namespaced and labelled', async (t) => {
  for (const [kind, name] of [['Deployment', 'flywheel-validator'], ['Deployment', 'flywheel-dashboard'], ['Service', 'flywheel-dashboard'],
    ['Deployment', 'flywheel-inference'], ['Deployment', 'flywheel-ingest'], ['StatefulSet', 'flywheel-ps'], ['StatefulSet', 'flywheel-worker'],
    ['StatefulSet', 'nats'], ['StatefulSet', 'redis'], ['Job', 'flywheel-streams'], ['Secret', 'flywheel-nats-users'], ['Secret', 'flywheel-api-tokens'], ['ConfigMap', 'flywheel-config']]) {
    t.ok(find(kind, name), `${kind} ${name} is rendered`);
  }
  for (const o of objects) {
    if (o.kind !== 'Namespace') t.equal(o.metadata.namespace, 'flywheel', `${label(o)} in namespace flywheel`);
    t.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'flywheel', `${label(o)} labelled part-of flywheel`);
  }
  for (const { c, w } of flywheelAll) t.match(c.image, /^registry\.example\.com\/flywheel\//, `${label(w)}: image rewritten by images:`);
  // The base alone has no Secret: it is the overlay's (or an ExternalSecret's) to provide.
  t.notOk(renderKustomization(join(ROOT, 'deploy/k8s')).some((o) => o.kind === 'Secret'), 'no Secret in the base');
});

t.test('every object is valid against the Kubernetes schema of its kind', async (t) => {
  t.ok(objects.length >= 20, `${objects.length} objects rendered`);
  for (const o of objects) await t.resolves(validateK8s(o), label(o));
});

t.test('a broken manifest fails validation', async (t) => {
  const deployment = structuredClone(find('Deployment', 'flywheel-ingest')!);
  const wrongType = structuredClone(deployment);
  wrongType.spec.replicas = 'two';
  await t.rejects(validateK8s(wrongType), /replicas must be integer/, 'a string where an integer belongs');
  const missing = structuredClone(deployment);
  delete missing.spec.template.spec.containers[0].name;
  await t.rejects(validateK8s(missing), /required property .?name/, 'a container without its name');
  const noSelector = structuredClone(deployment);
  delete noSelector.spec.selector;
  await t.rejects(validateK8s(noSelector), /selector/, 'a Deployment without a selector');
  await t.rejects(validateK8s({ ...deployment, kind: 'Deploymnet' }), /unknown kind Deploymnet/, 'a misspelt kind');
  await t.rejects(validateK8s({ ...deployment, apiVersion: 'apps/v9' }), /unknown apiVersion apps\/v9/, 'an apiVersion that does not exist');
  const badProbe = structuredClone(deployment);
  badProbe.spec.template.spec.containers[0].livenessProbe.httpGet.port = { name: 'http' };
  await t.rejects(validateK8s(badProbe), /port/, 'a probe port of the wrong type');
});

t.test('the renderer refuses what it does not render rather than ignore it', async (t) => {
  const dir = t.testdir({
    'kustomization.yaml': 'resources: []\npatches:\n  - path: p.yaml\n',
    hashed: { 'kustomization.yaml': 'secretGenerator:\n  - name: s\n    literals: [a=b]\n' },
  });
  t.throws(() => renderKustomization(dir), /field "patches" is not rendered/);
  t.throws(() => renderKustomization(join(dir, 'hashed')), /name suffix hashes are not rendered/);
});

t.test('every Secret and ConfigMap a workload reads is in the rendering, with the keys it reads', async (t) => {
  const has = (kind: string, name: string, key?: string) => {
    const o = find(kind, name);
    return !!o && (key === undefined || key in (o.data ?? {}) || key in (o.stringData ?? {}));
  };
  let refs = 0;
  for (const w of workloads) {
    for (const c of containersOf(w)) {
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        const m = e.valueFrom?.configMapKeyRef;
        if (s) { refs++; t.ok(has('Secret', s.name, s.key), `${label(w)} ${e.name}: Secret ${s.name} key ${s.key}`); }
        if (m) { refs++; t.ok(has('ConfigMap', m.name, m.key), `${label(w)} ${e.name}: ConfigMap ${m.name} key ${m.key}`); }
      }
      for (const f of c.envFrom ?? []) {
        refs++;
        if (f.secretRef) t.ok(has('Secret', f.secretRef.name), `${label(w)}: envFrom Secret ${f.secretRef.name}`);
        if (f.configMapRef) t.ok(has('ConfigMap', f.configMapRef.name), `${label(w)}: envFrom ConfigMap ${f.configMapRef.name}`);
      }
    }
    for (const v of w.spec.template.spec.volumes ?? []) {
      if (v.configMap) { refs++; t.ok(has('ConfigMap', v.configMap.name), `${label(w)} volume ${v.name}: ConfigMap ${v.configMap.name}`); }
      if (v.secret) { refs++; t.ok(has('Secret', v.secret.secretName), `${label(w)} volume ${v.name}: Secret ${v.secret.secretName}`); }
    }
  }
  t.ok(refs > 10, `${refs} references followed`);
  // The NATS server resolves one $FLYWHEEL_NATS_<ROLE>_PASSWORD per user of its config.
  const conf = String(find('ConfigMap', 'nats-config')!.data['nats.conf']);
  const natsEnv = new Set((containersOf(find('StatefulSet', 'nats')!)[0].env as Obj[]).map((e) => e.name));
  for (const m of conf.matchAll(/\$(FLYWHEEL_NATS_[A-Z]+_PASSWORD)/g)) t.ok(natsEnv.has(m[1]), `the NATS server gets ${m[1]}`);
  // Every role a Flywheel container connects as is a user of the NATS config.
  for (const { w, c } of flywheel) {
    const url = (c.env as Obj[]).find((e) => e.name === 'FLYWHEEL_NATS_URL')?.value;
    const user = /^nats:\/\/([a-z]+):/.exec(String(url))?.[1];
    t.ok(user && new RegExp(`user: ${user}\\b`).test(conf), `${label(w)} connects as NATS user ${user}, which nats.conf declares`);
  }
});

/** The config a Flywheel container reads: its --config (or FLYWHEEL_CONFIG) resolved through its volume mounts to a ConfigMap key. */
function containerConfig(t: Test, w: Obj, c: Obj, script: string): FlywheelConfig | undefined {
  const env: Record<string, string> = Object.fromEntries((c.env as Obj[]).filter((e) => typeof e.value === 'string').map((e) => [e.name, e.value]));
  const path = env.FLYWHEEL_CONFIG;
  if (!t.ok(path, `${label(w)}: FLYWHEEL_CONFIG is set`)) return undefined;
  const flag = /--config\s+("?)(\S+?)\1(\s|$)/.exec(script)?.[2];
  if (flag && flag !== '/tmp/flywheel.json') t.equal(flag, path, `${label(w)}: --config is FLYWHEEL_CONFIG`);
  const mount = (c.volumeMounts as Obj[] ?? []).find((m) => path.startsWith(`${m.mountPath}/`));
  if (!t.ok(mount, `${label(w)}: ${path} is on a mounted volume`)) return undefined;
  const volume = (w.spec.template.spec.volumes as Obj[]).find((v) => v.name === mount!.name);
  const cm = volume?.configMap && find('ConfigMap', volume.configMap.name);
  const key = path.slice(mount!.mountPath.length + 1);
  if (!t.ok(cm?.data?.[key], `${label(w)}: ${path} is key ${key} of a rendered ConfigMap`)) return undefined;
  const file = join(t.testdirName, `${w.metadata.name}.json`);
  writeFileSync(file, cm!.data[key]);
  try {
    return loadConfig({ file, env });
  } catch (err) {
    t.fail(`${label(w)}: the config does not load: ${(err as Error).message}`);
    return undefined;
  }
}

t.test('each Flywheel container runs a service that exists, with a config the loader accepts and ports in step with it', async (t) => {
  t.testdir({});
  const services = new Set(flywheel.map((f) => f.service));
  for (const s of ['ps', 'worker', 'inference', 'ingest', 'validator', 'dashboard']) t.ok(services.has(s), `a workload runs ${s}`);
  for (const { w, c, script, service, main } of flywheel) {
    if (!t.ok(service && isFile(join(ROOT, main!)), `${label(w)}: runs ${main ?? '(no services/<name>/main.ts)'}, which exists`)) continue;
    for (const e of c.env as Obj[]) if (e.name.startsWith('FLYWHEEL_')) t.ok(CODE_ENV_VARS.has(e.name), `${label(w)}: ${e.name} is read by the code`);
    const cfg = containerConfig(t, w, c, script);
    if (!cfg) continue;
    const portFlag = /--port["\s,]+"?(\d+)/.exec(script)?.[1];
    const expected: Record<string, number | undefined> = {
      ingest: cfg.ingest.port, inference: cfg.inference.port, dashboard: cfg.dashboard.port,
      // The validator's port comes from its flag only (its default, 0, picks a free port).
      validator: undefined,
      // ps.yaml/worker.yaml lower the base by the pod's index, so every pod serves on the base.
      ps: cfg.psMetricsBasePort, worker: cfg.workerMetricsBasePort,
    };
    const listens = portFlag !== undefined ? Number(portFlag) : expected[service!];
    if (!t.ok(listens, `${label(w)}: the port ${service} listens on is known (config or --port)`)) continue;
    const ports = (c.ports as Obj[] | undefined) ?? [];
    t.same(ports.map((p) => p.containerPort), [listens], `${label(w)}: containerPort is the port ${service} listens on (${listens})`);
    if (service === 'ps' || service === 'worker') {
      t.match(script, service === 'ps' ? /c\.psMetricsBasePort=\(c\.psMetricsBasePort\?\?9100\)-Number\(process\.env\.FLYWHEEL_PS_SHARD\)/ : /c\.workerMetricsBasePort=\(c\.workerMetricsBasePort\?\?9200\)-Number\(process\.env\.FLYWHEEL_WORKER_INDEX\)/,
        `${label(w)}: the base port is lowered by the pod's index`);
      t.match(script, /--config \/tmp\/flywheel\.json/, `${label(w)}: runs on the config with the lowered base`);
    }
    if (service === 'ingest') {
      // POST /v1/events on 0.0.0.0 under http.auth auto: without a token ingest does not start.
      const names = new Set((c.env as Obj[]).map((e) => e.name));
      t.ok(names.has('FLYWHEEL_API_TOKENS') || names.has('FLYWHEEL_API_TOKENS_FILE'), `${label(w)}: has API tokens (it binds outside loopback)`);
      t.equal(cfg.http.auth, 'auto', `${label(w)}: http.auth auto`);
    }
    if (service === 'ps') t.equal(w.spec.replicas, cfg.psShards, 'PS replicas = psShards');
    if (service === 'worker') t.equal(w.spec.replicas, cfg.workers, 'worker replicas = workers');
    if (service === 'validator') {
      t.equal(w.spec.replicas, 1, 'one gate');
      t.equal(w.spec.strategy?.type, 'Recreate', 'never two gates at once, even during a rollout');
      t.ok(cfg.gate.holdoutPermille > 0, 'events are held out for the gate');
    }
  }
  const cfg = loadConfig({ file: join(t.testdirName, 'flywheel-ingest.json'), env: {} });
  t.equal(cfg.streamReplicas, 3, 'the event stream has three copies');
  t.ok(cfg.streamReplicas <= find('StatefulSet', 'nats')!.spec.replicas, 'no more stream copies than NATS servers');
});

t.test('the Job flywheel-streams runs `flywheel streams ensure` as the NATS admin user, on the services\' config', async (t) => {
  t.testdir({});
  t.equal(setup.length, 1, 'one container runs the admin step');
  const conf = String(find('ConfigMap', 'nats-config')!.data['nats.conf']);
  for (const { w, c, script } of setup) {
    t.equal(w.kind, 'Job', `${label(w)}: a Job`);
    t.ok(['OnFailure', 'Never'].includes(w.spec.template.spec.restartPolicy), `${label(w)}: restartPolicy ${w.spec.template.spec.restartPolicy}`);
    t.ok(w.spec.ttlSecondsAfterFinished > 0, `${label(w)}: removed after it finishes, so the next apply runs it again`);
    for (const f of ['cli/main.ts', 'cli/streams-command.ts', 'bin/flywheel.mjs']) t.ok(imageHas(join(ROOT, 'deploy/Dockerfile'), ROOT, f), `the image holds ${f}`);
    t.match(c.image, /\/flywheel:/, `${label(w)}: the CPU image (deploy/Dockerfile)`);
    const env = c.env as Obj[];
    for (const e of env) if (e.name.startsWith('FLYWHEEL_')) t.ok(CODE_ENV_VARS.has(e.name), `${label(w)}: ${e.name} is read by the code`);
    t.match(env.find((e) => e.name === 'FLYWHEEL_NATS_URL')?.value, /^nats:\/\/admin:\$\(FLYWHEEL_NATS_PASSWORD\)@nats:4222$/, `${label(w)}: connects as admin`);
    t.same(env.find((e) => e.name === 'FLYWHEEL_NATS_PASSWORD')?.valueFrom?.secretKeyRef, { name: 'flywheel-nats-users', key: 'admin' }, `${label(w)}: with the admin password`);
    t.ok(/user: admin\s+password: \$FLYWHEEL_NATS_ADMIN_PASSWORD\s+}/.test(conf), 'admin is the NATS user without a permissions block');
    const cfg = containerConfig(t, w, c, script);
    const ingest = flywheel.find((f) => f.service === 'ingest')!;
    const theirs = containerConfig(t, ingest.w, ingest.c, ingest.script);
    // The same but for the NATS user in the URL (admin here).
    if (cfg && theirs) t.same({ ...cfg, natsUrl: '' }, { ...theirs, natsUrl: '' }, `${label(w)}: the config ingest and the workers read (stream, models, eventShards, streamReplicas)`);
  }
  // Only admin may create the events stream: no other role's publish allow list has a STREAM.CREATE but the PS's own buckets.
  const creates = [...conf.matchAll(/"\$JS\.API\.STREAM\.CREATE\.([^"]+)"/g)].map((m) => m[1]).sort();
  t.same(creates, ['KV_fw_ps_ledger', 'KV_fw_ps_rewinds'], 'STREAM.CREATE is granted for the PS buckets only, by exact name');
});

t.test('probes: liveness on /healthz, readiness on /readyz, at a port the container declares', async (t) => {
  for (const { w, c } of flywheel) {
    const names = new Set((c.ports as Obj[] ?? []).flatMap((p) => [p.name, p.containerPort]));
    for (const [probe, path] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
      const get = c[probe]?.httpGet;
      if (!t.ok(get, `${label(w)}: ${probe} is an httpGet`)) continue;
      t.equal(get.path, path, `${label(w)}: ${probe} on ${path}`);
      t.ok(names.has(get.port), `${label(w)}: ${probe} port ${get.port} is one of the container's ports`);
    }
  }
});

t.test('every Flywheel workload with a metrics port is announced to Prometheus', async (t) => {
  for (const { w, c } of flywheel) {
    const ports = (c.ports as Obj[] ?? []).map((p) => p.containerPort);
    if (!ports.length) continue;
    const a = w.spec.template.metadata.annotations ?? {};
    t.equal(a['prometheus.io/scrape'], 'true', `${label(w)}: prometheus.io/scrape`);
    t.ok(ports.includes(Number(a['prometheus.io/port'])), `${label(w)}: prometheus.io/port ${a['prometheus.io/port']} is a container port`);
    t.equal(a['prometheus.io/path'], '/metrics', `${label(w)}: prometheus.io/path`);
  }
  t.equal(byKind('Secret').length, 2, 'two Secrets: NATS users, API tokens');
});

t.test('the dev Secret is marked as development credentials to replace', async (t) => {
  const gen = find('Secret', 'flywheel-nats-users')!;
  const keys = Object.keys(gen.data).sort();
  t.same(keys, ['admin', 'dashboard', 'inference', 'ingest', 'ps', 'validator', 'worker']);
  for (const k of keys) t.match(Buffer.from(gen.data[k], 'base64').toString(), /^[A-Za-z0-9]+$/, `${k}: URL-safe (it goes into nats://user:password@)`);
});

t.test('the dev API tokens are marked as development tokens to replace, and load', async (t) => {
  const gen = find('Secret', 'flywheel-api-tokens')!;
  t.same(Object.keys(gen.data), ['tokens']);
  const tokens = Buffer.from(gen.data.tokens, 'base64').toString();
  t.match(tokens, /^dev0replace0me/, 'a placeholder that says so');
  t.equal(loadApiTokens(readEnv({ FLYWHEEL_API_TOKENS: tokens })).size, 1, 'accepted by the loader');
});

// What the deployment tests share: the repository's files, a Dockerfile's ENV and COPY, the
// FLYWHEEL_* variables the code reads, and a renderer of a kustomization that does what
// `kustomize build` does for the features deploy/k8s uses (resources, namespace, labels,
// images, configMapGenerator/secretGenerator without name hashes) and refuses any other
// feature, so that a kustomization using one fails here instead of rendering something else.
import { existsSync, readFileSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ENV_VARS } from '../../shared/env.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export type Obj = Record<string, any>;

export const isFile = (p: string) => existsSync(p) && statSync(p).isFile();
export const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** Every document of a YAML file (merge keys `<<:` resolved, as docker compose does). */
export function readYamlDocs(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  return docs.map((d, i) => {
    if (d.errors.length) throw new Error(`${file}, document ${i + 1}: ${d.errors[0].message}`);
    return d.toJS() as Obj;
  }).filter((d) => d !== null && d !== undefined);
}

/** The FLYWHEEL_* variables the TypeScript code reads (shared/env.ts: ENV_VARS without the scripts' own). */
export const CODE_ENV_VARS: ReadonlySet<string> = new Set(ENV_VARS.filter((v) => !v.script).map((v) => v.name));

/** The instructions of a Dockerfile's last stage, continuation lines joined. */
function lastStage(dockerfile: string): string[] {
  const lines = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const from = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0).pop() ?? 0;
  return lines.slice(from);
}

/** ENV of the image's last stage (KEY=VALUE pairs). */
export function dockerfileEnv(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const l of lastStage(dockerfile)) {
    if (!/^ENV\s/i.test(l)) continue;
    for (const m of l.slice(3).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return env;
}

/** What the last stage COPYs from the build context (the sources, not --from stages). */
export function dockerfileCopies(dockerfile: string): string[] {
  const out: string[] = [];
  for (const l of lastStage(dockerfile)) {
    if (!/^COPY\s/i.test(l) || /--from=/.test(l)) continue;
    const parts = l.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
    out.push(...parts.slice(0, -1));
  }
  return out;
}

/** Whether a file (relative to the build context) reaches the image: COPYed and not excluded by the .dockerignore's re-includes. */
export function imageHas(dockerfile: string, contextDir: string, file: string): boolean {
  const copied = dockerfileCopies(dockerfile).some((src) => file === src || file.startsWith(`${src.replace(/\/$/, '')}/`));
  const ignore = `${dockerfile}.dockerignore`;
  if (!isFile(ignore)) return copied && isFile(join(contextDir, file));
  // The project's ignore files exclude everything (**) and re-include what the image needs.
  const includes = readFileSync(ignore, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  const included = includes.some((p) => p === file || (p.endsWith('/**') && file.startsWith(p.slice(0, -2))));
  return copied && included && isFile(join(contextDir, file));
}

// ---------------------------------------------------------------------------------------------
// kustomize

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'labels', 'resources', 'images', 'configMapGenerator', 'secretGenerator', 'generatorOptions']);
/** Kinds kustomize leaves without a namespace. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass', 'PriorityClass']);

/** KEY=VALUE lines of an env file; # lines and blank lines skipped, as kustomize does. */
export function parseEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`${file}:${i + 1}: not KEY=VALUE`);
    out[l.slice(0, eq)] = l.slice(eq + 1);
  });
  return out;
}

function generated(kind: 'ConfigMap' | 'Secret', g: Obj, dir: string, options: Obj | undefined): Obj {
  const disable = g.options?.disableNameSuffixHash ?? options?.disableNameSuffixHash;
  // A hashed name changes every reference to it; this renderer does not reproduce kustomize's hash.
  if (disable !== true) throw new Error(`${kind} generator "${g.name}": name suffix hashes are not rendered here (set options.disableNameSuffixHash)`);
  for (const k of Object.keys(g)) if (!['name', 'namespace', 'envs', 'files', 'literals', 'options', 'type'].includes(k)) throw new Error(`${kind} generator "${g.name}": field ${k} is not rendered here`);
  const data: Record<string, string> = {};
  for (const env of g.envs ?? []) Object.assign(data, parseEnvFile(join(dir, env)));
  for (const lit of g.literals ?? []) {
    const eq = String(lit).indexOf('=');
    data[String(lit).slice(0, eq)] = String(lit).slice(eq + 1);
  }
  for (const f of g.files ?? []) {
    const [key, path] = String(f).includes('=') ? String(f).split('=', 2) : [String(f).split('/').pop()!, String(f)];
    data[key] = readFileSync(join(dir, path), 'utf8');
  }
  const meta = { name: g.name, ...(g.namespace ? { namespace: g.namespace } : {}) };
  return kind === 'Secret'
    ? { apiVersion: 'v1', kind, metadata: meta, type: g.type ?? 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) }
    : { apiVersion: 'v1', kind, metadata: meta, data };
}

function podSpecs(o: Obj): Obj[] {
  if (o.kind === 'Pod') return [o.spec];
  if (o.kind === 'CronJob') return [o.spec?.jobTemplate?.spec?.template?.spec].filter(Boolean);
  return [o.spec?.template?.spec].filter(Boolean);
}

/** Every container (init containers too) of a workload. */
export function containersOf(o: Obj): Obj[] {
  return podSpecs(o).flatMap((s) => [...(s.initContainers ?? []), ...(s.containers ?? [])]);
}

/** The objects `kustomize build <dir>` would print, for the features listed at the top of this file. */
export function renderKustomization(dir: string): Obj[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(dir, f)).find(isFile);
  if (!file) throw new Error(`no kustomization in ${dir}`);
  const k = readYamlDocs(file)[0];
  for (const key of Object.keys(k)) if (!KNOWN_FIELDS.has(key)) throw new Error(`${file}: field "${key}" is not rendered by this test's renderer`);
  const objects: Obj[] = [];
  for (const r of k.resources ?? []) {
    const p = join(dir, r);
    if (isDir(p)) objects.push(...renderKustomization(p));
    else if (isFile(p)) objects.push(...readYamlDocs(p));
    else throw new Error(`${file}: resource ${r} does not exist`);
  }
  for (const g of k.configMapGenerator ?? []) objects.push(generated('ConfigMap', g, dir, k.generatorOptions));
  for (const g of k.secretGenerator ?? []) objects.push(generated('Secret', g, dir, k.generatorOptions));
  for (const o of objects) {
    o.metadata ??= {};
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const l of k.labels ?? []) {
      if (l.includeSelectors || l.includeTemplates) throw new Error(`${file}: labels with includeSelectors/includeTemplates are not rendered here`);
      o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
    }
    for (const img of k.images ?? []) {
      for (const c of containersOf(o)) {
        const [name, tag] = String(c.image).split(/:(?=[^/]+$)/);
        if (name !== img.name) continue;
        c.image = `${img.newName ?? name}${img.digest ? `@${img.digest}` : `:${img.newTag ?? tag}`}`;
      }
    }
  }
  return objects;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes schemas (kubernetes-models: the JSON schemas of the Kubernetes API, compiled)

/** Validates an object against the schema of its apiVersion and kind; throws naming what is wrong. */
export async function validateK8s(o: Obj): Promise<void> {
  const what = `${o?.kind ?? '(no kind)'} ${o?.metadata?.name ?? '(no name)'}`;
  if (typeof o?.apiVersion !== 'string' || typeof o?.kind !== 'string') throw new Error(`${what}: apiVersion and kind must be strings`);
  const path = o.apiVersion.includes('/') ? o.apiVersion : `v1`;
  let mod: Record<string, unknown>;
  try {
    mod = await import(`kubernetes-models/${path}`) as Record<string, unknown>;
  } catch {
    throw new Error(`${what}: unknown apiVersion ${o.apiVersion}`);
  }
  const Model = mod[o.kind] as (new (d: Obj) => { validate(): void }) | undefined;
  if (typeof Model !== 'function') throw new Error(`${what}: unknown kind ${o.kind} in ${o.apiVersion}`);
  try {
    new Model(o).validate();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Prometheus

/** Metric names registered in the code (`name: 'fw_...'` in services/ and shared/). */
export function codeMetricNames(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirEntries(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'node_modules') walk(p); } else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/name:\s*'(fw_[a-z0-9_]+)'/g)) names.add(m[1]);
      }
    }
  };
  walk(join(ROOT, 'services'));
  walk(join(ROOT, 'shared'));
  return names;
}

const readdirEntries = (dir: string): Dirent[] => readdirSync(dir, { withFileTypes: true });

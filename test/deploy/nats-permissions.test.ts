// The two NATS server configurations, deploy/nats/flywheel-nats.conf (standalone example) and
// the ConfigMap "nats-config" of deploy/k8s/nats.yaml, read by a small parser of the NATS
// config format: both have the same users, each with the same publish/subscribe allow and
// deny lists (order aside) and allow_responses, every password is an environment variable
// ($FLYWHEEL_NATS_<ROLE>_PASSWORD) that the StatefulSet sets, and the "fw." permissions name
// subjects of shared/protocol.ts (each one the code uses is published and subscribed by a role).
//
// Not checked: what nats-server accepts (nats-server -c ... -t) and what it allows at run time
// (test/integration/security-nats.test.ts).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { subjects } from '../../shared/protocol.ts';
import { ROOT, readYamlDocs, type Obj } from '../helpers/deploy.ts';

// ---------------------------------------------------------------------------------------------
// A tolerant parser of the NATS config format: maps { }, arrays [ ], keys separated from their
// values by ":", "=" or blanks, entries by newlines, "," or ";", "#" and "//" comments, quoted
// ("..." or '...') and bare values. Variables ($NAME) and "include" are kept as plain strings.
// Bare values stay strings (numbers, sizes and booleans are not interpreted).

type ConfValue = string | ConfValue[] | { [key: string]: ConfValue };

function parseNatsConf(text: string, source = 'config'): Record<string, ConfValue> {
  let i = 0;
  const fail = (msg: string): never => {
    const line = text.slice(0, i).split('\n').length;
    throw new Error(`${source}, line ${line}: ${msg}`);
  };
  const atComment = () => text[i] === '#' || (text[i] === '/' && text[i + 1] === '/');
  const skipLine = () => { while (i < text.length && text[i] !== '\n') i++; };
  /** Blanks, newlines, separators and comments. */
  const skipAll = () => {
    for (;;) {
      if (i < text.length && /[\s,;]/.test(text[i])) i++;
      else if (atComment()) skipLine();
      else return;
    }
  };
  /** Blanks on the same line. */
  const skipBlanks = () => { while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++; };

  const quoted = (): string => {
    const q = text[i++];
    let out = '';
    while (i < text.length && text[i] !== q) {
      if (q === '"' && text[i] === '\\' && i + 1 < text.length) {
        const c = text[++i];
        out += ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[c] ?? c;
        i++;
      } else out += text[i++];
    }
    if (i >= text.length) fail(`unterminated ${q}string`);
    i++;
    return out;
  };
  const bare = (stop: RegExp): string => {
    const start = i;
    while (i < text.length && !stop.test(text[i])) i++;
    return text.slice(start, i);
  };

  const value = (): ConfValue => {
    const c = text[i];
    if (c === '{') { i++; return map('}'); }
    if (c === '[') { i++; return array(); }
    if (c === '"' || c === "'") return quoted();
    const v = bare(/[\s,;\]}#]/);
    if (!v) fail(`value expected, found ${JSON.stringify(c ?? 'end of file')}`);
    return v;
  };
  const array = (): ConfValue[] => {
    const out: ConfValue[] = [];
    for (;;) {
      skipAll();
      if (i >= text.length) fail('unterminated [');
      if (text[i] === ']') { i++; return out; }
      out.push(value());
    }
  };
  const map = (end: '}' | ''): Record<string, ConfValue> => {
    const out: Record<string, ConfValue> = {};
    for (;;) {
      skipAll();
      if (i >= text.length) { if (end) fail('unterminated {'); return out; }
      if (text[i] === end) { i++; return out; }
      const key = text[i] === '"' || text[i] === "'" ? quoted() : bare(/[\s:={[]/);
      if (!key) fail(`key expected, found ${JSON.stringify(text[i])}`);
      skipBlanks();
      if (text[i] === ':' || text[i] === '=') { i++; skipBlanks(); }
      if (i >= text.length || text[i] === '\n' || atComment()) fail(`no value for ${key}`);
      out[key] = value();
    }
  };
  return map('');
}

// ---------------------------------------------------------------------------------------------
// The users of a config, normalised.

interface Role {
  password?: string;
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[]; deny: string[] };
  allowResponses?: ConfValue;
  /** No permissions block: may do everything. */
  unrestricted: boolean;
}

const strings = (v: ConfValue | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const isMap = (v: ConfValue | undefined): v is Record<string, ConfValue> => typeof v === 'object' && v !== null && !Array.isArray(v);
const sorted = (l: string[]) => [...l].sort();

/** publish/subscribe: a subject, a list of subjects (both mean allow) or { allow, deny }. */
function direction(v: ConfValue | undefined) {
  if (isMap(v)) return { allow: sorted(strings(v.allow)), deny: sorted(strings(v.deny)) };
  return { allow: sorted(strings(v)), deny: [] };
}

function usersOf(conf: Record<string, ConfValue>, source: string): Map<string, Role> {
  const auth = conf.authorization ?? conf.authorisation;
  if (!isMap(auth) || !Array.isArray(auth.users)) throw new Error(`${source}: no authorization { users = [...] }`);
  const out = new Map<string, Role>();
  for (const u of auth.users) {
    if (!isMap(u)) throw new Error(`${source}: a user that is not a map: ${JSON.stringify(u)}`);
    const name = String(u.user ?? u.nkey ?? '');
    if (!name) throw new Error(`${source}: a user without user or nkey`);
    if (out.has(name)) throw new Error(`${source}: user ${name} twice`);
    const p = isMap(u.permissions) ? u.permissions : undefined;
    out.set(name, {
      password: u.password === undefined ? undefined : String(u.password),
      publish: direction(p?.publish),
      subscribe: direction(p?.subscribe),
      allowResponses: p?.allow_responses,
      unrestricted: p === undefined,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The two files.

const CONF_FILE = 'deploy/nats/flywheel-nats.conf';
const K8S_FILE = 'deploy/k8s/nats.yaml';

const standalone = usersOf(parseNatsConf(readFileSync(join(ROOT, CONF_FILE), 'utf8'), CONF_FILE), CONF_FILE);

const k8sDocs = readYamlDocs(join(ROOT, K8S_FILE));
const configMap = k8sDocs.find((d) => d.kind === 'ConfigMap' && d.metadata?.name === 'nats-config');
const k8sConfText = configMap?.data?.['nats.conf'];
if (typeof k8sConfText !== 'string') throw new Error(`${K8S_FILE}: no ConfigMap nats-config with data "nats.conf"`);
const k8s = usersOf(parseNatsConf(k8sConfText, `${K8S_FILE} (nats-config nats.conf)`), K8S_FILE);

/** One user per service role (deploy/README.md, "The services"), plus admin for operators. */
const ROLES = ['worker', 'ps', 'inference', 'ingest', 'validator', 'dashboard', 'admin'];

t.test('the parser reads the NATS config format', async (t) => {
  const c = parseNatsConf([
    'listen: 0.0.0.0:4222   # trailing comment',
    'server_name = "a # b"',
    '// slash comment',
    'jetstream { store_dir: "/x", max_file_store: 1GB }',
    "routes [ nats://a:6222, nats://b:6222 ; 'c' ]",
    'authorization {',
    '  users = [',
    '    { user: a, password: $A_PASSWORD, permissions: { publish: "x.>", subscribe: ["y", "z"] } }',
    '    { user: b',
    '      permissions { publish { deny: [">"] }, allow_responses: true } }',
    '  ]',
    '}',
  ].join('\n'));
  t.equal(c.listen, '0.0.0.0:4222');
  t.equal(c.server_name, 'a # b');
  t.same(c.jetstream, { store_dir: '/x', max_file_store: '1GB' });
  t.same(c.routes, ['nats://a:6222', 'nats://b:6222', 'c']);
  const u = usersOf(c, 'inline');
  t.same(u.get('a'), { password: '$A_PASSWORD', publish: { allow: ['x.>'], deny: [] }, subscribe: { allow: ['y', 'z'], deny: [] }, allowResponses: undefined, unrestricted: false });
  t.same(u.get('b')?.publish, { allow: [], deny: ['>'] });
  t.equal(u.get('b')?.allowResponses, 'true');
  t.throws(() => parseNatsConf('a { b: [1, 2 }'), /line 1/);
  t.throws(() => parseNatsConf('a: "open'), /unterminated/);
});

t.test('both configs have the same users: one per role', async (t) => {
  t.same(sorted([...standalone.keys()]), sorted(ROLES), `${CONF_FILE}: users`);
  t.same(sorted([...k8s.keys()]), sorted(ROLES), `${K8S_FILE}: users`);
});

t.test('every role has the same permissions in both configs', async (t) => {
  for (const name of new Set([...standalone.keys(), ...k8s.keys()])) {
    const a = standalone.get(name);
    const b = k8s.get(name);
    if (!a || !b) { t.fail(`user ${name} only in ${a ? CONF_FILE : K8S_FILE}`); continue; }
    for (const dir of ['publish', 'subscribe'] as const) {
      for (const kind of ['allow', 'deny'] as const) {
        const onlyConf = a[dir][kind].filter((s) => !b[dir][kind].includes(s));
        const onlyK8s = b[dir][kind].filter((s) => !a[dir][kind].includes(s));
        t.same({ onlyConf, onlyK8s }, { onlyConf: [], onlyK8s: [] }, `${name}: ${dir} ${kind} (only in ${CONF_FILE} / only in ${K8S_FILE})`);
        t.equal(new Set(a[dir][kind]).size, a[dir][kind].length, `${name}: ${dir} ${kind} without duplicates in ${CONF_FILE}`);
        t.equal(new Set(b[dir][kind]).size, b[dir][kind].length, `${name}: ${dir} ${kind} without duplicates in ${K8S_FILE}`);
      }
    }
    t.same(a.allowResponses, b.allowResponses, `${name}: allow_responses`);
    t.equal(a.unrestricted, b.unrestricted, `${name}: has a permissions block in both or in neither`);
  }
  // Only admin may do everything; every other role is limited to allow lists.
  for (const [file, users] of [[CONF_FILE, standalone], [K8S_FILE, k8s]] as const) {
    for (const [name, r] of users) {
      if (name === 'admin') { t.ok(r.unrestricted, `${file}: admin unrestricted`); continue; }
      t.notOk(r.unrestricted, `${file}: ${name} has permissions`);
      t.ok(r.publish.allow.length > 0 || r.publish.deny.includes('>'), `${file}: ${name} publish is an allow list (or nothing)`);
      t.ok(r.subscribe.allow.length > 0, `${file}: ${name} subscribe is an allow list`);
    }
  }
});

t.test('passwords are $FLYWHEEL_NATS_<ROLE>_PASSWORD, set on the NATS StatefulSet', async (t) => {
  for (const [file, users] of [[CONF_FILE, standalone], [K8S_FILE, k8s]] as const) {
    for (const [name, r] of users) t.equal(r.password, `$FLYWHEEL_NATS_${name.toUpperCase()}_PASSWORD`, `${file}: ${name} password`);
  }
  const sts = k8sDocs.find((d) => d.kind === 'StatefulSet' && d.metadata?.name === 'nats');
  const env = new Set<string>((sts?.spec?.template?.spec?.containers ?? []).flatMap((c: Obj) => (c.env ?? []).map((e: Obj) => e.name)));
  for (const name of k8s.keys()) t.ok(env.has(`FLYWHEEL_NATS_${name.toUpperCase()}_PASSWORD`), `StatefulSet nats sets FLYWHEEL_NATS_${name.toUpperCase()}_PASSWORD`);
});

// ---------------------------------------------------------------------------------------------
// The permissions against the subjects the code uses.

/** NATS subject matching: "*" is one token, ">" one or more trailing tokens. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let k = 0; k < p.length; k++) {
    if (p[k] === '>') return s.length > k;
    if (k >= s.length || (p[k] !== '*' && p[k] !== s[k])) return false;
  }
  return p.length === s.length;
}

const M = 'retail';
/** What the services publish and subscribe on (shared/protocol.ts `subjects`), for one model. */
const CODE_SUBJECTS: Record<string, string> = {
  events: subjects.events(M, 0),
  'events (item key)': subjects.events(M, 0, 'item'),
  eventsAll: subjects.eventsAll(M).replace(/>$/, '0'),
  push: subjects.push(M, 0),
  weights: subjects.weights(M, 0),
  state: subjects.state(M, 0),
  metrics: subjects.metrics(M),
  serving: subjects.serving(M),
  heartbeat: subjects.heartbeat(M),
  psControl: subjects.psControl(M),
  psForget: subjects.psForget(M, 0),
  forget: subjects.forget(M),
};
/** fw. permissions with no subject in shared/protocol.ts yet: the worker may pull rows from a PS shard. */
const RESERVED = new Set(['fw.*.ps.*.pull']);

t.test('the fw. permissions name subjects of shared/protocol.ts', async (t) => {
  t.ok(matches('fw.*.weights.>', 'fw.m.weights.state.0') && !matches('fw.*.weights.*', 'fw.m.weights.state.0') && !matches('fw.>', 'fw'), 'matcher');
  const patterns = new Set([...standalone.values(), ...k8s.values()].flatMap((r) => [...r.publish.allow, ...r.subscribe.allow]).filter((p) => p.startsWith('fw.')));
  for (const p of patterns) {
    if (RESERVED.has(p)) continue;
    t.ok(Object.values(CODE_SUBJECTS).some((s) => matches(p, s)), `${p} matches a subject of shared/protocol.ts`);
  }
  const services = [...k8s].filter(([name]) => name !== 'admin');
  for (const [what, s] of Object.entries(CODE_SUBJECTS)) {
    t.ok(services.some(([, r]) => r.publish.allow.some((p) => matches(p, s))), `${what} (${s}): some role may publish it`);
    t.ok(services.some(([, r]) => r.subscribe.allow.some((p) => matches(p, s))), `${what} (${s}): some role may subscribe to it`);
  }
  for (const [name, r] of services) t.ok(r.publish.allow.some((p) => matches(p, CODE_SUBJECTS.heartbeat)), `${name} may publish its heartbeat`);
});

// Configuration: one schema with the defaults, merged from a JSON file, an overrides object
// and FLYWHEEL_* environment variables, validated once at start-up by zod. An unknown key, a
// wrong type or an out-of-range value fails fast naming the option ("ps.learningRate:
// expected number, received string"). Durations and sizes carry their unit in the name.
//
// Models: `models` lists every model the system runs ({ name, kind, settings }, settings
// validated by the kind's own schema); a config of one model may say `model`, `kind` and
// `settings` at the top level instead. `model` names the model a service process serves.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { readEnv, type FlywheelEnv } from './env.ts';
import { ConfigError } from './errors.ts';
import { UPDATE_RULE_NAMES } from './update-rules/registry.ts';
import { kindSpec, KIND_NAMES } from './models/kind-specs.ts';
import { AUTH_MODES, AUTH_ROUTES } from './http-auth.ts';

export type { LabelRule } from './labels.ts';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const port = int(0, 65535);
const modelName = z.string().regex(/^[A-Za-z0-9_-]{1,48}$/, 'must match [A-Za-z0-9_-]{1,48}');

const psSchema = z.object({
  /** Base learning rate; sparse tables multiply it by their lrScale. Default 0.01. */
  learningRate: z.number().positive().default(0.01),
  /** Momentum coefficient mu. Default 0.9. */
  momentum: z.number().min(0).lt(1).default(0.9),
  /** Nesterov momentum instead of classic. Default false. */
  nesterov: z.boolean().default(false),
  /** Update rule of the dense tensors (shared/update-rules/registry.ts); momentum with nesterov = Nesterov. Default momentum. */
  denseOptimizer: z.enum(UPDATE_RULE_NAMES).default('momentum'),
  /** How often dirty rows are written to the store and published. Default 100 ms. */
  publishIntervalMs: int(1, 60_000).default(100),
  /** async: apply every push; bounded: reject pushes staler than maxStaleness, damp the rest. */
  consistency: z.enum(['async', 'bounded']).default('async'),
  /** Versions a push may lag behind (bounded mode). Default 64. */
  maxStaleness: int(0).default(64),
  /** Clip each push's gradient to this global L2 norm; 0 disables. Default 100. */
  clipNorm: z.number().min(0).default(100),
  /** Pushes queued per shard before new ones are refused. Default 256. */
  mailboxCapacity: int(1).default(256),
  /** Recent sequence numbers remembered per worker for de-duplication. Default 4096. */
  dedupeWindow: int(1).default(4096),
  /**
   * A store that keeps nothing on disk (Redis with appendonly no and no save points) loses every
   * acknowledged update when it restarts. refuse: the shard will not start on one; allow: it
   * starts and warns (the local cluster, tests). Default refuse.
   */
  volatileStore: z.enum(['refuse', 'allow']).default('refuse'),
  /**
   * Which rows a shard's sparse tables keep (shared/row-bounds.ts, docs/ARCHITECTURE.md
   * "Bounded tables"); the in-process twin applies the same bounds. Each is off by default.
   */
  rows: z.object({
    /** Pushes a new row id must come in before it gets a row (a frequency filter); 1 = at once. Counter tables are exempt. */
    admitAfter: int(1, 255).default(1),
    /** Evict rows unused for this long, in the pushes' event time (ms); 0 = never. */
    ttlMs: int(0).default(0),
    /** Bytes the sparse tables of one shard may hold; past it the least recently used rows are evicted. 0 = unbounded. */
    budgetBytes: int(0).default(0),
  }).strict().default({ admitAfter: 1, ttlMs: 0, budgetBytes: 0 }),
}).strict();

const workerSchema = z.object({
  /** Examples per training step. Default 256. */
  batchSize: int(1, 1 << 16).default(256),
  /** A partial batch is trained after this wait. Default 50 ms. */
  batchMaxWaitMs: int(0).default(50),
  /** Gradient pushes awaiting a reply, per worker. Default 2. */
  maxInFlightPushes: int(1, 64).default(2),
  /** JetStream messages delivered but not yet acked, per event shard. Default 256. */
  maxUnackedMessages: int(1).default(256),
  /**
   * Each step waits until the replica it reads holds this worker's previous pushes (their
   * deltas published back), so no step learns from weights older than its own last update:
   * the services then train as the in-process twin does, at the cost of a push round trip and
   * a PS publish interval per step. For small, drifting streams where a few hundred examples
   * of staleness cost accuracy (risk: docs/MODELS.md). Default false.
   */
  readOwnWrites: z.boolean().default(false),
  /**
   * A step waits (up to pushTimeoutMs, counted) until the replica it reads is at most this many
   * versions behind, on every PS shard, what this worker's last accepted push made there. Async
   * pushes with momentum diverge when the gradients come from weights too far behind: how far
   * behind depends on the machine's speed against the PS publish interval, so the bound is in
   * versions, not time. Default 16 (docs/ARCHITECTURE.md, "Staleness").
   */
  maxReplicaLag: int(0).default(16),
  /** Time to wait for a PS reply before retrying the push. Default 5000 ms. */
  pushTimeoutMs: int(1).default(5000),
  /** How often training metrics are published. Default 1000 ms. */
  metricsIntervalMs: int(1).default(1000),
  /** Event-shard lease TTL: a dead worker's shards are taken over within about this time.
   *  0 = static assignment (worker i trains shards s with s mod workers = i). Default 10000 ms
   *  (shorter TTLs flap on a loaded 2-core machine, where the event loop can stall for seconds). */
  leaseTtlMs: z.union([z.literal(0), int(100)]).default(10_000),
  /** JetStream ack deadline: an unacked message is redelivered after it. Default 30000 ms. */
  ackWaitMs: int(1000).default(30_000),
  /** Replayed past examples mixed into each batch, as a fraction of the batch size (a
   *  reservoir against forgetting). 0 = off. Default 0. */
  replayFraction: z.number().min(0).max(4).default(0),
  /** Examples kept in the replay reservoir. Default 50000. */
  replayCapacity: int(1).default(50_000),
  /** Prequential metrics are kept per bucket of event time of this width. Default 86400000 ms (a day). */
  evalBucketMs: int(1).default(86_400_000),
}).strict();

const httpSchema = z.object({
  /**
   * When the HTTP routes that need an API token (FLYWHEEL_API_TOKENS) require one: auto, when
   * the server binds an address other than loopback (a loopback server is reachable only from
   * its machine: the local cluster, tests); required, always; off, never (a warning at start
   * when bound outside loopback). A server that needs tokens and has none refuses to start.
   * Default auto.
   */
  auth: z.enum(AUTH_MODES).default('auto'),
  /**
   * Which routes need a token: writes, every POST/PUT/PATCH/DELETE that changes state
   * (ingest's POST /v1/events), not the queries that take a body (inference's POST /v1/predict,
   * /v1/recommend, /v1/forecast, /v1/score, /v1/value); all, every route and /metrics too,
   * except /healthz, /readyz (probes send no credentials) and /openapi.json. Default writes.
   */
  authRoutes: z.enum(AUTH_ROUTES).default('writes'),
  /** Address of the separate /metrics listener of a service given a metricsPort. Default 127.0.0.1. */
  metricsHost: z.string().min(1).default('127.0.0.1'),
}).strict();

const ingestSchema = z.object({
  /** HTTP port. Default 8080. */
  port: port.default(8080),
  /** Port of a separate /metrics listener (on http.metricsHost); the main port then serves no /metrics. 0 = /metrics on the main port. Default 0. */
  metricsPort: port.default(0),
  /** Largest request body accepted. Default 8388608 bytes (8 MiB). */
  maxBodyBytes: int(1).default(8 * 1024 * 1024),
  /** Events packed into one JetStream message. Default 128. */
  maxEventsPerMessage: int(1).default(128),
  /** Events per request. Default 10000. */
  maxEventsPerRequest: int(1).default(10_000),
  /**
   * How long a request's Idempotency-Key is remembered (with its body's hash and its answer), so
   * that a retry within it replays the answer instead of publishing again. Default 86400 s (a
   * day, as Stripe keeps them); at most 30 days.
   */
  idempotencyTtlSeconds: int(1, 30 * 86_400).default(86_400),
  /**
   * Bytes of request bodies being read or parsed at once, over all requests: past it a request
   * gets 503 with Retry-After instead of taking memory the process may not have (parsing holds
   * a few times the body). At least maxBodyBytes. Default 67108864 bytes (64 MiB).
   */
  maxInflightBodyBytes: int(1).default(64 * 1024 * 1024),
}).strict().superRefine((o, ctx) => {
  // A smaller budget would refuse every body of the largest allowed size, forever.
  if (o.maxInflightBodyBytes < o.maxBodyBytes) {
    ctx.addIssue({ code: 'custom', path: ['maxInflightBodyBytes'], message: `must be at least ingest.maxBodyBytes (${o.maxBodyBytes})` });
  }
  if (o.metricsPort !== 0 && o.metricsPort === o.port) ctx.addIssue({ code: 'custom', path: ['metricsPort'], message: `must differ from ingest.port (${o.port})` });
});

const inferenceSchema = z.object({
  /** HTTP port. Default 8081. */
  port: port.default(8081),
  /** Same as ingest.metricsPort. Default 0. */
  metricsPort: port.default(0),
  /** Examples per /v1/predict request. Default 1000. */
  maxBatch: int(1).default(1000),
}).strict().superRefine((o, ctx) => {
  if (o.metricsPort !== 0 && o.metricsPort === o.port) ctx.addIssue({ code: 'custom', path: ['metricsPort'], message: `must differ from inference.port (${o.port})` });
});

const dashboardSchema = z.object({
  /** HTTP port of the live dashboard (`flywheel dashboard`). Default 8090. */
  port: port.default(8090),
  /** Same as ingest.metricsPort. Default 0. */
  metricsPort: port.default(0),
}).strict().superRefine((o, ctx) => {
  if (o.metricsPort !== 0 && o.metricsPort === o.port) ctx.addIssue({ code: 'custom', path: ['metricsPort'], message: `must differ from dashboard.port (${o.port})` });
});

const validatorSchema = z.object({
  /** Same as ingest.metricsPort (the validator's main port is its --port). Default 0. */
  metricsPort: port.default(0),
}).strict();

const gateSchema = z.object({
  /** Events per thousand held out of training for validation (by hash of user, item, time);
   *  0 turns the validation gate off and inference serves the newest weights. Default 0. */
  holdoutPermille: int(0, 500).default(0),
  /** How often the validator evaluates a candidate. Default 2000 ms. */
  intervalMs: int(10).default(2000),
  /** A candidate passes if its holdout headline metric is not worse than serving's by more
   *  than this (in the metric's units: AUC, WAPE...). Default 0.005. */
  tolerance: z.number().min(0).default(0.005),
  /** New held-out data whose headline metric under the serving model is this much worse than
   *  the holdout's is quarantined (suspected label poisoning or a broken feed). Default 0.1. */
  admitTolerance: z.number().min(0).default(0.1),
  /** Consecutive quarantined chunks before the data is accepted as a real drift. Default 30. */
  maxQuarantineRounds: int(0).default(30),
  /** Evaluations need at least this many holdout examples. Default 1000. */
  minHoldoutExamples: int(1).default(1000),
  /** The holdout keeps the most recent examples up to this count. Default 20000. */
  maxHoldoutExamples: int(1).default(20_000),
  /** New held-out examples gathered before they are judged as one chunk. Default 300. */
  chunkExamples: int(1).default(300),
  /** On a rejection the PS learning rate is multiplied by this (the adjustment step), down to
   *  1/16 of the configured rate. Default 0.5. */
  lrDecay: z.number().gt(0).max(1).default(0.5),
  /** After this many rejections in a row the PS weights are rolled back to the serving
   *  checkpoint (0 = never). Default 3. */
  rollbackAfterRejections: int(0).default(3),
}).strict();

const modelDeclSchema = z.object({
  /** Subjects fw.<name>.*, keys fw:{<name>:k}:*. */
  name: modelName,
  /** A registered kind (shared/models/). */
  kind: z.enum(KIND_NAMES as [string, ...string[]]),
  /** The kind's own settings, validated by its schema. Default {}. */
  settings: z.record(z.string(), z.unknown()).default({}),
}).strict();

const configSchema = z.object({
  /** The model this process serves. Default: the first of `models`, else "retail". */
  model: modelName.optional(),
  /** Single-model shorthand: the kind of `model`. Default "ctr". */
  kind: z.enum(KIND_NAMES as [string, ...string[]]).optional(),
  /** Single-model shorthand: the settings of `model`. */
  settings: z.record(z.string(), z.unknown()).optional(),
  /** Every model of the system; ingest feeds them all from one event stream. */
  models: z.array(modelDeclSchema).min(1).optional(),
  /** Name of the event stream (JetStream FW_<stream>_EVENTS). Default: the first model's name. */
  stream: modelName.optional(),
  /**
   * How long the event stream keeps events (hours). It bounds what a worker or inference node
   * can rebuild from the log: a demand model needs its longest history (24 trading days, so
   * about 800 h) where it runs on live traffic. Applies when the stream is created. Default 24.
   */
  streamRetentionHours: z.number().positive().max(24 * 366 * 10).default(24),
  /**
   * Copies of the event stream JetStream keeps (its num_replicas), each on another NATS server:
   * with 3 the stream, and every event not yet trained on, survives the loss of one server.
   * Needs a NATS cluster of at least that many servers; JetStream allows at most 5. Applies
   * when the stream is created. Default 1.
   */
  streamReplicas: int(1, 5).default(1),
  /** Seed of the deterministic initial values. Default 42. */
  seed: int(0, 2 ** 32 - 1).default(42),
  /** NATS servers, comma-separated. Default nats://127.0.0.1:4222. */
  natsUrl: z.string().min(1).default('nats://127.0.0.1:4222'),
  /**
   * One Redis server (redis://, rediss:// for TLS), or a Redis Cluster: redis+cluster:// (or
   * rediss+cluster://) and some of its nodes, comma-separated host:port; every Redis user then
   * connects with an ioredis Cluster. Default redis://127.0.0.1:6379.
   */
  redisUrl: z.string().regex(/^rediss?(\+cluster)?:\/\//, 'must start with redis://, rediss://, redis+cluster:// or rediss+cluster://').default('redis://127.0.0.1:6379'),
  /**
   * Replicas that must have each PS snapshot write (Redis WAIT) before the shard counts it as
   * persisted and workers ack its events. Redis replication is asynchronous: without it a
   * master killed just after a write may fail over to a replica that lacks it. A write that
   * reaches fewer within 1 s fails and is retried, so with one replica per master a failed-over
   * master (left without a replica) takes no writes until a replica is back. Default 0.
   */
  redisWaitReplicas: int(0, 5).default(0),
  /** Parameter-server shards K. Default 1. */
  psShards: int(1, 1024).default(1),
  /** Event stream shards S (hash(shard key) mod S). Default 4. */
  eventShards: int(1, 1024).default(4),
  /** Workers W per model; with static assignment worker i consumes the event shards s with s mod W = i. Default 1. */
  workers: int(1, 1024).default(1),
  /** Port of the /metrics and /healthz server of PS shard k: basePort + k (0 = none). Default 9100. */
  psMetricsBasePort: port.default(9100),
  /** Same for worker i. Default 9200. */
  workerMetricsBasePort: port.default(9200),
  http: httpSchema.default(httpSchema.parse({})),
  ps: psSchema.default(psSchema.parse({})),
  worker: workerSchema.default(workerSchema.parse({})),
  ingest: ingestSchema.default(ingestSchema.parse({})),
  inference: inferenceSchema.default(inferenceSchema.parse({})),
  gate: gateSchema.default(gateSchema.parse({})),
  dashboard: dashboardSchema.default(dashboardSchema.parse({})),
  validator: validatorSchema.default(validatorSchema.parse({})),
}).strict();

export type HttpConfig = z.infer<typeof httpSchema>;
export type PsConfig = z.infer<typeof psSchema>;
export type WorkerConfig = z.infer<typeof workerSchema>;
export type IngestConfig = z.infer<typeof ingestSchema>;
export type InferenceConfig = z.infer<typeof inferenceSchema>;
export type GateConfig = z.infer<typeof gateSchema>;
export type DashboardConfig = z.infer<typeof dashboardSchema>;
export type ValidatorConfig = z.infer<typeof validatorSchema>;

export interface ModelDecl {
  name: string;
  kind: string;
  /** Validated by the kind's schema, its defaults filled in. */
  settings: Record<string, unknown>;
}

type Parsed = z.infer<typeof configSchema>;

export interface FlywheelConfig extends Omit<Parsed, 'model' | 'kind' | 'settings' | 'models' | 'stream'> {
  /** The model this process serves (one of `models`). */
  model: string;
  models: ModelDecl[];
  stream: string;
}

/** A zod failure as the ConfigError of its first issue, naming the option by its path. */
function configErrorOf(err: z.ZodError, prefix = ''): ConfigError {
  const issue = err.issues[0];
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  const keys = (issue as { keys?: string[] }).keys;
  if (issue.code === 'unrecognized_keys' && keys?.length) return new ConfigError(path ? `${path}.${keys[0]}` : keys[0], 'unknown option');
  return new ConfigError(path || '(root)', issue.message);
}

/** Validates a raw config object: defaults filled in, every model's settings by its kind. */
export function validateConfig(raw: unknown): FlywheelConfig {
  const r = configSchema.safeParse(raw);
  if (!r.success) throw configErrorOf(r.error);
  const p = r.data;
  let models: ModelDecl[];
  if (p.models) {
    if (p.kind !== undefined || p.settings !== undefined) {
      throw new ConfigError(p.kind !== undefined ? 'kind' : 'settings', 'give each model its kind and settings in `models`, not at the top level');
    }
    models = p.models.map((m) => ({ ...m }));
  } else {
    models = [{ name: p.model ?? 'retail', kind: p.kind ?? 'ctr', settings: p.settings ?? {} }];
  }
  const names = new Set<string>();
  models.forEach((m, i) => {
    if (names.has(m.name)) throw new ConfigError(`models.${i}.name`, `model "${m.name}" is declared twice`);
    names.add(m.name);
    const s = kindSpec(m.kind).configSchema.safeParse(m.settings);
    if (!s.success) throw configErrorOf(s.error, p.models ? `models.${i}.settings` : 'settings');
    m.settings = s.data as Record<string, unknown>;
  });
  const model = p.model ?? models[0].name;
  if (!names.has(model)) throw new ConfigError('model', `"${model}" is not one of the models declared (${[...names].join(', ')})`);
  const { kind: _k, settings: _s, ...rest } = p;
  return { ...rest, model, models, stream: p.stream ?? models[0].name };
}

export const DEFAULT_CONFIG: FlywheelConfig = validateConfig({});

/** The declaration of model `name` (default: the one this process serves). */
export function modelDecl(cfg: FlywheelConfig, name: string = cfg.model): ModelDecl {
  const m = cfg.models.find((x) => x.name === name);
  if (!m) throw new ConfigError('model', `"${name}" is not one of the models declared (${cfg.models.map((x) => x.name).join(', ')})`);
  return m;
}

/** The same config serving another of its models. */
export function forModel(cfg: FlywheelConfig, name: string): FlywheelConfig {
  modelDecl(cfg, name);
  return { ...cfg, model: name };
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Deep-merges `over` onto `base`; arrays and the label rule are replaced whole. */
function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    out[k] = isPlain(b) && isPlain(v) && k !== 'labels' ? merge(b, v) : v;
  }
  return out;
}

/** Environment variables (shared/env.ts) that override single options (deploy-time knobs). */
const ENV_OVERRIDES: [keyof FlywheelEnv, (c: Plain, v: string) => void][] = [
  ['model', (c, v) => { c.model = v; }],
  ['natsUrl', (c, v) => { c.natsUrl = v; }],
  ['redisUrl', (c, v) => { c.redisUrl = v; }],
  ['psShards', (c, v) => { c.psShards = Number(v); }],
  ['workers', (c, v) => { c.workers = Number(v); }],
];

/** Builds the config: defaults <- JSON file <- overrides object <- environment. */
export function loadConfig(opts: { file?: string; overrides?: Plain; env?: NodeJS.ProcessEnv } = {}): FlywheelConfig {
  let c: Plain = {};
  const env = readEnv(opts.env ?? process.env);
  const file = opts.file ?? env.config;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError('config file', `cannot read ${file}: ${(err as Error).message}`);
    }
    if (!isPlain(parsed)) throw new ConfigError('config file', `${file} must hold a JSON object`);
    c = merge(c, parsed);
  }
  if (opts.overrides) c = merge(c, opts.overrides);
  for (const [name, set] of ENV_OVERRIDES) if (env[name]) set(c, env[name] as string);
  return validateConfig(c);
}

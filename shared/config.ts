// Configuration: one defaults object, merged with a JSON file and FLYWHEEL_* environment
// variables, validated once at start-up. An unknown or out-of-range option fails fast with
// its full name. Durations and sizes carry their unit in the name.
import { readFileSync } from 'node:fs';
import { readEnv, type FlywheelEnv } from './env.ts';
import { ConfigError } from './errors.ts';
import { CTR_MODEL_DEFAULTS, type CtrModelConfig } from './model/ctr-spec.ts';

export type LabelRule =
  /** Events of these types are positives, every other type a negative (e.g. Taobao: view = 0). */
  | { kind: 'types'; positive: string[] }
  /** Every event is a positive; the worker samples `negatives` per positive by item popularity. */
  | { kind: 'implicit'; negatives: number; /** Past positives whose popularity the negatives follow. Default 1000000. */ window?: number }
  /** value >= min is a positive (e.g. a rating of 4 or more). */
  | { kind: 'threshold'; min: number };

export interface PsConfig {
  /** Base learning rate; sparse tables multiply it by their lrScale. Default 0.01. */
  learningRate: number;
  /** Momentum coefficient mu. Default 0.9. */
  momentum: number;
  /** Nesterov momentum instead of classic. Default false. */
  nesterov: boolean;
  /** How often dirty rows are written to the store and published. Default 100 ms. */
  publishIntervalMs: number;
  /** async: apply every push; bounded: reject pushes staler than maxStaleness, damp the rest. */
  consistency: 'async' | 'bounded';
  /** Versions a push may lag behind (bounded mode). Default 64. */
  maxStaleness: number;
  /** Clip each push's gradient to this global L2 norm; 0 disables. Default 100. */
  clipNorm: number;
  /** Pushes queued per shard before new ones are refused. Default 256. */
  mailboxCapacity: number;
  /** Recent sequence numbers remembered per worker for de-duplication. Default 4096. */
  dedupeWindow: number;
}

export interface WorkerConfig {
  /** Examples per training step. Default 256. */
  batchSize: number;
  /** A partial batch is trained after this wait. Default 50 ms. */
  batchMaxWaitMs: number;
  /** Gradient pushes awaiting a reply, per worker. Default 2. */
  maxInFlightPushes: number;
  /** JetStream messages delivered but not yet acked, per event shard. Default 256. */
  maxUnackedMessages: number;
  /** Time to wait for a PS reply before retrying the push. Default 5000 ms. */
  pushTimeoutMs: number;
  /** How often training metrics are published. Default 1000 ms. */
  metricsIntervalMs: number;
  /** Event-shard lease TTL: a dead worker's shards are taken over within about this time.
   *  0 = static assignment (worker i trains shards s with s mod workers = i). Default 10000 ms
   *  (shorter TTLs flap on a loaded 2-core machine, where the event loop can stall for seconds). */
  leaseTtlMs: number;
  /** JetStream ack deadline: an unacked message is redelivered after it. Default 30000 ms. */
  ackWaitMs: number;
  /** Replayed past examples mixed into each batch, as a fraction of the batch size (a
   *  reservoir against forgetting). 0 = off. Default 0. */
  replayFraction: number;
  /** Examples kept in the replay reservoir. Default 50000. */
  replayCapacity: number;
  /** Prequential metrics are kept per bucket of event time of this width. Default 86400000 ms (a day). */
  evalBucketMs: number;
}

export interface IngestConfig {
  /** HTTP port. Default 8080. */
  port: number;
  /** Largest request body accepted. Default 8388608 bytes (8 MiB). */
  maxBodyBytes: number;
  /** Events packed into one JetStream message. Default 128. */
  maxEventsPerMessage: number;
  /** Events per request. Default 10000. */
  maxEventsPerRequest: number;
}

export interface InferenceConfig {
  /** HTTP port. Default 8081. */
  port: number;
  /** Examples per /v1/predict request. Default 1000. */
  maxBatch: number;
}

export interface GateConfig {
  /** Events per thousand held out of training for validation (by hash of user, item, time);
   *  0 turns the validation gate off and inference serves the newest weights. Default 0. */
  holdoutPermille: number;
  /** How often the validator evaluates a candidate. Default 2000 ms. */
  intervalMs: number;
  /** A candidate passes if its holdout AUC >= serving AUC - tolerance. Default 0.005. */
  tolerance: number;
  /** New held-out data whose AUC under the serving model is this much below the holdout's is
   *  quarantined (suspected label poisoning or a broken feed). Default 0.1. */
  admitTolerance: number;
  /** Consecutive quarantined chunks before the data is accepted as a real drift. Default 30. */
  maxQuarantineRounds: number;
  /** Evaluations need at least this many holdout examples. Default 1000. */
  minHoldoutExamples: number;
  /** The holdout keeps the most recent examples up to this count. Default 20000. */
  maxHoldoutExamples: number;
  /** New held-out examples gathered before they are judged as one chunk. Default 300. */
  chunkExamples: number;
  /** On a rejection the PS learning rate is multiplied by this (the adjustment step), down to
   *  1/16 of the configured rate. Default 0.5. */
  lrDecay: number;
  /** After this many rejections in a row the PS weights are rolled back to the serving
   *  checkpoint (0 = never). Default 3. */
  rollbackAfterRejections: number;
}

export interface FlywheelConfig {
  /** Model name: subjects fw.<model>.*, keys fw:{<model>:k}:*. Default "retail". */
  model: string;
  /** Seed of the deterministic initial values. Default 42. */
  seed: number;
  /** NATS servers, comma-separated. Default nats://127.0.0.1:4222. */
  natsUrl: string;
  /** Default redis://127.0.0.1:6379. */
  redisUrl: string;
  /** Parameter-server shards K. Default 1. */
  psShards: number;
  /** Event stream shards S (hash(user) mod S). Default 4. */
  eventShards: number;
  /** Workers W; worker i consumes the event shards s with s mod W = i. Default 1. */
  workers: number;
  /** Port of the /metrics and /healthz server of PS shard k: basePort + k (0 = none). Default 9100. */
  psMetricsBasePort: number;
  /** Same for worker i. Default 9200. */
  workerMetricsBasePort: number;
  labels: LabelRule;
  ctr: CtrModelConfig;
  ps: PsConfig;
  worker: WorkerConfig;
  ingest: IngestConfig;
  inference: InferenceConfig;
  gate: GateConfig;
}

export const DEFAULT_CONFIG: FlywheelConfig = {
  model: 'retail',
  seed: 42,
  natsUrl: 'nats://127.0.0.1:4222',
  redisUrl: 'redis://127.0.0.1:6379',
  psShards: 1,
  eventShards: 4,
  workers: 1,
  psMetricsBasePort: 9100,
  workerMetricsBasePort: 9200,
  labels: { kind: 'types', positive: ['cart', 'fav', 'buy'] },
  ctr: CTR_MODEL_DEFAULTS,
  ps: {
    learningRate: 0.01, momentum: 0.9, nesterov: false, publishIntervalMs: 100, consistency: 'async',
    maxStaleness: 64, clipNorm: 100, mailboxCapacity: 256, dedupeWindow: 4096,
  },
  worker: { batchSize: 256, batchMaxWaitMs: 50, maxInFlightPushes: 2, maxUnackedMessages: 256, pushTimeoutMs: 5000, metricsIntervalMs: 1000, evalBucketMs: 86_400_000, leaseTtlMs: 10_000, ackWaitMs: 30_000, replayFraction: 0, replayCapacity: 50_000 },
  ingest: { port: 8080, maxBodyBytes: 8 * 1024 * 1024, maxEventsPerMessage: 128, maxEventsPerRequest: 10_000 },
  inference: { port: 8081, maxBatch: 1000 },
  gate: {
    holdoutPermille: 0, intervalMs: 2000, tolerance: 0.005, admitTolerance: 0.1, maxQuarantineRounds: 30,
    minHoldoutExamples: 1000, maxHoldoutExamples: 20_000, chunkExamples: 300, lrDecay: 0.5, rollbackAfterRejections: 3,
  },
};

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Deep-merges `over` onto `base`, refusing keys the base does not have (typos fail fast). */
function merge(base: Plain, over: Plain, path: string): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const name = path ? `${path}.${k}` : k;
    if (!(k in base)) throw new ConfigError(name, 'unknown option');
    const b = base[k];
    if (isPlain(b) && isPlain(v) && k !== 'labels') out[k] = merge(b, v, name);
    else out[k] = v;
  }
  return out;
}

function check(cond: boolean, option: string, msg: string): void {
  if (!cond) throw new ConfigError(option, msg);
}

const int = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const pos = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;

export function validateConfig(c: FlywheelConfig): FlywheelConfig {
  check(typeof c.model === 'string' && /^[A-Za-z0-9_-]{1,48}$/.test(c.model), 'model', 'must match [A-Za-z0-9_-]{1,48}');
  check(int(c.seed, 0, 2 ** 32 - 1), 'seed', 'must be an integer in 0..2^32-1');
  check(typeof c.natsUrl === 'string' && c.natsUrl.length > 0, 'natsUrl', 'must be a non-empty string');
  check(typeof c.redisUrl === 'string' && /^rediss?:\/\//.test(c.redisUrl), 'redisUrl', 'must start with redis:// or rediss://');
  check(int(c.psShards, 1, 1024), 'psShards', 'must be an integer in 1..1024');
  check(int(c.eventShards, 1, 1024), 'eventShards', 'must be an integer in 1..1024');
  check(int(c.workers, 1, 1024), 'workers', 'must be an integer in 1..1024');
  check(int(c.psMetricsBasePort, 0, 65535) && int(c.workerMetricsBasePort, 0, 65535), 'psMetricsBasePort', 'ports must be in 0..65535');
  const l = c.labels as LabelRule;
  check(isPlain(l) && ['types', 'implicit', 'threshold'].includes(l.kind), 'labels.kind', 'must be types, implicit or threshold');
  if (l.kind === 'types') check(Array.isArray(l.positive) && l.positive.length > 0, 'labels.positive', 'must list event types');
  if (l.kind === 'implicit') check(int(l.negatives, 1, 100), 'labels.negatives', 'must be an integer in 1..100');
  if (l.kind === 'implicit' && l.window !== undefined) check(int(l.window, 1, 1e8), 'labels.window', 'must be an integer in 1..1e8');
  if (l.kind === 'threshold') check(typeof l.min === 'number' && Number.isFinite(l.min), 'labels.min', 'must be a number');
  check(Array.isArray(c.ctr.fields) && c.ctr.fields.length > 0 && c.ctr.fields.every((f) => /^[A-Za-z_][A-Za-z0-9_]{0,31}$/.test(f)), 'ctr.fields', 'must be a non-empty list of field names');
  check(int(c.ctr.embDim, 1, 512), 'ctr.embDim', 'must be an integer in 1..512');
  check(int(c.ctr.buckets, 2, 2 ** 30), 'ctr.buckets', 'must be an integer in 2..2^30');
  check(Array.isArray(c.ctr.hidden) && c.ctr.hidden.length > 0 && c.ctr.hidden.every((h) => int(h, 1, 8192)), 'ctr.hidden', 'must list layer widths');
  check(pos(c.ctr.embLrScale) && pos(c.ctr.biasLrScale), 'ctr.embLrScale', 'learning-rate scales must be > 0');
  check(['momentum', 'adagrad'].includes(c.ctr.sparseOptimizer), 'ctr.sparseOptimizer', 'must be momentum or adagrad');
  check(pos(c.ps.learningRate), 'ps.learningRate', 'must be > 0');
  check(typeof c.ps.momentum === 'number' && c.ps.momentum >= 0 && c.ps.momentum < 1, 'ps.momentum', 'must be in [0, 1)');
  check(typeof c.ps.nesterov === 'boolean', 'ps.nesterov', 'must be true or false');
  check(int(c.ps.publishIntervalMs, 1, 60_000), 'ps.publishIntervalMs', 'must be an integer in 1..60000');
  check(['async', 'bounded'].includes(c.ps.consistency), 'ps.consistency', 'must be async or bounded');
  check(int(c.ps.maxStaleness, 0), 'ps.maxStaleness', 'must be an integer >= 0');
  check(typeof c.ps.clipNorm === 'number' && c.ps.clipNorm >= 0, 'ps.clipNorm', 'must be >= 0');
  check(int(c.ps.mailboxCapacity, 1) && int(c.ps.dedupeWindow, 1), 'ps.mailboxCapacity', 'must be an integer >= 1');
  check(int(c.worker.batchSize, 1, 1 << 16), 'worker.batchSize', 'must be an integer in 1..65536');
  check(int(c.worker.batchMaxWaitMs, 0), 'worker.batchMaxWaitMs', 'must be an integer >= 0');
  check(int(c.worker.maxInFlightPushes, 1, 64), 'worker.maxInFlightPushes', 'must be an integer in 1..64');
  check(int(c.worker.maxUnackedMessages, 1), 'worker.maxUnackedMessages', 'must be an integer >= 1');
  check(int(c.worker.pushTimeoutMs, 1) && int(c.worker.metricsIntervalMs, 1), 'worker.pushTimeoutMs', 'must be an integer >= 1');
  check(int(c.worker.evalBucketMs, 1), 'worker.evalBucketMs', 'must be an integer >= 1');
  check(c.worker.leaseTtlMs === 0 || int(c.worker.leaseTtlMs, 100), 'worker.leaseTtlMs', 'must be 0 or an integer >= 100');
  check(int(c.worker.ackWaitMs, 1000), 'worker.ackWaitMs', 'must be an integer >= 1000');
  check(typeof c.worker.replayFraction === 'number' && c.worker.replayFraction >= 0 && c.worker.replayFraction <= 4, 'worker.replayFraction', 'must be in 0..4');
  check(int(c.worker.replayCapacity, 1), 'worker.replayCapacity', 'must be an integer >= 1');
  check(int(c.ingest.port, 0, 65535) && int(c.inference.port, 0, 65535), 'ingest.port', 'ports must be in 0..65535');
  check(int(c.ingest.maxBodyBytes, 1) && int(c.ingest.maxEventsPerMessage, 1) && int(c.ingest.maxEventsPerRequest, 1), 'ingest.maxBodyBytes', 'must be an integer >= 1');
  check(int(c.inference.maxBatch, 1), 'inference.maxBatch', 'must be an integer >= 1');
  check(int(c.gate.holdoutPermille, 0, 500), 'gate.holdoutPermille', 'must be an integer in 0..500');
  check(int(c.gate.intervalMs, 10) && int(c.gate.maxQuarantineRounds, 0), 'gate.intervalMs', 'must be an integer >= 10');
  check(c.gate.tolerance >= 0 && c.gate.admitTolerance >= 0, 'gate.tolerance', 'tolerances must be >= 0');
  check(int(c.gate.minHoldoutExamples, 1) && int(c.gate.maxHoldoutExamples, 1) && int(c.gate.chunkExamples, 1), 'gate.minHoldoutExamples', 'must be an integer >= 1');
  check(c.gate.lrDecay > 0 && c.gate.lrDecay <= 1, 'gate.lrDecay', 'must be in (0, 1]');
  check(int(c.gate.rollbackAfterRejections, 0), 'gate.rollbackAfterRejections', 'must be an integer >= 0');
  return c;
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
  let c: Plain = structuredClone(DEFAULT_CONFIG) as unknown as Plain;
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
    c = merge(c, parsed, '');
  }
  if (opts.overrides) c = merge(c, opts.overrides, '');
  for (const [name, set] of ENV_OVERRIDES) if (env[name]) set(c, env[name] as string);
  return validateConfig(c as unknown as FlywheelConfig);
}

// Every FLYWHEEL_* environment variable, read in this one place into a typed object; other
// modules take their values from readEnv() (or from the config it feeds) instead of reading
// process.env. The table is the documentation: name, meaning, default. The shell scripts read
// a few of their own (listed last); they are documented here too so there is one list.

export interface EnvVarDoc {
  name: string;
  meaning: string;
  default: string;
  /** Read by a shell script, not by the TypeScript code. */
  script?: string;
}

export const ENV_VARS: readonly EnvVarDoc[] = [
  { name: 'FLYWHEEL_CONFIG', meaning: 'JSON config file over the defaults (when --config is not given)', default: 'none' },
  { name: 'FLYWHEEL_MODEL', meaning: 'overrides the config option model', default: 'the config\'s' },
  { name: 'FLYWHEEL_NATS_URL', meaning: 'overrides natsUrl; also used by every command for the services it starts', default: 'nats://127.0.0.1:4222' },
  { name: 'FLYWHEEL_REDIS_URL', meaning: 'overrides redisUrl; also used by every command for the services it starts', default: 'redis://127.0.0.1:6379' },
  { name: 'FLYWHEEL_PS_SHARDS', meaning: 'overrides psShards', default: 'the config\'s' },
  { name: 'FLYWHEEL_WORKERS', meaning: 'overrides workers', default: 'the config\'s' },
  { name: 'FLYWHEEL_PS_SHARD', meaning: 'the shard of a ps process started without --shard', default: '0' },
  { name: 'FLYWHEEL_WORKER_INDEX', meaning: 'the index of a worker process started without --index', default: '0' },
  { name: 'FLYWHEEL_LOG_LEVEL', meaning: 'pino log level of the services', default: 'info' },
  { name: 'FLYWHEEL_HTTP_HOST', meaning: 'address the HTTP servers bind', default: '127.0.0.1' },
  { name: 'FLYWHEEL_API_TOKENS', meaning: 'API tokens (comma-separated, 16+ printable characters each) accepted on the HTTP routes that need one (http.auth)', default: 'none' },
  { name: 'FLYWHEEL_API_TOKENS_FILE', meaning: 'file of API tokens, one a line (# comments), read with FLYWHEEL_API_TOKENS', default: 'none' },
  { name: 'FLYWHEEL_TF_BACKEND', meaning: 'cpu | wasm | tensorflow: forces a tfjs backend', default: 'first that loads: tfjs-node-gpu, tfjs-node, wasm, cpu' },
  { name: 'FLYWHEEL_DATA_DIR', meaning: 'datasets kept outside the repository (Taobao, MovieLens)', default: '../shared/data beside the checkout' },
  { name: 'FLYWHEEL_NATS_USER', meaning: 'NATS user (with FLYWHEEL_NATS_PASSWORD)', default: 'none' },
  { name: 'FLYWHEEL_NATS_PASSWORD', meaning: 'NATS password (FLYWHEEL_NATS_PASS is read too)', default: 'none' },
  { name: 'FLYWHEEL_NATS_TOKEN', meaning: 'NATS token', default: 'none' },
  { name: 'FLYWHEEL_NATS_NKEY_SEED_FILE', meaning: 'file holding a NATS user nkey seed', default: 'none' },
  { name: 'FLYWHEEL_NATS_CREDS_FILE', meaning: 'NATS credentials file', default: 'none' },
  { name: 'FLYWHEEL_NATS_TLS_CA', meaning: 'PEM file: CA of the NATS server', default: 'none' },
  { name: 'FLYWHEEL_NATS_TLS_CERT', meaning: 'PEM file: NATS client certificate (with _KEY)', default: 'none' },
  { name: 'FLYWHEEL_NATS_TLS_KEY', meaning: 'PEM file: NATS client key (with _CERT)', default: 'none' },
  { name: 'FLYWHEEL_REDIS_USER', meaning: 'Redis ACL user (with FLYWHEEL_REDIS_PASSWORD; ignored when the URL has user:password@)', default: 'none' },
  { name: 'FLYWHEEL_REDIS_PASSWORD', meaning: 'Redis password', default: 'none' },
  { name: 'FLYWHEEL_REDIS_TLS_CA', meaning: 'PEM file: CA of the Redis server (any Redis TLS file turns TLS on)', default: 'none' },
  { name: 'FLYWHEEL_REDIS_TLS_CERT', meaning: 'PEM file: Redis client certificate (with _KEY)', default: 'none' },
  { name: 'FLYWHEEL_REDIS_TLS_KEY', meaning: 'PEM file: Redis client key (with _CERT)', default: 'none' },
  { name: 'FLYWHEEL_SERVICE_WAIT', meaning: 'seconds to wait for a NATS/Redis started by the script', default: '20', script: 'scripts/ensure-services.sh' },
  { name: 'FLYWHEEL_NATS_STORE_DIR', meaning: 'JetStream store of a NATS started by the script', default: '/var/lib/nats-server on 4222, else $TMPDIR/flywheel-nats-<port>', script: 'scripts/ensure-services.sh' },
  { name: 'FLYWHEEL_TAP_STATUS', meaning: 'file that receives tap\'s exit status', default: 'none', script: 'scripts/test.sh' },
  { name: 'FLYWHEEL_CI_TEST_TIMEOUT', meaning: 'seconds allowed for npm test in CI', default: '900', script: '.ci/run' },
];

/** The FLYWHEEL_* variables the TypeScript code reads; unset and empty are both undefined. */
export interface FlywheelEnv {
  config?: string;
  model?: string;
  natsUrl?: string;
  redisUrl?: string;
  psShards?: string;
  workers?: string;
  psShard?: string;
  workerIndex?: string;
  logLevel?: string;
  httpHost?: string;
  apiTokens?: string;
  apiTokensFile?: string;
  tfBackend?: string;
  dataDir?: string;
  nats: {
    user?: string; password?: string; token?: string; nkeySeedFile?: string; credsFile?: string;
    tlsCa?: string; tlsCert?: string; tlsKey?: string;
  };
  redis: { user?: string; password?: string; tlsCa?: string; tlsCert?: string; tlsKey?: string };
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): FlywheelEnv {
  const v = (name: string): string | undefined => (env[name] ? env[name] : undefined);
  return {
    config: v('FLYWHEEL_CONFIG'), model: v('FLYWHEEL_MODEL'), natsUrl: v('FLYWHEEL_NATS_URL'), redisUrl: v('FLYWHEEL_REDIS_URL'),
    psShards: v('FLYWHEEL_PS_SHARDS'), workers: v('FLYWHEEL_WORKERS'), psShard: v('FLYWHEEL_PS_SHARD'), workerIndex: v('FLYWHEEL_WORKER_INDEX'),
    logLevel: v('FLYWHEEL_LOG_LEVEL'), httpHost: v('FLYWHEEL_HTTP_HOST'),
    apiTokens: v('FLYWHEEL_API_TOKENS'), apiTokensFile: v('FLYWHEEL_API_TOKENS_FILE'), tfBackend: v('FLYWHEEL_TF_BACKEND')?.trim() || undefined,
    dataDir: v('FLYWHEEL_DATA_DIR'),
    nats: {
      user: v('FLYWHEEL_NATS_USER'), password: v('FLYWHEEL_NATS_PASSWORD') ?? v('FLYWHEEL_NATS_PASS'), token: v('FLYWHEEL_NATS_TOKEN'),
      nkeySeedFile: v('FLYWHEEL_NATS_NKEY_SEED_FILE'), credsFile: v('FLYWHEEL_NATS_CREDS_FILE'),
      tlsCa: v('FLYWHEEL_NATS_TLS_CA'), tlsCert: v('FLYWHEEL_NATS_TLS_CERT'), tlsKey: v('FLYWHEEL_NATS_TLS_KEY'),
    },
    redis: {
      user: v('FLYWHEEL_REDIS_USER'), password: v('FLYWHEEL_REDIS_PASSWORD'),
      tlsCa: v('FLYWHEEL_REDIS_TLS_CA'), tlsCert: v('FLYWHEEL_REDIS_TLS_CERT'), tlsKey: v('FLYWHEEL_REDIS_TLS_KEY'),
    },
  };
}

/** The servers as the environment names them, for commands whose own config ignores the rest of it. */
export function serverEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const e = readEnv(env);
  const out: NodeJS.ProcessEnv = {};
  if (e.natsUrl) out.FLYWHEEL_NATS_URL = e.natsUrl;
  if (e.redisUrl) out.FLYWHEEL_REDIS_URL = e.redisUrl;
  return out;
}

/**
 * The environment of a service process started with a --config file written by its parent:
 * the parent's, without the variables loadConfig would apply over that file, so the child's
 * config is exactly the file (same model, topology and servers as the parent's).
 */
export function childServiceEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of ['FLYWHEEL_CONFIG', 'FLYWHEEL_MODEL', 'FLYWHEEL_NATS_URL', 'FLYWHEEL_REDIS_URL', 'FLYWHEEL_PS_SHARDS', 'FLYWHEEL_WORKERS']) delete out[name];
  return out;
}

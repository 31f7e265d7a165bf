// Config in one pass: defaults, unknown options, type errors vs range errors, each naming the
// option; models declared one at a time or several, each kind's settings validated by its schema.
import t from 'tap';
import { ConfigError, DEFAULT_CONFIG, forModel, loadConfig, modelDecl, validateConfig } from '../../shared/index.ts';

const fails = (raw: unknown, option: RegExp, message: RegExp) => {
  try {
    validateConfig(raw);
  } catch (err) {
    t.ok(err instanceof ConfigError, 'a ConfigError');
    t.match((err as Error).message, option, `names the option: ${(err as Error).message}`);
    t.match((err as Error).message, message);
    return;
  }
  t.fail(`accepted ${JSON.stringify(raw)}`);
};

t.test('defaults: one ctr model named retail, its settings filled in', async (t) => {
  t.equal(DEFAULT_CONFIG.model, 'retail');
  t.same(DEFAULT_CONFIG.models.map((m) => [m.name, m.kind]), [['retail', 'ctr']]);
  t.same((DEFAULT_CONFIG.models[0].settings as { hidden: number[] }).hidden, [64, 32]);
  t.equal(DEFAULT_CONFIG.ps.learningRate, 0.01);
  t.equal(DEFAULT_CONFIG.stream, 'retail', 'the event stream is named after the first model');
});

t.test('errors name the option; a wrong type says so, a bad range says so', async () => {
  fails({ psShards: '4' }, /"psShards"/, /expected number, received string/);
  fails({ psShards: 0 }, /"psShards"/, />=\s*1|too small/i);
  fails({ ps: { learningRate: 'fast' } }, /"ps\.learningRate"/, /expected number/);
  fails({ ps: { learnRate: 0.1 } }, /"ps\.learnRate"/, /unknown option/);
  fails({ settings: { embDim: 0 } }, /"settings\.embDim"/, /too small|>=/i);
  fails({ settings: { fields: 'user' } }, /"settings\.fields"/, /expected array/);
  fails({ settings: { labels: { kind: 'implicit', negatives: 0 } } }, /"settings\.labels\.negatives"/, /too small|>=/i);
  fails({ kind: 'nope' }, /"kind"/, /ctr/);
  fails({ redisUrl: 'http://x' }, /"redisUrl"/, /redis:\/\//);
});

t.test('several models: one stream, each with its kind and settings', async (t) => {
  const cfg = validateConfig({
    models: [
      { name: 'shop-ctr', kind: 'ctr', settings: { embDim: 4 } },
      { name: 'shop-ctr2', kind: 'ctr', settings: { fields: ['user', 'item'] } },
    ],
  });
  t.equal(cfg.model, 'shop-ctr', 'a process serves the first model unless told otherwise');
  t.equal(cfg.stream, 'shop-ctr');
  t.equal((modelDecl(cfg, 'shop-ctr').settings as { embDim: number }).embDim, 4);
  t.same((modelDecl(cfg, 'shop-ctr2').settings as { fields: string[] }).fields, ['user', 'item']);
  t.equal(forModel(cfg, 'shop-ctr2').model, 'shop-ctr2');
  fails({ models: [{ name: 'a', kind: 'ctr' }, { name: 'a', kind: 'ctr' }] }, /"models\.1\.name"/, /twice/);
  fails({ models: [{ name: 'a', kind: 'ctr', settings: { buckets: 1 } }] }, /"models\.0\.settings\.buckets"/, /too small|>=/i);
  fails({ model: 'b', models: [{ name: 'a', kind: 'ctr' }] }, /"model"/, /not one of the models/);
  fails({ kind: 'ctr', models: [{ name: 'a', kind: 'ctr' }] }, /"kind"/, /in `models`/);
});

t.test('file, overrides and environment merge in that order', async (t) => {
  const cfg = loadConfig({ overrides: { psShards: 2, settings: { embDim: 4 } }, env: { FLYWHEEL_PS_SHARDS: '3', FLYWHEEL_MODEL: 'envmodel' } });
  t.equal(cfg.psShards, 3, 'the environment wins');
  t.equal(cfg.model, 'envmodel');
  t.throws(() => loadConfig({ env: { FLYWHEEL_PS_SHARDS: 'many' } }), /"psShards"/, 'a bad variable names the option it sets');
});

t.test('ingest: idempotency TTL and in-flight body budget, with their bounds', async (t) => {
  t.equal(DEFAULT_CONFIG.ingest.idempotencyTtlSeconds, 86_400, 'keys are remembered a day');
  t.equal(DEFAULT_CONFIG.ingest.maxInflightBodyBytes, 64 * 1024 * 1024, '64 MiB of bodies in flight');
  t.equal(validateConfig({ ingest: { idempotencyTtlSeconds: 60, maxInflightBodyBytes: 8 * 1024 * 1024 } }).ingest.idempotencyTtlSeconds, 60);
  fails({ ingest: { idempotencyTtlSeconds: 0 } }, /"ingest\.idempotencyTtlSeconds"/, /too small|>=/i);
  fails({ ingest: { idempotencyTtlSeconds: 31 * 86_400 } }, /"ingest\.idempotencyTtlSeconds"/, /too big|<=/i);
  fails({ ingest: { idempotencyTtlSeconds: 1.5 } }, /"ingest\.idempotencyTtlSeconds"/, /integer|int/i);
  fails({ ingest: { maxInflightBodyBytes: 1024 } }, /"ingest\.maxInflightBodyBytes"/, /at least ingest\.maxBodyBytes \(8388608\)/);
  fails({ ingest: { maxBodyBytes: 1024, maxInflightBodyBytes: 1023 } }, /"ingest\.maxInflightBodyBytes"/, /at least ingest\.maxBodyBytes \(1024\)/);
});

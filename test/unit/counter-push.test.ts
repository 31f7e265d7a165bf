// The counter rule through a PS shard: the push's eventTimeMs (checked on receipt like the
// accept times) drives the decay, counts add exactly whatever the clip and staleness, and the
// spec / config errors name their option.
import t from 'tap';
import {
  BadMessageError, ConfigError, DEFAULT_CONFIG, MemoryBus, MemoryShardStore, MemoryTransport, Registry, Updater,
  encode, encodePush, parsePush, parseReply, validateConfig,
  type GradientPush, type ParamSpec, type PsConfig,
} from '../../shared/index.ts';
import { ShardState } from '../../services/ps/shard-state.ts';
import { psMetrics } from '../../services/ps/metrics.ts';

const spec: ParamSpec = {
  model: 'cnt', seed: 1, dense: [{ name: 'b', shape: [1], init: { kind: 'zeros' } }],
  tables: [
    { name: 'clicks', dim: 1, rows: 10, init: { kind: 'zeros' }, optimizer: { rule: 'counter', halfLifeMs: 3_600_000 } },
    { name: 'emb', dim: 2, rows: 10, init: { kind: 'zeros' } },
  ],
};
const cfg: PsConfig = { ...DEFAULT_CONFIG.ps, learningRate: 0.1, clipNorm: 1, consistency: 'bounded', maxStaleness: 10 };
const T0 = 1_764_000_000_000;
const HOUR = 3_600_000;

function base(over: Partial<GradientPush>): GradientPush {
  return { worker: 'w', seq: 1, baseVersion: 0, dense: [], sparse: [], examples: 1, newestAcceptedAtMs: 0, meanAcceptedAtMs: 0, ...over };
}

t.test('eventTimeMs is optional, and must be an integer >= 0 and not in the future', async (t) => {
  t.equal(parsePush(encodePush(base({}))).eventTimeMs, undefined);
  t.equal(parsePush(encodePush(base({ eventTimeMs: T0 }))).eventTimeMs, T0);
  for (const bad of [-1, 1.5, 'x', Infinity]) {
    t.throws(() => parsePush(encode({ ...base({}), eventTimeMs: bad })), BadMessageError, `refuses ${bad}`);
  }
});

t.test('a counter table on a PS shard: decayed by event time, exempt from clip and staleness', async (t) => {
  const state = new ShardState({
    model: 'cnt', spec, cfg, shard: 0, shards: 1, transport: new MemoryTransport(new MemoryBus()), store: new MemoryShardStore(),
    metrics: psMetrics(new Registry()), log: () => undefined,
  });
  await state.start();
  const push = async (p: GradientPush) => {
    let out: Uint8Array | undefined;
    await state.handle({ kind: 'push', data: encodePush(p), respond: (d) => { out = d; }, receivedAtMs: Date.now() });
    return parseReply(out!);
  };
  const up = (state as unknown as { updater: Updater }).updater;
  const count = () => up.tables.get('clicks')!.arena.weights[up.tables.get('clicks')!.arena.index.get(3)];
  const clicks = (n: number) => ({ table: 'clicks', rows: Int32Array.of(3), grads: Float32Array.of(n) });
  // 40 clicks at T0, beside an embedding gradient of norm 100: the clip (norm 1) scales the
  // embedding's step by 1/100, never the count.
  let r = await push(base({ seq: 1, eventTimeMs: T0, sparse: [clicks(40), { table: 'emb', rows: Int32Array.of(1), grads: Float32Array.of(60, 80) }] }));
  t.ok(r.ok);
  t.equal(count(), 40, '0 + 40, unclipped');
  // Two hours later, 5 more, with staleness 1 (damping 1/2 for the other rules): 40/4 + 5 = 15.
  r = await push(base({ seq: 2, baseVersion: 0, eventTimeMs: T0 + 2 * HOUR, sparse: [clicks(5)] }));
  t.ok(r.ok);
  t.ok(Math.abs(count() - 15) < 1e-5, `count = ${count()}`);
  // A push from one hour after T0 arriving late: 8 * 2^-1 = 4 more at the row's time: 19.
  await push(base({ seq: 3, baseVersion: 2, eventTimeMs: T0 + HOUR, sparse: [clicks(8)] }));
  t.ok(Math.abs(count() - 19) < 1e-5, `count = ${count()}`);
  // Without an event time: + 1, undecayed.
  await push(base({ seq: 4, baseVersion: 3, sparse: [clicks(1)] }));
  t.ok(Math.abs(count() - 20) < 1e-5, `count = ${count()}`);
  // A forged future time is refused before anything changes.
  r = await push(base({ seq: 5, baseVersion: 4, eventTimeMs: Date.now() + 2 * 24 * HOUR, sparse: [clicks(1)] }));
  t.ok(!r.ok && r.error.code === 'BAD_MESSAGE', 'future event time refused');
  t.ok(Math.abs(count() - 20) < 1e-5);
});

t.test('rule errors in the spec and the config name the option', async (t) => {
  const withTable = (optimizer: unknown, init = { kind: 'zeros' as const }): ParamSpec =>
    ({ ...spec, tables: [{ name: 'x', dim: 1, rows: 4, init, optimizer } as ParamSpec['tables'][number]] });
  t.throws(() => new Updater(withTable('adamw'), cfg), new ConfigError('tables.x.optimizer', 'unknown update rule "adamw"; known: momentum, nesterov, adagrad, adam, ftrl, counter'));
  t.throws(() => new Updater(withTable({ rule: 'ftrl', l1: -1 }), cfg), /"tables\.x\.optimizer\.l1"/);
  t.throws(() => new Updater(withTable('counter', { kind: 'uniform', scale: 1 } as never), cfg), /"tables\.x\.init": a counter table starts at zeros/);
  t.throws(() => validateConfig({ ...DEFAULT_CONFIG, ps: { ...DEFAULT_CONFIG.ps, denseOptimizer: 'sgd' as never } }), /"ps\.denseOptimizer"/);
  t.equal(new Updater(spec, { ...cfg, nesterov: true }).dense.get('b')!.rule.name, 'nesterov', 'momentum + ps.nesterov = Nesterov');
  t.equal(new Updater(spec, { ...cfg, denseOptimizer: 'adam' }).dense.get('b')!.slot.length, 3, 'Adam: 3 slots per float');
  t.same(new Updater(spec, cfg).slotNames(), ['b/momentum', 'clicks/lastTsHi', 'clicks/lastTsLo', 'emb/momentum']);
});

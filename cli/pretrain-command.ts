// `flywheel pretrain --schema FILE`: trains the model offline on a prefix of the dataset (the
// PS update rules, in-process) and writes the weights and optimizer slots into the PS shards'
// Redis snapshots, partitioned exactly as the shards own them. PS shards started afterwards
// restore from those snapshots and go on learning from the live stream.
import {
  RedisShardStore, connectRedis, givenAsStrings, loadConfig, ownerOfDense, ownerOfRow, tableHash, type CommandSpec, type ParsedOptions,
  type RowsState,
} from '../shared/index.ts';
import { initTensorBackend } from '../shared/model/backend.ts';
import { loadSchema, loadSummary, schemaConfig, schemaEvents } from '../shared/datasets/schema.ts';
import { newLoadStats } from '../shared/datasets/csv.ts';
import { OfflineLearner } from '../tools/eval/offline.ts';
import { EVAL_DEFAULTS } from '../tools/eval/protocol.ts';
import { buildEvalStream } from '../tools/eval/stream.ts';

export const spec: CommandSpec = {
  name: 'pretrain',
  summary: 'train offline on a prefix of a dataset and seed the PS shards\' snapshots in Redis',
  options: {
    schema: { type: 'string', value: 'FILE', required: true, help: 'dataset schema (datasets/*.json)' },
    prefix: { type: 'number', help: 'leading fraction of the examples to train on, in (0, 1]', default: 0.3 },
    epochs: { type: 'integer', min: 1, help: 'passes over the prefix', default: 2 },
    'max-events': { type: 'integer', value: 'N', min: 1, help: 'read at most N events', defaultText: 'all' },
    config: { type: 'string', value: 'FILE', help: 'JSON config over the schema\'s settings' },
    model: { type: 'string', value: 'NAME', help: 'model name', defaultText: 'the config\'s' },
  },
};

/** The rows of a table snapshot owned by `shard` among `shards`, with weights and every slot. */
function ownedRows(t: RowsState, shard: number, shards: number): RowsState {
  const h = tableHash(t.table);
  const n = t.rows.length;
  const d = n ? t.weights.length / n : 0;
  const all = t.slot ?? new Float32Array(0);
  const sw = n ? all.length / n : 0; // floats of slots per row: dim x the rule's slot count
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (ownerOfRow(h, t.rows[i], shards) === shard) idx.push(i);
  const rows = new Int32Array(idx.length), weights = new Float32Array(idx.length * d), slot = new Float32Array(idx.length * sw);
  idx.forEach((i, j) => {
    rows[j] = t.rows[i];
    weights.set(t.weights.subarray(i * d, (i + 1) * d), j * d);
    slot.set(all.subarray(i * sw, (i + 1) * sw), j * sw);
  });
  return { table: t.table, rows, weights, slot };
}

export async function run(p: ParsedOptions): Promise<number> {
  const args = givenAsStrings(p);
  const prefix = args.prefix ? Number(args.prefix) : 0.3;
  const epochs = args.epochs ? Number(args.epochs) : 2;
  const maxEvents = args['max-events'] ? Number(args['max-events']) : Infinity;
  if (!(prefix > 0 && prefix <= 1)) throw new Error('--prefix must be in (0, 1]');
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error('--epochs must be an integer >= 1');
  const schema = loadSchema(args.schema);
  const cfg = loadConfig({ file: args.config, overrides: { ...schemaConfig(schema), ...(args.model ? { model: args.model } : {}) } });
  await initTensorBackend(() => undefined);
  const events = [];
  const stats = newLoadStats();
  for await (const b of schemaEvents(schema, { limit: maxEvents, stats })) events.push(...b);
  for (const l of loadSummary(schema, stats)) process.stdout.write(`${l}\n`);
  const opts = { ...EVAL_DEFAULTS, rankPositivesPerWindow: 0 };
  const s = buildEvalStream(events, cfg, opts);
  const end = Math.round(prefix * s.size);
  const B = cfg.worker.batchSize;
  const t0 = Date.now();
  const l = new OfflineLearner(cfg);
  for (let e = 0; e < epochs; e++) for (let from = 0; from < end; from += B) l.step(s, from, Math.min(end, from + B));
  const snap = l.params.snapshot();
  const redis = connectRedis(cfg.redisUrl);
  const store = new RedisShardStore(redis, { waitReplicas: cfg.redisWaitReplicas });
  let rows = 0;
  try {
    for (let k = 0; k < cfg.psShards; k++) {
      const dense = snap.dense.filter((d) => ownerOfDense(d.name, cfg.psShards) === k);
      const sparse = snap.sparse.map((t) => ownedRows(t, k, cfg.psShards));
      rows += sparse.reduce((n, x) => n + x.rows.length, 0);
      // Version 0 of a new history: a shard restoring it starts counting from here.
      await store.write(cfg.model, k, { meta: { version: 0, epoch: 0, newestAcceptedAtMs: 0 }, dense, sparse, full: true });
    }
  } finally {
    await store.close();
  }
  console.log(JSON.stringify({
    dataset: schema.name, model: cfg.model, psShards: cfg.psShards, eventsRead: events.length,
    examplesTrained: end * epochs, prefixExamples: end, epochs, rowsWritten: rows, trainMs: Date.now() - t0,
  }));
  return 0;
}

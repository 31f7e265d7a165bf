// `flywheel pretrain --schema FILE`: trains the model offline on a prefix of the dataset (the
// PS update rules, in-process) and writes the weights and optimizer slots into the PS shards'
// Redis snapshots, partitioned exactly as the shards own them. PS shards started afterwards
// restore from those snapshots and go on learning from the live stream.
import {
  RedisShardStore, connectRedis, givenAsStrings, loadConfig, ownerOfDense, ownerOfRow, tableHash, type CommandSpec, type ParsedOptions,
  type DenseState, type LocalParams, type RowsState, type SparseArena,
} from '../shared/index.ts';
import { initTensorBackend } from '../shared/model/backend.ts';
import { loadSchema, schemaConfig, schemaEvents } from '../shared/datasets/schema.ts';
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

/**
 * The whole state of LocalParams. It keeps its tensors private and has no snapshot method
 * yet, so this reads its two maps by name and fails loudly if their shape ever changes.
 */
function snapshotOf(p: LocalParams): { dense: DenseState[]; tables: Map<string, SparseArena> } {
  const inner = p as unknown as { denseW?: Map<string, { w: Float32Array; slot: Float32Array }>; tables?: Map<string, { arena: SparseArena }> };
  if (!(inner.denseW instanceof Map) || !(inner.tables instanceof Map)) throw new Error('LocalParams internals changed: add a snapshot() method to it');
  return {
    dense: [...inner.denseW].map(([name, d]) => ({ name, weights: d.w, slot: d.slot })),
    tables: new Map([...inner.tables].map(([name, t]) => [name, t.arena])),
  };
}

/** Rows of one table owned by `shard` among `shards`, with weights and slots. */
function ownedRows(table: string, a: SparseArena, shard: number, shards: number): RowsState {
  const h = tableHash(table);
  const idx: number[] = [];
  for (let s = 0; s < a.count; s++) if (ownerOfRow(h, a.rowIds[s], shards) === shard) idx.push(s);
  const d = a.dim;
  const rows = new Int32Array(idx.length), weights = new Float32Array(idx.length * d), slot = new Float32Array(idx.length * d);
  idx.forEach((s, i) => {
    rows[i] = a.rowIds[s];
    weights.set(a.weights.subarray(s * d, (s + 1) * d), i * d);
    slot.set(a.slot.subarray(s * d, (s + 1) * d), i * d);
  });
  return { table, rows, weights, slot };
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
  for await (const b of schemaEvents(schema, { limit: maxEvents })) events.push(...b);
  const opts = { ...EVAL_DEFAULTS, rankPositivesPerWindow: 0 };
  const s = buildEvalStream(events, cfg, opts);
  const end = Math.round(prefix * s.size);
  const B = cfg.worker.batchSize;
  const t0 = Date.now();
  const l = new OfflineLearner(cfg);
  for (let e = 0; e < epochs; e++) for (let from = 0; from < end; from += B) l.step(s, from, Math.min(end, from + B));
  const snap = snapshotOf(l.params);
  const redis = connectRedis(cfg.redisUrl);
  const store = new RedisShardStore(redis);
  let rows = 0;
  try {
    for (let k = 0; k < cfg.psShards; k++) {
      const dense = snap.dense.filter((d) => ownerOfDense(d.name, cfg.psShards) === k);
      const sparse = [...snap.tables].map(([name, a]) => ownedRows(name, a, k, cfg.psShards));
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

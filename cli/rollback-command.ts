// `flywheel rollback [--to CHECKPOINT] [--config FILE]`: moves the serving pointer back by
// hand, to the checkpoint served before the current one (or to --to), and tells the inference
// nodes. It never touches the PS weights: training goes on; only what is served changes.
import {
  NatsTransport, RedisServingStore, connectNats, connectRedis, decodeCheckpoint, encode, givenAsStrings, loadConfig, subjects,
  type CommandSpec, type ParsedOptions, type ServingPointer,
} from '../shared/index.ts';

export const spec: CommandSpec = {
  name: 'rollback',
  summary: 'move the serving pointer back to the previous validated checkpoint (or to --to)',
  options: {
    to: { type: 'integer', value: 'CHECKPOINT', min: 1, help: 'checkpoint id to serve', defaultText: 'the one before the current' },
    config: { type: 'string', value: 'FILE', help: 'JSON config over the defaults', defaultText: '$FLYWHEEL_CONFIG' },
    model: { type: 'string', value: 'NAME', help: 'model name', defaultText: 'the config\'s' },
  },
};

export async function run(p: ParsedOptions): Promise<number> {
  const args = givenAsStrings(p);
  const cfg = loadConfig({ file: args.config, overrides: args.model ? { model: args.model } : undefined });
  const redis = connectRedis(cfg.redisUrl);
  const store = new RedisServingStore(redis);
  const nc = await connectNats(cfg.natsUrl, 'flywheel-rollback');
  const transport = new NatsTransport(nc);
  try {
    const current = await store.getPointer(cfg.model);
    const history = await store.history(cfg.model);
    if (!current) {
      console.error(`model ${cfg.model} has no serving pointer: is a validator (gate.holdoutPermille > 0) running?`);
      return 2;
    }
    let target: number | undefined;
    if (args.to) {
      target = Number(args.to);
      if (!Number.isInteger(target) || target < 1) { console.error('--to must be a checkpoint id (a positive integer)'); return 2; }
    } else {
      const at = history.indexOf(current.checkpointId);
      target = history[at + 1];
      if (target === undefined) { console.error(`no older checkpoint to roll back to (history: ${history.join(', ') || 'empty'})`); return 2; }
    }
    const bytes = await store.loadCheckpoint(cfg.model, target);
    if (!bytes) { console.error(`checkpoint ${target} is not stored (the last ${history.length} are kept: ${history.join(', ')})`); return 2; }
    const pointer: ServingPointer = { checkpointId: target, versions: decodeCheckpoint(bytes).versions, atMs: Date.now(), by: 'rollback' };
    await store.setPointer(cfg.model, pointer, false);
    transport.publish(subjects.serving(cfg.model), encode({ kind: 'pointer', pointer }));
    await transport.flush();
    console.log(JSON.stringify({ model: cfg.model, from: current.checkpointId, to: target, versions: pointer.versions }));
    return 0;
  } finally {
    await transport.close();
    redis.disconnect();
  }
}

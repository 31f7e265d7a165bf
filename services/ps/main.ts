// PS shard process: `node --import tsx services/ps/main.ts --shard K [--config FILE]`.
import { indexArg, readEnv, runServiceMain } from '../../shared/index.ts';
import { startPs } from './service.ts';

await runServiceMain({
  name: 'ps',
  summary: 'run one parameter-server shard',
  options: { shard: { type: 'integer', value: 'K', min: 0, help: 'the shard this process serves, 0..psShards-1', defaultText: '$FLYWHEEL_PS_SHARD or 0' } },
  instance: (args, cfg) => `ps-${indexArg(args, 'shard', readEnv().psShard, cfg.psShards)}`,
  start: (cfg, infra, args) => startPs(cfg, indexArg(args, 'shard', readEnv().psShard, cfg.psShards), infra),
});

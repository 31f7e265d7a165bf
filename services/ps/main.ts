// PS shard process: `node --import tsx services/ps/main.ts --shard K [--config FILE]`.
import { indexArg, runServiceMain } from '../../shared/index.ts';
import { startPs } from './service.ts';

await runServiceMain({
  name: 'ps',
  summary: 'run one parameter-server shard',
  options: { shard: { type: 'integer', value: 'K', min: 0, help: 'the shard this process serves, 0..psShards-1', defaultText: '$FLYWHEEL_PS_SHARD or 0' } },
  instance: (args, cfg) => `ps-${indexArg(args, 'shard', process.env.FLYWHEEL_PS_SHARD, cfg.psShards)}`,
  start: (cfg, infra, args) => startPs(cfg, indexArg(args, 'shard', process.env.FLYWHEEL_PS_SHARD, cfg.psShards), infra),
});

// PS shard process: `node --import tsx services/ps/main.ts --shard K [--config FILE]`.
import { indexArg, runServiceMain } from '../../shared/index.ts';
import { startPs } from './service.ts';

await runServiceMain({
  name: 'ps',
  instance: (args, cfg) => `ps-${indexArg(args, 'shard', 'FLYWHEEL_PS_SHARD', cfg.psShards)}`,
  start: (cfg, infra, args) => startPs(cfg, indexArg(args, 'shard', 'FLYWHEEL_PS_SHARD', cfg.psShards), infra),
});

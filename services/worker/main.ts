// Worker process: `node --import tsx services/worker/main.ts --index I [--config FILE]`.
import { indexArg, runServiceMain } from '../../shared/index.ts';
import { startWorker } from './service.ts';

await runServiceMain({
  name: 'worker',
  instance: (args, cfg) => `worker-${indexArg(args, 'index', 'FLYWHEEL_WORKER_INDEX', cfg.workers)}`,
  start: (cfg, infra, args) => startWorker(cfg, indexArg(args, 'index', 'FLYWHEEL_WORKER_INDEX', cfg.workers), infra),
});

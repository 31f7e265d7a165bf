// Worker process: `node --import tsx services/worker/main.ts --index I [--config FILE]`.
import { indexArg, readEnv, runServiceMain } from '../../shared/index.ts';
import { startWorker } from './service.ts';

await runServiceMain({
  name: 'worker',
  summary: 'run one training worker',
  options: { index: { type: 'integer', value: 'I', min: 0, help: 'this worker\'s index, 0..workers-1', defaultText: '$FLYWHEEL_WORKER_INDEX or 0' } },
  instance: (args, cfg) => `worker-${indexArg(args, 'index', readEnv().workerIndex, cfg.workers)}`,
  start: (cfg, infra, args) => startWorker(cfg, indexArg(args, 'index', readEnv().workerIndex, cfg.workers), infra),
});

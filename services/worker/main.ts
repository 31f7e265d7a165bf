// Worker process: `node --import tsx services/worker/main.ts --index I [--config FILE]`.
import { Shutdown, connectInfra, createLogger, loadConfig, parseArgs } from '../../shared/index.ts';
import { startWorker } from './service.ts';

const args = parseArgs(process.argv.slice(2));
const cfg = loadConfig({ file: args.config });
const index = Number(args.index ?? process.env.FLYWHEEL_WORKER_INDEX ?? 0);
const log = createLogger('worker', { index });
if (!Number.isInteger(index) || index < 0 || index >= cfg.workers) {
  log.error(`--index must be an integer in 0..${cfg.workers - 1}`);
  process.exit(2);
}
const infra = await connectInfra(cfg, `worker-${index}`);
const worker = await startWorker(cfg, index, infra);
new Shutdown({ log: (m, e) => log.info({ err: e ? String(e) : undefined }, m) })
  .add('infra', () => infra.close())
  .add('worker', () => worker.stop())
  .onSignals();

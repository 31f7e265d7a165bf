// Inference process: `node --import tsx services/inference/main.ts [--config FILE] [--port P]`.
import { Shutdown, connectInfra, createLogger, loadConfig, parseArgs } from '../../shared/index.ts';
import { startInference } from './service.ts';

const args = parseArgs(process.argv.slice(2));
const cfg = loadConfig({ file: args.config });
const log = createLogger('inference');
const infra = await connectInfra(cfg, 'inference');
const inference = await startInference(cfg, infra, args.port ? Number(args.port) : undefined);
new Shutdown({ log: (m, e) => log.info({ err: e ? String(e) : undefined }, m) })
  .add('infra', () => infra.close())
  .add('inference', () => inference.stop())
  .onSignals();

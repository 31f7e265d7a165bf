// Ingest process: `node --import tsx services/ingest/main.ts [--config FILE] [--port P]`.
import { Shutdown, connectInfra, createLogger, loadConfig, parseArgs } from '../../shared/index.ts';
import { startIngest } from './service.ts';

const args = parseArgs(process.argv.slice(2));
const cfg = loadConfig({ file: args.config });
const log = createLogger('ingest');
const infra = await connectInfra(cfg, 'ingest');
const ingest = await startIngest(cfg, infra, args.port ? Number(args.port) : undefined);
new Shutdown({ log: (m, e) => log.info({ err: e ? String(e) : undefined }, m) })
  .add('infra', () => infra.close())
  .add('ingest', () => ingest.stop())
  .onSignals();

// Validator process (the validation gate): `node --import tsx services/validator/main.ts [--config FILE] [--port P]`.
import { Shutdown, connectInfra, createLogger, loadConfig, parseArgs } from '../../shared/index.ts';
import { startValidator } from './service.ts';

const args = parseArgs(process.argv.slice(2));
const cfg = loadConfig({ file: args.config });
const log = createLogger('validator');
const infra = await connectInfra(cfg, 'validator');
const v = await startValidator(cfg, infra, args.port ? Number(args.port) : 0);
new Shutdown({ log: (m, e) => log.info({ err: e ? String(e) : undefined }, m) })
  .add('infra', () => infra.close())
  .add('validator', () => v.stop())
  .onSignals();

// Validator process (the validation gate): `node --import tsx services/validator/main.ts [--config FILE] [--port P]`.
import { runServiceMain } from '../../shared/index.ts';
import { startValidator } from './service.ts';

await runServiceMain({
  name: 'validator',
  summary: 'run the validation gate (GET /v1/gate)',
  options: { port: { type: 'integer', value: 'P', min: 0, max: 65535, help: 'HTTP port of GET /v1/gate; 0 picks a free one', default: 0 } },
  start: (cfg, infra, args) => startValidator(cfg, infra, args.port as number),
});

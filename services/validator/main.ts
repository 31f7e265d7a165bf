// Validator process (the validation gate): `node --import tsx services/validator/main.ts [--config FILE] [--port P]`.
import { runServiceMain } from '../../shared/index.ts';
import { startValidator } from './service.ts';

await runServiceMain({ name: 'validator', start: (cfg, infra, args) => startValidator(cfg, infra, args.port ? Number(args.port) : 0) });

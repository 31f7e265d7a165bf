// Inference process: `node --import tsx services/inference/main.ts [--config FILE] [--port P]`.
import { runServiceMain } from '../../shared/index.ts';
import { startInference } from './service.ts';

await runServiceMain({ name: 'inference', start: (cfg, infra, args) => startInference(cfg, infra, args.port ? Number(args.port) : undefined) });

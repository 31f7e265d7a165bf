// Inference process: `node --import tsx services/inference/main.ts [--config FILE] [--port P]`.
import { runServiceMain } from '../../shared/index.ts';
import { startInference } from './service.ts';

await runServiceMain({
  name: 'inference',
  summary: 'run one inference node (POST /v1/predict, /v1/recommend)',
  options: { port: { type: 'integer', value: 'P', min: 0, max: 65535, help: 'HTTP port', defaultText: 'inference.port' } },
  start: (cfg, infra, args) => startInference(cfg, infra, args.port as number | undefined),
});

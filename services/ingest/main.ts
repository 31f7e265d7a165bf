// Ingest process: `node --import tsx services/ingest/main.ts [--config FILE] [--port P]`.
import { runServiceMain } from '../../shared/index.ts';
import { startIngest } from './service.ts';

await runServiceMain({
  name: 'ingest',
  summary: 'run the ingest service (POST /v1/events)',
  options: { port: { type: 'integer', value: 'P', min: 0, max: 65535, help: 'HTTP port', defaultText: 'ingest.port' } },
  start: (cfg, infra, args) => startIngest(cfg, infra, args.port as number | undefined),
});

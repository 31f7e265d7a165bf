// Ingest process: `node --import tsx services/ingest/main.ts [--config FILE] [--port P]`.
import { runServiceMain } from '../../shared/index.ts';
import { startIngest } from './service.ts';

await runServiceMain({ name: 'ingest', start: (cfg, infra, args) => startIngest(cfg, infra, args.port ? Number(args.port) : undefined) });

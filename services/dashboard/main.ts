// Dashboard process: `node --import tsx services/dashboard/main.ts [--config FILE] [--port P]`.
import { runServiceMain } from '../../shared/index.ts';
import { startDashboard } from './service.ts';

await runServiceMain({
  name: 'dashboard',
  summary: 'serve the live dashboard of every model of the config (GET /, /v1/dashboard, /v1/dashboard/stream)',
  options: { port: { type: 'integer', value: 'P', min: 0, max: 65535, help: 'HTTP port; 0 picks a free one', defaultText: 'dashboard.port' } },
  start: (cfg, infra, args) => startDashboard(cfg, infra, { port: args.port as number | undefined }),
});

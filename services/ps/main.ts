// PS shard process: `node --import tsx services/ps/main.ts --shard K [--config FILE]`.
import { Shutdown, connectInfra, createLogger, loadConfig, parseArgs } from '../../shared/index.ts';
import { startPs } from './service.ts';

const args = parseArgs(process.argv.slice(2));
const cfg = loadConfig({ file: args.config });
const shard = Number(args.shard ?? process.env.FLYWHEEL_PS_SHARD ?? 0);
const log = createLogger('ps', { shard });
if (!Number.isInteger(shard) || shard < 0 || shard >= cfg.psShards) {
  log.error(`--shard must be an integer in 0..${cfg.psShards - 1}`);
  process.exit(2);
}
const infra = await connectInfra(cfg, `ps-${shard}`);
const ps = await startPs(cfg, shard, infra);
new Shutdown({ log: (m, e) => log.info({ err: e ? String(e) : undefined }, m) })
  .add('infra', () => infra.close())
  .add('ps', () => ps.stop())
  .onSignals();

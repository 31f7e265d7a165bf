// Starts the validator (the validation gate) with its replica and a /metrics, /healthz and
// GET /v1/gate server.
import {
  Counter, Replica, closeServer, createLogger, createRegistry, startHttpServer,
  type FlywheelConfig, type Infra,
} from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { Validator } from './validator.ts';

export interface RunningValidator { validator: Validator; port: number | null; stop(): Promise<void> }

export async function startValidator(cfg: FlywheelConfig, infra: Infra, port = 0): Promise<RunningValidator> {
  const log = createLogger('validator', { model: cfg.model });
  if (cfg.gate.holdoutPermille === 0) log.warn('gate.holdoutPermille is 0: no events are held out, so the gate can never judge a candidate');
  await initTensorBackend((m) => log.info(m));
  const registry = createRegistry('validator', { model: cfg.model });
  const decisions = new Counter({ name: 'fw_gate_decisions_total', help: 'Gate decisions by outcome', labelNames: ['outcome'], registers: [registry] });
  const resolved = resolveModel(cfg);
  const spec = resolved.spec;
  // Every optimizer slot: the checkpoints the gate saves from it are what a rollback restores.
  const replica = new Replica(spec, cfg.psShards, infra.store, { slots: 'full', ps: cfg.ps, onError: (e) => log.warn({ err: String(e) }, 'replica') });
  await replica.start(infra.transport, cfg.model);
  const validator = new Validator(cfg, infra, replica, resolved, (level, msg, extra) => {
    log[level](extra ?? {}, msg);
    if (msg.startsWith('candidate rejected')) decisions.inc({ outcome: 'rejected' });
    if (msg.startsWith('new held-out data')) decisions.inc({ outcome: 'quarantined' });
  });
  await validator.start();
  const server = port || !infra.embedded
    ? await startHttpServer({
      port, registry,
      routes: { 'GET /v1/gate': () => ({ stats: validator.stats, lrFactor: validator.rules.lrFactor, holdout: validator.rules.holdout.size, decisions: validator.decisions.slice(-50) }) },
    })
    : undefined;
  const actual = server ? (server.address() as import('node:net').AddressInfo).port : null;
  log.info({ port: actual, holdoutPermille: cfg.gate.holdoutPermille }, 'validator running');
  return { validator, port: actual, stop: async () => { await validator.stop(); replica.stop(); await closeServer(server); } };
}

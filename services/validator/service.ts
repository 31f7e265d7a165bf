// Starts the validator (the validation gate) with its replica and a /metrics, /healthz and
// GET /v1/gate server.
import {
  ConfigError, Counter, Replica, closeServer, httpAuthOf, createLogger, createRegistry, metricsServerOf, startHeartbeat, startHttpServer,
  type FlywheelConfig, type Infra,
} from '../../shared/index.ts';
import { resolveModel } from '../../shared/models/registry.ts';
import { initTensorBackend } from '../../shared/model/backend.ts';
import { GATE_DECISIONS, Validator } from './validator.ts';
import { VALIDATOR_ROUTE_DOCS } from './route-docs.ts';

export interface RunningValidator {
  validator: Validator;
  port: number | null;
  /** The separate /metrics listener's port (validator.metricsPort), else null. */
  metricsPort: number | null;
  stop(): Promise<void>;
}

export async function startValidator(cfg: FlywheelConfig, infra: Infra, port = 0): Promise<RunningValidator> {
  const log = createLogger('validator', { model: cfg.model });
  const metricsPort = cfg.validator.metricsPort;
  if (metricsPort !== 0 && metricsPort === port) throw new ConfigError('validator.metricsPort', `must differ from --port (${port})`);
  if (cfg.gate.holdoutPermille === 0) log.warn('gate.holdoutPermille is 0: no events are held out, so the gate can never judge a candidate');
  await initTensorBackend((m) => log.info(m));
  const registry = createRegistry('validator', { model: cfg.model });
  const decisions = new Counter({ name: 'fw_gate_decisions_total', help: 'Gate decisions: accept, reject, rollback (of the PS weights), quarantine, admit_drift', labelNames: ['model', 'decision'], registers: [registry] });
  // Every series exists from the start, so a first rollback is an increase from 0, not a new series.
  for (const decision of GATE_DECISIONS) decisions.inc({ model: cfg.model, decision }, 0);
  const resolved = resolveModel(cfg);
  const spec = resolved.spec;
  // Every optimizer slot: the checkpoints the gate saves from it are what a rollback restores.
  const replica = new Replica(spec, cfg.psShards, infra.store, { slots: 'full', ps: cfg.ps, onError: (e) => log.warn({ err: String(e) }, 'replica') });
  await replica.start(infra.transport, cfg.model);
  const validator = new Validator(cfg, infra, replica, resolved, (level, msg, extra) => log[level](extra ?? {}, msg),
    (decision) => decisions.inc({ model: cfg.model, decision }));
  await validator.start();
  const server = port || metricsPort || !infra.embedded
    ? await startHttpServer({
      port, registry, auth: httpAuthOf(cfg), onWarning: (msg) => log.warn(msg),
      metrics: metricsPort ? { port: metricsPort, host: cfg.http.metricsHost } : undefined,
      ready: () => replica.readiness(), docs: VALIDATOR_ROUTE_DOCS, openapi: { title: 'Flywheel validator' },
      routes: { 'GET /v1/gate': () => ({ stats: validator.stats, lrFactor: validator.rules.lrFactor, holdout: validator.rules.holdout.size, decisions: validator.decisions.slice(-50) }) },
    })
    : undefined;
  const actual = server ? (server.address() as import('node:net').AddressInfo).port : null;
  const metricsServer = server ? metricsServerOf(server) : undefined;
  const actualMetrics = metricsServer ? (metricsServer.address() as import('node:net').AddressInfo).port : null;
  log.info({ port: actual, metricsPort: actualMetrics, holdoutPermille: cfg.gate.holdoutPermille }, 'validator running');
  const heartbeat = startHeartbeat(infra.transport, {
    service: 'validator', model: cfg.model, instance: 'validator',
    stats: () => ({ accepted: validator.stats.accepted, rejected: validator.stats.rejected, rollbacks: validator.stats.rollbacks, lrFactor: validator.rules.lrFactor }),
  });
  return { validator, port: actual, metricsPort: actualMetrics, stop: async () => { heartbeat.stop(); await validator.stop(); replica.stop(); await closeServer(server); } };
}

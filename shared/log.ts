// Structured logs (pino) to stderr, one logger per service; level from FLYWHEEL_LOG_LEVEL.
import { pino, type Logger } from 'pino';
import { readEnv } from './env.ts';

export type { Logger };

export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ name: service, level: readEnv().logLevel ?? 'info', base: { service, ...bindings } }, pino.destination(2));
}

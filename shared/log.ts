// Structured logs (pino) to stderr, one logger per service; level from FLYWHEEL_LOG_LEVEL.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ name: service, level: process.env.FLYWHEEL_LOG_LEVEL ?? 'info', base: { service, ...bindings } }, pino.destination(2));
}

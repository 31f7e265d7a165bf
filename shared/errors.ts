// The typed failures of Flywheel. Each crosses NATS as { code, message } and is rebuilt
// on the caller by errorFromWire, so a caller can branch on the class, not on text.

export type ErrorCode =
  | 'BAD_MESSAGE'
  | 'BAD_EVENT'
  | 'UNKNOWN_PARAMETER'
  | 'WRONG_SHAPE'
  | 'NON_FINITE'
  | 'STALE_GRADIENT'
  | 'FUTURE_VERSION'
  | 'DUPLICATE_PUSH'
  | 'PAYLOAD_TOO_LARGE'
  | 'MAILBOX_FULL'
  | 'NOT_OWNER'
  | 'CONFIG'
  | 'UNAVAILABLE';

export class FlywheelError extends Error {
  readonly code: ErrorCode;
  /** Whether sending the same thing again later can succeed. */
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, retryable = false, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.retryable = retryable;
    this.name = new.target.name;
  }
}

export class BadMessageError extends FlywheelError {
  constructor(message: string, cause?: unknown) { super('BAD_MESSAGE', message, false, cause); }
}
export class BadEventError extends FlywheelError {
  constructor(message: string) { super('BAD_EVENT', message); }
}
export class UnknownParameterError extends FlywheelError {
  constructor(name: string) { super('UNKNOWN_PARAMETER', `unknown parameter "${name}"`); }
}
export class WrongShapeError extends FlywheelError {
  constructor(message: string) { super('WRONG_SHAPE', message); }
}
export class NonFiniteError extends FlywheelError {
  constructor(where: string) { super('NON_FINITE', `non-finite value (NaN or Inf) in ${where}`); }
}
export class StaleGradientError extends FlywheelError {
  constructor(staleness: number, max: number) {
    super('STALE_GRADIENT', `gradient is ${staleness} versions stale (max ${max})`, true);
  }
}
export class FutureVersionError extends FlywheelError {
  constructor(base: number, current: number) {
    super('FUTURE_VERSION', `baseVersion ${base} is ahead of the shard's version ${current}`);
  }
}
export class PayloadTooLargeError extends FlywheelError {
  constructor(bytes: number, max: number) {
    super('PAYLOAD_TOO_LARGE', `payload of ${bytes} bytes exceeds the limit of ${max} bytes`);
  }
}
export class MailboxFullError extends FlywheelError {
  constructor(actor: string, capacity: number) {
    super('MAILBOX_FULL', `mailbox of ${actor} is full (${capacity} messages)`, true);
  }
}
export class NotOwnerError extends FlywheelError {
  constructor(message: string) { super('NOT_OWNER', message); }
}
export class ConfigError extends FlywheelError {
  constructor(option: string, message: string) { super('CONFIG', `config option "${option}": ${message}`); }
}
export class UnavailableError extends FlywheelError {
  constructor(message: string, cause?: unknown) { super('UNAVAILABLE', message, true, cause); }
}

export interface WireError { code: ErrorCode; message: string; retryable: boolean }

export function errorToWire(err: unknown): WireError {
  if (err instanceof FlywheelError) return { code: err.code, message: err.message, retryable: err.retryable };
  return { code: 'BAD_MESSAGE', message: err instanceof Error ? err.message : String(err), retryable: false };
}

export function errorFromWire(w: WireError): FlywheelError {
  return new FlywheelError(w.code, w.message, w.retryable);
}

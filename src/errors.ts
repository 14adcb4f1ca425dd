/**
 * Every error redkit throws. Each has a stable `code` to branch on, `name` set from the class,
 * and `cause` passed through. Messages name the input or option to change.
 */

/** Base class of every redkit error; `code` is stable across versions. */
export class RedkitError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Configuration (env or options) is invalid; `variable` names the env var or option at fault. */
export class ConfigError extends RedkitError {
  readonly variable: string;
  constructor(variable: string, message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
    this.variable = variable;
  }
}

/** An argument passed to a redkit API is invalid; `argument` names it. */
export class InvalidArgumentError extends RedkitError {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super('E_INVALID_ARGUMENT', message);
    this.argument = argument;
  }
}

/**
 * Redis is configured but cannot serve this call now (disconnected, paused, timed out).
 * `reason` is the classified cause (`ECONNREFUSED`, `TIMEOUT`, …).
 */
export class RedisUnavailableError extends RedkitError {
  readonly reason: string;
  constructor(message: string, reason = 'UNAVAILABLE', options?: { cause?: unknown }) {
    super('E_REDIS_UNAVAILABLE', message, options);
    this.reason = reason;
  }
}

/** The toolkit was closed; create a new one to go on. */
export class ClosedError extends RedkitError {
  constructor(what = 'redkit') {
    super('E_CLOSED', `${what} is closed: create a new instance with createRedkit() to go on`);
  }
}

// Capability errors are added below, one block per capability.

/** Every error class by name, for `instanceof`-free checks across package copies. */
export const errors = {
  RedkitError,
  ConfigError,
  InvalidArgumentError,
  RedisUnavailableError,
  ClosedError,
};

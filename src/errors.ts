/**
 * Every error redkit throws. Each has a stable `code` to branch on, `name` set from the class,
 * and `cause` passed through. Messages name the input or option to change.
 */

/**
 * Every `code` a RedkitError can carry, stable across versions: branch on these. A new code is
 * added here first, so that tsc checks every class and call site that throws it.
 */
export type RedkitErrorCode =
  | 'E_CONFIG'
  | 'E_INVALID_ARGUMENT'
  | 'E_STANDALONE'
  | 'E_CLOSED'
  | 'E_NEST_NOT_INSTALLED'
  | 'E_REDIS_UNAVAILABLE'
  | 'E_REDIS_NOPERM'
  | 'E_REDIS_OOM'
  | 'E_REDIS_READONLY'
  | 'E_REDIS_REPLY'
  | 'E_CACHE_SERIALIZATION'
  | 'E_CACHE_VALUE_TOO_LARGE'
  | 'E_CACHE_REMOTE_LOAD'
  | 'E_LOCK_BUSY'
  | 'E_LOCK_NOT_HELD'
  | 'E_QUEUE_UNAVAILABLE'
  | 'E_JOB_DATA'
  | 'E_JOB_TIMEOUT'
  | 'E_JOB_NOT_FOUND'
  | 'E_JOB_EXISTS'
  | 'E_JOB_TRANSITION'
  | 'E_EXTERNAL_JOB'
  | 'E_SESSION_UNAVAILABLE'
  | 'E_SESSION_DATA';

/** Base class of every redkit error; `code` is stable across versions. */
export class RedkitError extends Error {
  readonly code: RedkitErrorCode;
  constructor(code: RedkitErrorCode, message: string, options?: { cause?: unknown }) {
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
  constructor(message: string, reason = 'UNAVAILABLE', options?: { cause?: unknown }, code: RedkitErrorCode = 'E_REDIS_UNAVAILABLE') {
    super(code, message, options);
    this.reason = reason;
  }
}

// Refusals of a server that is up (src/connection/reply-errors.ts maps Redis's replies to them).
// They extend RedisUnavailableError so that every capability applies its degradation policy to
// them as to an outage: the server cannot serve this call now.

/**
 * The ACL user may not run a command (or touch a key or channel) redkit needs: NOPERM.
 * `command` is the refused command; `aclFix` the `ACL SETUSER` line that grants what redkit needs.
 */
export class RedisPermissionError extends RedisUnavailableError {
  readonly command: string;
  readonly aclFix: string;
  constructor(command: string, aclFix: string, detail: string, options?: { cause?: unknown }) {
    super(
      `Redis refused "${command}" to this ACL user (${detail}): grant redkit's permissions with ${aclFix} (npx redkit doctor checks them)`,
      'NOPERM',
      options,
      'E_REDIS_NOPERM',
    );
    this.command = command;
    this.aclFix = aclFix;
  }
}

/** Redis is at `maxmemory` under `noeviction` and refused a write (OOM); reads still work. */
export class RedisOutOfMemoryError extends RedisUnavailableError {
  readonly command: string;
  constructor(command: string, options?: { cause?: unknown }) {
    super(
      `Redis refused "${command}": it is out of memory (maxmemory reached under maxmemory-policy noeviction); raise maxmemory, free keys, or fix what fills it (npx redkit doctor shows memory use)`,
      'OOM',
      options,
      'E_REDIS_OOM',
    );
    this.command = command;
  }
}

/** The server is a read-only replica (READONLY): writes must go to the primary. */
export class RedisReadOnlyError extends RedisUnavailableError {
  readonly command: string;
  constructor(command: string, options?: { cause?: unknown }) {
    super(
      `Redis refused "${command}": the server is a read-only replica; point REDIS_URL / REDIS_HOST at the primary (or use the provider's primary endpoint)`,
      'READONLY',
      options,
      'E_REDIS_READONLY',
    );
    this.command = command;
  }
}

/**
 * Redis answered a command with an error that is not about the server's state (WRONGTYPE, a
 * script error, …): a bug or foreign data under redkit's prefix. `replyCode` is Redis's first word.
 */
export class RedisCommandError extends RedkitError {
  readonly command: string;
  readonly replyCode: string;
  constructor(command: string, replyCode: string, message: string, options?: { cause?: unknown }) {
    super('E_REDIS_REPLY', message, options);
    this.command = command;
    this.replyCode = replyCode;
  }
}

/** The toolkit was closed; create a new one to go on. */
export class ClosedError extends RedkitError {
  constructor(what = 'redkit') {
    super('E_CLOSED', `${what} is closed: create a new instance with createRedkit() to go on`);
  }
}

// Capability errors are added below, one block per capability.

// --- queue + jobs (issue 6) ---

/** A queue could not take a job: Redis is down and the policy is `'reject'`, or no handler can run it inline. */
export class QueueUnavailableError extends RedkitError {
  readonly queue: string;
  /** `REJECT_POLICY` (onRedisDown: 'reject') or `NO_INLINE_HANDLER` (inline, but no handler in this process). */
  readonly reason: 'REJECT_POLICY' | 'NO_INLINE_HANDLER';
  constructor(queue: string, reason: 'REJECT_POLICY' | 'NO_INLINE_HANDLER', message: string, options?: { cause?: unknown }) {
    super('E_QUEUE_UNAVAILABLE', message, options);
    this.queue = queue;
    this.reason = reason;
  }
}

/** Job data cannot be queued: not plain JSON (`NOT_SERIALISABLE`) or over `maxPayloadBytes` (`TOO_LARGE`). */
export class JobDataError extends RedkitError {
  readonly reason: 'NOT_SERIALISABLE' | 'TOO_LARGE';
  /** Where in the data the problem is, e.g. `data.user.createdAt`. */
  readonly path: string;
  constructor(reason: 'NOT_SERIALISABLE' | 'TOO_LARGE', path: string, message: string) {
    super('E_JOB_DATA', message);
    this.reason = reason;
    this.path = path;
  }
}

/** A job handler ran longer than its `timeoutMs`; the attempt counts as failed (and is retried if attempts remain). */
export class JobTimeoutError extends RedkitError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number, hint = "raise the worker's timeoutMs or make the handler honour its abort signal") {
    super('E_JOB_TIMEOUT', `${what} did not finish within timeoutMs=${timeoutMs}: ${hint}`);
    this.timeoutMs = timeoutMs;
  }
}

/** No job record with this id (never created, or its TTL expired). */
export class JobNotFoundError extends RedkitError {
  readonly id: string;
  constructor(id: string) {
    super('E_JOB_NOT_FOUND', `job "${id}" does not exist (never created, or its TTL expired)`);
    this.id = id;
  }
}

/** A job record already exists under this id. */
export class JobExistsError extends RedkitError {
  readonly id: string;
  constructor(id: string) {
    super('E_JOB_EXISTS', `job "${id}" already exists: pick another id or omit it to get a generated one`);
    this.id = id;
  }
}

/** A status change that the job lifecycle forbids, e.g. `succeeded` → `running`. */
export class JobTransitionError extends RedkitError {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  constructor(id: string, from: string, to: string) {
    super('E_JOB_TRANSITION', `job "${id}" cannot go from "${from}" to "${to}": finished jobs (succeeded, failed, cancelled) never change status`);
    this.id = id;
    this.from = from;
    this.to = to;
  }
}

/** The external system (e.g. ComfyUI) refused or failed a request; `status` is its HTTP status when there was one. */
export class ExternalJobError extends RedkitError {
  readonly status: number | null;
  constructor(message: string, status: number | null = null, options?: { cause?: unknown }) {
    super('E_EXTERNAL_JOB', message, options);
    this.status = status;
  }
}

// --- lock / leader ---

/**
 * A lock or semaphore slot was not granted: at once (`wait` 0), or not within `wait` ms.
 * `reason`: `busy` (held by others), `restart-guard` (Redis restarted less than one TTL ago),
 * `aborted` (the caller's signal fired). `retryAfterMs` hints when a slot may free up.
 */
export class LockBusyError extends RedkitError {
  readonly lockName: string;
  readonly reason: 'busy' | 'restart-guard' | 'aborted';
  readonly retryAfterMs: number;
  constructor(lockName: string, reason: 'busy' | 'restart-guard' | 'aborted', retryAfterMs: number, waitedMs: number) {
    const why =
      reason === 'restart-guard'
        ? 'Redis restarted less than one TTL ago, so no grant is safe yet'
        : reason === 'aborted'
          ? 'the signal passed in options.signal was aborted'
          : 'it is held by others';
    super('E_LOCK_BUSY', `lock "${lockName}" was not acquired after ${Math.round(waitedMs)} ms: ${why}; pass a larger options.wait (ms) to wait for it`);
    this.lockName = lockName;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The lock is no longer held by this holder (its TTL ran out or it was released): extend refused. */
export class LockNotHeldError extends RedkitError {
  readonly lockName: string;
  constructor(lockName: string, detail = 'its TTL ran out or it was released') {
    super(
      'E_LOCK_NOT_HELD',
      `lock "${lockName}" is no longer held by this holder: ${detail}; acquire it again (and use a longer ttl or kit.lock.using() to extend it automatically)`,
    );
    this.lockName = lockName;
  }
}

// --- cache (issue 3) ---

/** A value cannot be stored by the namespace's serializer (JSON by default refuses what it would change). */
export class CacheSerializationError extends RedkitError {
  readonly namespace: string;
  readonly key: string;
  constructor(namespace: string, key: string, message: string, options?: { cause?: unknown }) {
    super('E_CACHE_SERIALIZATION', message, options);
    this.namespace = namespace;
    this.key = key;
  }
}

/** A value is larger than the namespace's `maxValueBytes` once serialized; nothing was stored. */
export class CacheValueTooLargeError extends RedkitError {
  readonly namespace: string;
  readonly key: string;
  readonly bytes: number;
  readonly limitBytes: number;
  constructor(namespace: string, key: string, bytes: number, limitBytes: number) {
    super(
      'E_CACHE_VALUE_TOO_LARGE',
      `cache "${namespace}" refused key "${key}": ${bytes} bytes serialized is over maxValueBytes=${limitBytes}; store less or raise the namespace's maxValueBytes`,
    );
    this.namespace = namespace;
    this.key = key;
    this.bytes = bytes;
    this.limitBytes = limitBytes;
  }
}

/** With `stampedeLock`, the loader failed on the instance holding the lock; every waiter gets this (the value is not cached). */
export class CacheRemoteLoadError extends RedkitError {
  readonly namespace: string;
  readonly key: string;
  constructor(namespace: string, key: string, remoteMessage: string) {
    super('E_CACHE_REMOTE_LOAD', `cache "${namespace}": the loader for key "${key}" failed on the instance holding the stampede lock: ${remoteMessage}`);
    this.namespace = namespace;
    this.key = key;
  }
}

// --- session (issue 18) ---

/**
 * The session store cannot answer now: Redis is down (or refused the command) and the policy is
 * `onRedisDown: 'fail'`, or the session is not in the in-process cache (`'cache'`). Never names
 * the session id. `statusCode` 503 lets express and fastify answer "try again" instead of 500.
 */
export class SessionUnavailableError extends RedkitError {
  /** The classified cause: `ECONNREFUSED`, `TIMEOUT`, `NOPERM`, `OOM`, `READONLY`, `NOT_CACHED`, … */
  readonly reason: string;
  readonly statusCode = 503;
  constructor(message: string, reason: string, options?: { cause?: unknown }) {
    super('E_SESSION_UNAVAILABLE', message, options);
    this.reason = reason;
  }
}

/** Session data cannot be stored as JSON (a cycle, a BigInt, …); nothing was stored. */
export class SessionDataError extends RedkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_SESSION_DATA', message, options);
  }
}

/** Every error class by name, for `instanceof`-free checks across package copies. */
export const errors = {
  LockBusyError,
  LockNotHeldError,
  RedkitError,
  ConfigError,
  InvalidArgumentError,
  RedisUnavailableError,
  RedisPermissionError,
  RedisOutOfMemoryError,
  RedisReadOnlyError,
  RedisCommandError,
  ClosedError,
  QueueUnavailableError,
  JobDataError,
  JobTimeoutError,
  JobNotFoundError,
  JobExistsError,
  JobTransitionError,
  ExternalJobError,
  CacheSerializationError,
  CacheValueTooLargeError,
  CacheRemoteLoadError,
  SessionUnavailableError,
  SessionDataError,
};

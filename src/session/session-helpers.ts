// The session store's argument, JSON and callback helpers, separate so the store and its outage cache share them without a cycle.
import { InvalidArgumentError, RedisCommandError, RedisUnavailableError, SessionDataError } from '../errors.js';
import type { SessionCallback, SessionData } from './types.js';

/** `fn()`, with a synchronous throw (a bad argument) turned into a rejection. */
export function attempt<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Calls `callback` once with the outcome, or returns the promise. An exception thrown by the
 * callback is neither swallowed nor answered with a second call: it surfaces as an unhandled
 * rejection, as an uncaught exception would in callback code.
 */
export function settle<T>(pending: Promise<T>, callback: SessionCallback<T> | undefined): Promise<T> | void {
  if (typeof callback !== 'function') return pending;
  void pending.then(
    (value) => callback(null, value),
    (err: unknown) => callback(err),
  );
}

/** The session as JSON. @throws SessionDataError when it is not an object or not JSON-serialisable. */
export function serialise(session: object): string {
  if (session === null || typeof session !== 'object')
    throw new SessionDataError(`session data must be an object (got ${session === null ? 'null' : typeof session})`);
  try {
    return JSON.stringify(session);
  } catch (err) {
    // The message of JSON.stringify names the problem (cycle, BigInt) without the data.
    throw new SessionDataError(
      `session data cannot be stored as JSON: ${(err as Error).message}; keep only plain data (strings, numbers, booleans, arrays, objects) in the session`,
    );
  }
}

/** The session data of stored JSON, or null when it is not a JSON object. */
export function parse(json: string): SessionData | null {
  try {
    const data = JSON.parse(json) as unknown;
    return data !== null && typeof data === 'object' ? (data as SessionData) : null;
  } catch {
    return null;
  }
}

/** @throws InvalidArgumentError when `sid` is not a usable session id. */
export function assertSid(sid: unknown): asserts sid is string {
  // The message never quotes the id: it is a bearer credential.
  if (typeof sid !== 'string' || sid.length === 0 || sid.length > 1024 || /[\u0000-\u001f]/.test(sid)) {
    throw new InvalidArgumentError('sid', 'the session id must be a non-empty string of at most 1024 characters without control characters');
  }
}

/** A short reason of a Redis failure (never its message, which may quote a key, so a session id). */
export function reasonOf(err: unknown): string {
  if (err instanceof RedisUnavailableError) return err.reason;
  if (err instanceof RedisCommandError) return err.replyCode;
  const word = /^([A-Z]{3,})\b/.exec(String((err as Error)?.message ?? ''))?.[1];
  return word ?? 'UNKNOWN';
}

/** `value` when a positive integer, `fallback` when undefined. @throws InvalidArgumentError otherwise */
export function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new InvalidArgumentError(name, `${name} must be a positive integer (got ${JSON.stringify(value)})`);
  return value;
}

/** A `.then` callback that drops the value. */
export function toVoid(): void {}

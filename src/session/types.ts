/** Node-style callback of the express-session / @fastify/session store interface. */
export type SessionCallback<T = void> = (err?: unknown, value?: T) => void;

/**
 * The session data a framework hands the store: any JSON-serialisable object. `cookie.maxAge`
 * (ms left) or `cookie.expires` sets the TTL; express-session and @fastify/session both fill it.
 */
export interface SessionData {
  cookie?: { maxAge?: number | null; expires?: Date | string | null; originalMaxAge?: number | null } | null;
  [key: string]: unknown;
}

/** What the store does while Redis is configured but cannot answer. */
export type SessionRedisDownPolicy = 'cache' | 'fail';

/** Options of `kit.sessionStore()`. */
export interface SessionStoreOptions {
  /** TTL of a session whose cookie has neither `maxAge` nor `expires`, in ms. Default 86 400 000 (1 day, as connect-redis). */
  ttlMs?: number;
  /**
   * While Redis is down: `'cache'` (default) serves sessions this instance saw recently from an
   * in-process cache and keeps writes there; `'fail'` fails every call with SessionUnavailableError.
   */
  onRedisDown?: SessionRedisDownPolicy;
  /** The in-process cache behind `onRedisDown: 'cache'`: `maxEntries` (default 10 000) and `ttlMs`, the longest a copy is kept after it was last seen in Redis (default 900 000, 15 min). */
  cache?: { maxEntries?: number; ttlMs?: number };
  /** Standalone mode (no Redis): sessions kept at most, least recently used evicted first. Default 100 000. */
  maxEntries?: number;
}

/** Where sessions live: Redis, or this process. Values are JSON strings; TTLs in ms. */
export interface SessionBackend {
  get(sid: string): Promise<string | null>;
  set(sid: string, json: string, ttlMs: number): Promise<void>;
  /** Writes only if absent; true when written. */
  setIfAbsent(sid: string, json: string, ttlMs: number): Promise<boolean>;
  /** Extends the TTL without touching the data; false when the session is gone. */
  touch(sid: string, ttlMs: number): Promise<boolean>;
  destroy(sids: string[]): Promise<void>;
  /** Every session as `[sid, json]`. */
  entries(): Promise<Array<[string, string]>>;
  length(): Promise<number>;
  /** Removes every session of this store; returns how many. */
  clear(): Promise<number>;
}

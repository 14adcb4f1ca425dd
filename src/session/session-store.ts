import type { RedkitContext } from '../context.js';
import { InvalidArgumentError, RedisCommandError, RedisUnavailableError, RedkitError, SessionUnavailableError } from '../errors.js';
import { MemorySessionBackend } from './memory-session-store.js';
import { RedisSessionBackend } from './redis-session-store.js';
import { expressAdapter } from './express-adapter.js';
import { OutageCache } from './outage-cache.js';
import { assertSid, attempt, parse, positiveInt, reasonOf, serialise, settle, toVoid } from './session-helpers.js';
import type { SessionBackend, SessionCallback, SessionData, SessionRedisDownPolicy, SessionStoreOptions } from './types.js';

/** First delay before writing back the outage's changes again after a failed attempt (doubles, up to 30 s). */
const FLUSH_RETRY_MS = 500;

const DEFAULT_TTL_MS = 86_400_000;
const DEFAULT_CACHE_TTL_MS = 900_000;

const REFUSAL_HINTS: Record<string, string> = {
  NOPERM: 'grant the ACL user access to the key prefix (~<prefix>:*) and the commands GET, SET, PEXPIRE, UNLINK, SCAN',
  OOM: 'Redis is at maxmemory with a noeviction policy: raise maxmemory or use volatile-lru',
  READONLY: 'the client reached a replica: point REDIS_URL at the primary',
};

/** A session as `all()` returns it: its data plus its id. */
export type StoredSession = SessionData & { id: string };

/**
 * The session store of express-session (through `express(session)`) and @fastify/session (as
 * is): `get`, `set`, `destroy`, `touch`, `all`, `length`, `clear`, each with a callback or
 * returning a Promise. Redis keys `<prefix>:session:<sid>`, JSON values, TTL from the cookie.
 * Standalone: in memory, bounded. Redis down: `onRedisDown` decides, in `#fallback` only.
 * Never logs a session id or a session's contents.
 */
export class SessionStore {
  /** TTL used when a session's cookie has no `maxAge`/`expires`, in ms. */
  readonly ttlMs: number;
  /** What happens while Redis is down. */
  readonly onRedisDown: SessionRedisDownPolicy;
  readonly #ctx: RedkitContext;
  /** Redis, or the in-memory store standalone. */
  readonly #backend: SessionBackend;
  readonly #redis: boolean;
  /** Recently seen sessions and the outage's changes (policy `'cache'` with Redis only). */
  readonly #outage: OutageCache | null;
  readonly #expressAdapters = new WeakMap<object, object>();
  #warned = false;
  /** Reasons of refusals already logged (one line per reason per store). */
  readonly #refusals = new Set<string>();
  #flushing: Promise<void> | null = null;
  #flushRetry: NodeJS.Timeout | null = null;
  #flushRetryMs = FLUSH_RETRY_MS;
  readonly #onConnected = () => void this.flush();

  constructor(ctx: RedkitContext, options: SessionStoreOptions = {}) {
    const known = ['ttlMs', 'onRedisDown', 'cache', 'maxEntries'];
    for (const key of Object.keys(options ?? {})) {
      if (!known.includes(key)) throw new InvalidArgumentError(`options.${key}`, `unknown session store option "${key}": use one of ${known.join(', ')}`);
    }
    this.ttlMs = positiveInt(options.ttlMs, 'options.ttlMs', DEFAULT_TTL_MS);
    const cacheTtlMs = positiveInt(options.cache?.ttlMs, 'options.cache.ttlMs', DEFAULT_CACHE_TTL_MS);
    const cacheMax = positiveInt(options.cache?.maxEntries, 'options.cache.maxEntries', 10_000);
    const maxEntries = positiveInt(options.maxEntries, 'options.maxEntries', 100_000);
    const policy = options.onRedisDown ?? 'cache';
    if (policy !== 'cache' && policy !== 'fail')
      throw new InvalidArgumentError('options.onRedisDown', `options.onRedisDown must be "cache" or "fail" (got ${JSON.stringify(policy)})`);
    this.onRedisDown = policy;
    this.#ctx = ctx;
    this.#redis = ctx.config.mode !== 'standalone';
    this.#backend = this.#redis ? new RedisSessionBackend(ctx) : new MemorySessionBackend(maxEntries);
    this.#outage = this.#redis && policy === 'cache' ? new OutageCache(cacheMax, cacheTtlMs) : null;
    if (this.#redis) ctx.connection.on('connected', this.#onConnected);
  }

  /** The session `sid`, or null when absent or expired. @throws SessionUnavailableError (see onRedisDown) */
  get(sid: string): Promise<SessionData | null>;
  get(sid: string, callback: SessionCallback<SessionData | null>): void;
  get(sid: string, callback?: SessionCallback<SessionData | null>): Promise<SessionData | null> | void {
    return settle(
      attempt(() => this.#get(sid)),
      callback,
    );
  }

  /** Stores `session` as JSON with the TTL of its cookie (an expired cookie destroys it). @throws SessionDataError, SessionUnavailableError */
  set(sid: string, session: object): Promise<void>;
  set(sid: string, session: object, callback: SessionCallback): void;
  set(sid: string, session: object, callback?: SessionCallback): Promise<void> | void {
    return settle(
      attempt(() => this.#set(sid, session)),
      callback,
    );
  }

  /** Extends the TTL from `session`'s cookie without rewriting the stored data; a missing session stays missing. */
  touch(sid: string, session: object): Promise<void>;
  touch(sid: string, session: object, callback: SessionCallback): void;
  touch(sid: string, session: object, callback?: SessionCallback): Promise<void> | void {
    return settle(
      attempt(() => this.#touch(sid, session)),
      callback,
    );
  }

  /** Removes the session `sid`. */
  destroy(sid: string): Promise<void>;
  destroy(sid: string, callback: SessionCallback): void;
  destroy(sid: string, callback?: SessionCallback): Promise<void> | void {
    return settle(
      attempt(() => this.#destroy(sid)),
      callback,
    );
  }

  /** Every live session, each with its `id` (SCAN: meant for admin pages, not per request). @throws SessionUnavailableError while Redis is down */
  all(): Promise<StoredSession[]>;
  all(callback: SessionCallback<StoredSession[]>): void;
  all(callback?: SessionCallback<StoredSession[]>): Promise<StoredSession[]> | void {
    return settle(
      this.#whole(async (b) => {
        const out: StoredSession[] = [];
        for (const [id, json] of await b.entries()) {
          const data = parse(json);
          if (data) out.push({ ...data, id });
        }
        return out;
      }),
      callback,
    );
  }

  /** How many sessions are stored. @throws SessionUnavailableError while Redis is down */
  length(): Promise<number>;
  length(callback: SessionCallback<number>): void;
  length(callback?: SessionCallback<number>): Promise<number> | void {
    return settle(
      this.#whole((b) => b.length()),
      callback,
    );
  }

  /** Removes every session of this kit's prefix and environment. @throws SessionUnavailableError while Redis is down */
  clear(): Promise<void>;
  clear(callback: SessionCallback): void;
  clear(callback?: SessionCallback): Promise<void> | void {
    return settle(
      this.#whole(async (b) => {
        await b.clear();
        await this.#outage?.clear();
      }),
      callback,
    );
  }

  /**
   * This store as an express-session `Store`: pass the `express-session` module (`import session
   * from 'express-session'`), whose `Store` class gives `load`, `regenerate` and `createSession`.
   * The same adapter is returned for the same module.
   */
  express<S extends { Store: abstract new () => object }>(session: S): InstanceType<S['Store']> {
    const Base = session?.Store as unknown as (new () => object) | undefined;
    if (typeof Base !== 'function')
      throw new InvalidArgumentError('session', 'express(session): pass the express-session module itself (import session from "express-session")');
    let adapter = this.#expressAdapters.get(Base);
    if (!adapter) {
      adapter = expressAdapter(Base, this);
      this.#expressAdapters.set(Base, adapter);
    }
    return adapter as InstanceType<S['Store']>;
  }

  /** Writes back what the outage kept (destroys, then sessions created meanwhile); runs by itself when Redis returns. */
  flush(): Promise<void> {
    if (!this.#redis) return Promise.resolve();
    this.#flushing ??= (async () => {
      try {
        const kept = this.#outage ? await this.#outage.writeBack(this.#backend, (data) => this.#ttlOf(data)) : 0;
        this.#flushRetryMs = FLUSH_RETRY_MS;
        if (this.#warned) {
          this.#warned = false;
          this.#ctx.logger.info({ writtenBack: kept }, '[redkit] sessions: Redis is back; sessions created during the outage were written back');
        }
      } catch (err) {
        // Logged once per run of failures: the retries below would repeat it every few seconds.
        if (this.#flushRetryMs === FLUSH_RETRY_MS)
          this.#ctx.logger.warn(
            { reason: reasonOf(err), pending: this.#outage?.pending ?? 0 },
            "[redkit] sessions: writing back the outage's changes failed; will retry when Redis returns",
          );
        // 'connected' comes once a cluster has one master answering: the others may still be
        // starting, and no second 'connected' follows. Retry while connected, backing off (unref'd).
        if (this.#ctx.connection.isReady && this.#flushRetry === null) {
          this.#flushRetry = setTimeout(() => {
            this.#flushRetry = null;
            void this.flush();
          }, this.#flushRetryMs);
          this.#flushRetry.unref();
          this.#flushRetryMs = Math.min(this.#flushRetryMs * 2, 30_000);
        }
      } finally {
        this.#flushing = null;
      }
    })();
    return this.#flushing;
  }

  /** Stops listening for reconnects (called by `kit.close()`). */
  close(): void {
    this.#ctx.connection.off('connected', this.#onConnected);
    if (this.#flushRetry) clearTimeout(this.#flushRetry);
    this.#flushRetry = null;
  }

  // The per-request operations are promise chains rather than async functions: each await
  // costs a frame per request, and these run on every request of every user.
  #get(sid: string): Promise<SessionData | null> {
    assertSid(sid);
    return this.#fallback(
      () => this.#backend.get(sid),
      () => this.#outage!.read(sid),
      (json) => this.#decode(sid, json),
    );
  }

  #decode(sid: string, json: string | null): SessionData | null {
    const fromRedis = this.#outage !== null && this.#ctx.connection.isReady;
    if (json === null) {
      if (fromRedis) this.#outage!.store.drop(sid);
      return null;
    }
    const data = parse(json);
    if (data === null) {
      this.#ctx.logger.warn({}, '[redkit] sessions: a stored session is not valid JSON; treated as missing');
      return null;
    }
    if (fromRedis) this.#remember(sid, json, data);
    return data;
  }

  #set(sid: string, session: object): Promise<void> {
    assertSid(sid);
    const json = serialise(session);
    const ttlMs = this.#ttlOf(session);
    if (ttlMs <= 0) return this.#destroy(sid);
    return this.#fallback(
      () => (this.#outage ? this.#backend.set(sid, json, ttlMs).then(() => this.#remember(sid, json, session, ttlMs)) : this.#backend.set(sid, json, ttlMs)),
      () => this.#outage!.setWhileDown(sid, json, ttlMs),
      toVoid,
    );
  }

  #touch(sid: string, session: object): Promise<void> {
    assertSid(sid);
    const ttlMs = this.#ttlOf(session);
    if (ttlMs <= 0) return this.#destroy(sid);
    return this.#fallback(
      () => this.#backend.touch(sid, ttlMs),
      () => this.#outage!.store.extend(sid, ttlMs),
      (found) => {
        if (found && this.#outage && this.#ctx.connection.isReady) this.#outage.store.extend(sid, Math.min(ttlMs, this.#outage.ttlMs));
      },
    );
  }

  #destroy(sid: string): Promise<void> {
    assertSid(sid);
    this.#outage?.store.drop(sid);
    return this.#fallback(
      () => this.#backend.destroy([sid]),
      () => this.#outage!.destroyWhileDown(sid),
    );
  }

  /** Whole-store operations need Redis: a partial cache cannot answer them honestly. */
  #whole<T>(fn: (backend: SessionBackend) => Promise<T>): Promise<T> {
    return this.#fallback(
      () => fn(this.#backend),
      () => {
        throw this.#unavailable(this.#ctx.connection.unavailable(), true);
      },
    );
  }

  /**
   * The one place Redis trouble is handled: runs `onRedis` (or the in-memory store standalone);
   * when Redis cannot answer (down, timed out, or a refusal such as NOPERM, OOM, READONLY), runs
   * `onDown` under `'cache'` or throws SessionUnavailableError under `'fail'`.
   */
  #fallback<R, T = R>(onRedis: () => Promise<R>, onDown: () => R, map?: (value: R) => T): Promise<T> {
    if (!this.#redis) return map ? onRedis().then(map) : (onRedis() as unknown as Promise<T>);
    if (!this.#ctx.connection.isReady) return this.#down(this.#ctx.connection.unavailable(), onDown, map);
    if (this.#outage !== null && this.#outage.pending > 0) void this.flush();
    // One reaction for both outcomes: each extra .then() is a turn of the microtask queue per request.
    return onRedis().then(map, (raw: unknown) => {
      const err = this.#ctx.connection.toUnavailable(raw);
      // Redis answered but refused (NOPERM, OOM, READONLY…; the connection maps them to typed
      // RedisUnavailableError subclasses): the cache cannot stand in for a Redis that is up,
      // since reads would still go there. Typed, and logged once per reason.
      if (err instanceof RedisUnavailableError && !(err.reason in REFUSAL_HINTS)) return this.#down(err, onDown, map);
      if (err instanceof RedkitError && !(err instanceof RedisUnavailableError) && !(err instanceof RedisCommandError)) throw err;
      throw this.#refused(err);
    }) as Promise<T>;
  }

  #down<R, T>(cause: unknown, onDown: () => R, map?: (value: R) => T): Promise<T> {
    if (!this.#outage) return Promise.reject(this.#unavailable(cause));
    if (!this.#warned) {
      this.#warned = true;
      this.#ctx.logger.warn(
        { reason: reasonOf(cause) },
        '[redkit] sessions: Redis not available; serving sessions from the in-process cache (onRedisDown: "cache")',
      );
    }
    try {
      const value = onDown();
      return Promise.resolve(map ? map(value) : (value as unknown as T));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #refused(err: unknown): SessionUnavailableError {
    const reason = reasonOf(err);
    if (!this.#refusals.has(reason)) {
      this.#refusals.add(reason);
      this.#ctx.logger.error(
        { reason },
        `[redkit] sessions: Redis refused a session command (${reason}); check the ACL user's permissions on the key prefix, maxmemory and that this is a primary`,
      );
    }
    // The reply's own text may quote the key, so the session id: only its reason goes along.
    return new SessionUnavailableError(`Redis refused the session command (${reason}): ${REFUSAL_HINTS[reason] ?? 'run `npx redkit doctor`'}`, reason);
  }

  #unavailable(cause: unknown, whole = false): SessionUnavailableError {
    const reason = reasonOf(cause);
    const why = whole ? 'all(), length() and clear() need Redis' : 'onRedisDown is "fail"';
    // A raw reply error may quote the key (and so the session id): only its reason goes along.
    const safeCause = cause instanceof RedkitError ? cause : undefined;
    return new SessionUnavailableError(
      `the session store cannot reach Redis (${reason}) and ${why}: retry when Redis is back${whole ? '' : ', or use onRedisDown: "cache" to serve recent sessions meanwhile'}`,
      reason,
      { cause: safeCause },
    );
  }

  /** Keeps a copy for outages, no longer than the session lives nor `cache.ttlMs`. */
  #remember(sid: string, json: string, data: object, ttlMs = this.#ttlOf(data)): void {
    this.#outage!.remember(sid, json, ttlMs);
  }

  #ttlOf(session: object): number {
    const cookie = (session as SessionData)?.cookie;
    if (cookie) {
      if (cookie.expires) {
        const at = new Date(cookie.expires).getTime();
        if (!Number.isNaN(at)) return at - Date.now();
      }
      if (typeof cookie.maxAge === 'number' && Number.isFinite(cookie.maxAge)) return cookie.maxAge;
    }
    return this.ttlMs;
  }
}

// The interface the Redis and the in-memory stores implement, in its own file so that cache.ts
// (which uses it) and redis-cache.ts / memory-cache.ts (which implement it) import it without a circle.

/** One stored value with its logical expiry and the end of its grace window (epoch ms). */
export interface CacheEntry<T> {
  value: T;
  /** Fresh until this instant. */
  expiresAt: number;
  /** Kept (and servable as stale) until this instant; equals `expiresAt` without grace. */
  staleUntil: number;
  /** Size of the stored form when the store knows it. */
  bytes?: number;
}

/** One write of `setMany` as the store sees it. */
export interface StoreWrite<T> {
  key: string;
  entry: CacheEntry<T>;
  /** The serialized value. */
  payload: string;
}

/**
 * What the Redis and the in-memory store implement, one store per namespace. Keys are the
 * namespace's own keys (the Redis store adds its prefix). Methods throw
 * on store failure; the cache turns that into its fallback in one place (`#storeFailed`).
 * `get`/`set` may answer synchronously (the memory store does, for speed).
 */
export interface CacheStore<T> {
  readonly kind: 'redis' | 'memory';
  /** `now` (epoch ms) lets a synchronous store skip its own clock read. */
  get(key: string, now?: number): CacheEntry<T> | undefined | Promise<CacheEntry<T> | undefined>;
  /**
   * `get` fused with what the caller does next: `settle(entry)` on an answer, `fail(err)` when the
   * store failed; returns what they return (synchronously for the memory store). The hot read
   * path: one promise reaction per call instead of two.
   */
  read<R>(key: string, now: number, settle: (entry: CacheEntry<T> | undefined) => R, fail: (err: unknown) => R | Promise<R>): R | Promise<R>;
  /** One round trip. */
  getMany(keys: string[]): Promise<Array<CacheEntry<T> | undefined>>;
  set(key: string, entry: CacheEntry<T>, payload: string): void | undefined | Promise<unknown>;
  /** One round trip. */
  setMany(writes: Array<StoreWrite<T>>): Promise<void>;
  delete(keys: string[]): Promise<number>;
  /** Removes every key of the namespace; returns how many. */
  clear(): Promise<number>;
  /** Takes the short stampede lock `key` if free (SET NX PX). */
  tryLock(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lock only if `token` still holds it. */
  unlock(key: string, token: string): Promise<void>;
  /** Maps a thrown error to what the caller sees in strict mode (RedisUnavailableError for connection trouble). */
  mapError(err: unknown): unknown;
}

/**
 * A multi-key store call that failed for some keys only (on Redis Cluster, the keys of a shard
 * that is down) while the others were done: the cache keeps the answers and degrades only the
 * failed keys. Internal: the cache maps `cause`, this never reaches a caller.
 */
export class PartialStoreFailure<R> extends Error {
  /** Per key in the caller's order; meaningless at the failed indices. */
  readonly values: R[];
  /** Indices of the keys that failed, ascending. */
  readonly failed: number[];

  constructor(cause: unknown, failed: number[], values: R[]) {
    super(`${failed.length} of ${values.length} keys failed`, { cause });
    this.name = 'PartialStoreFailure';
    this.values = values;
    this.failed = failed;
  }
}

// The coherent in-process L1 tier of a cache namespace, separate so cache.ts reads as the store flow with L1 hooks.
import type { LruMap } from './memory-cache.js';
import type { RedisCacheBus } from './redis-cache.js';
import type { CacheEntry, StoreWrite } from './store.js';

/**
 * @internal A namespace's L1: copies of Redis entries, capped at the L1 TTL, filled only while
 * the invalidation bus is live (a copy must be able to hear its invalidation).
 */
export class L1Tier<T> {
  readonly #map: LruMap<T>;
  readonly #ttlMs: number;
  readonly #bus: RedisCacheBus | null;
  /**
   * Bumped by every write and invalidation. A read fills L1 only if no write or invalidation
   * happened while it was in flight, so a slow read never puts an overwritten value in L1.
   */
  #epoch = 0;

  constructor(map: LruMap<T>, ttlMs: number, bus: RedisCacheBus | null) {
    this.#map = map;
    this.#ttlMs = ttlMs;
    this.#bus = bus;
  }

  /** The epoch to pass to `fill` when the read that may fill L1 is sent. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Any copy of `key`, fresh or in its stale window. */
  copy(key: string, now: number): CacheEntry<T> | undefined {
    return this.#map.get(key, now);
  }

  /** A fresh (not yet expired) copy of `key`; undefined otherwise. */
  fresh(key: string, now: number): CacheEntry<T> | undefined {
    const hit = this.#map.get(key, now);
    if (hit === undefined || now >= hit.expiresAt) return undefined;
    return hit;
  }

  /** Copies an entry read from the store, unless a write or invalidation happened since `epoch`. */
  fill(key: string, entry: CacheEntry<T>, epoch: number): void {
    // Only while subscribed: an L1 copy must be able to hear its invalidation.
    if (epoch !== this.#epoch || !this.#bus!.live) return;
    const l1Until = Date.now() + this.#ttlMs;
    this.#map.set(key, { value: entry.value, expiresAt: Math.min(entry.expiresAt, l1Until), staleUntil: entry.staleUntil }, entry.bytes ?? 0);
  }

  /** A local write: copied (capped at the L1 TTL) while the bus is live, else dropped. */
  write(key: string, entry: CacheEntry<T>, bytes: number): void {
    this.#epoch++;
    if (this.#bus!.live)
      this.#map.set(key, { value: entry.value, expiresAt: Math.min(entry.expiresAt, Date.now() + this.#ttlMs), staleUntil: entry.staleUntil }, bytes);
    else this.#map.delete(key);
  }

  /** A local setMany: each entry copied as written while the bus is live, else dropped. */
  writeMany(writes: ReadonlyArray<StoreWrite<T>>): void {
    this.#epoch++;
    const live = this.#bus!.live;
    for (const w of writes) {
      if (live) this.#map.set(w.key, w.entry, w.payload.length);
      else this.#map.delete(w.key);
    }
  }

  /** Drops `keys` after a write or delete (here or on another instance). */
  invalidate(keys: readonly string[]): void {
    this.#epoch++;
    for (const key of keys) this.#map.delete(key);
  }

  /** Drops a copy without an epoch bump: its write failed, so no read can have seen it in the store. */
  drop(key: string): void {
    this.#map.delete(key);
  }

  /** Drops every copy (a clear, or a reconnect: pub/sub is at-most-once). */
  clear(): void {
    this.#epoch++;
    this.#map.clear();
  }
}

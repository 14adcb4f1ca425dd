import { LRUCache } from 'lru-cache';
import type { CacheEntry, CacheStore, StoreWrite } from './store.js';

/** Bounds of an in-process LRU. */
export interface LruOptions {
  /** Entries kept at most; the least recently used goes first. lru-cache allocates index arrays of this length up front. */
  maxEntries: number;
  /** Total payload size kept at most (UTF-16 length of the stored form, a close proxy for bytes). */
  maxBytes: number;
}

/**
 * A bounded LRU of decoded entries with TTL, used as the standalone store and as the L1 tier.
 * Values are kept decoded so that a hit costs no parsing: callers get the same object on every
 * hit and must not mutate it. Recency and both bounds are lru-cache's (a hand-rolled Map LRU
 * evicted in O(n) once full after front deletes: 0.01 M sets/s at 100 k entries); the TTL check
 * stays here because an entry outlives its TTL by its grace window.
 */
export class LruMap<T> {
  readonly #lru: LRUCache<string, CacheEntry<T>>;
  readonly #maxBytes: number;
  // One options object reused by every set (lru-cache reads it synchronously): no allocation per write.
  readonly #setOptions: { size: number } = { size: 1 };

  constructor(options: LruOptions) {
    this.#maxBytes = Math.max(1, Math.floor(options.maxBytes));
    this.#lru = new LRUCache<string, CacheEntry<T>>({
      max: Math.max(1, Math.floor(options.maxEntries)),
      maxSize: this.#maxBytes,
      maxEntrySize: this.#maxBytes,
    });
  }

  /** Entries held now (expired ones are dropped lazily). */
  get size(): number {
    return this.#lru.size;
  }

  /** The entry if it is still within its stale window (`staleUntil`); expired entries are dropped. */
  get(key: string, now: number): CacheEntry<T> | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.staleUntil) {
      this.#lru.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Stores `entry` (kept as is, not copied); `bytes` is its stored size. Evicts least recently used entries past the bounds. */
  set(key: string, entry: CacheEntry<T>, bytes: number): void {
    // Too big to ever fit: the old value must not survive as if this write had not happened.
    if (bytes > this.#maxBytes) {
      this.#lru.delete(key);
      return;
    }
    // lru-cache wants a positive whole size.
    this.#setOptions.size = bytes >= 1 ? Math.ceil(bytes) : 1;
    this.#lru.set(key, entry, this.#setOptions);
  }

  /** Removes `key`; true if it was there. */
  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  /** Removes everything; returns how many entries there were. */
  clear(): number {
    const n = this.#lru.size;
    this.#lru.clear();
    return n;
  }
}

/** Options of the standalone (in-memory) store. */
export interface MemoryCacheStoreOptions extends LruOptions {
  /** Makes each stored value a fresh copy (decode of the stored form) so that the caller's later mutations do not leak in. */
  decode(payload: string): unknown;
}

/**
 * The standalone implementation of CacheStore: one process, bounded (entries and bytes), TTL
 * and grace like Redis. Every method answers synchronously where it can, because a resolved
 * Promise per call would halve memory-mode throughput.
 */
export class MemoryCacheStore<T> implements CacheStore<T> {
  readonly kind = 'memory' as const;
  readonly #lru: LruMap<T>;
  readonly #decode: (payload: string) => unknown;
  readonly #locks = new Map<string, { token: string; until: number }>();

  constructor(options: MemoryCacheStoreOptions) {
    this.#lru = new LruMap<T>(options);
    this.#decode = options.decode;
  }

  get(key: string, now = Date.now()): CacheEntry<T> | undefined {
    return this.#lru.get(key, now);
  }

  read<R>(key: string, now: number, settle: (entry: CacheEntry<T> | undefined) => R): R {
    return settle(this.#lru.get(key, now));
  }

  async getMany(keys: string[]): Promise<Array<CacheEntry<T> | undefined>> {
    const now = Date.now();
    return keys.map((k) => this.#lru.get(k, now));
  }

  set(key: string, entry: CacheEntry<T>, payload: string): void {
    this.#lru.set(key, { value: this.#decode(payload) as T, expiresAt: entry.expiresAt, staleUntil: entry.staleUntil }, payload.length);
  }

  async setMany(writes: Array<StoreWrite<T>>): Promise<void> {
    for (const w of writes) this.set(w.key, w.entry, w.payload);
  }

  async delete(keys: string[]): Promise<number> {
    let n = 0;
    for (const k of keys) if (this.#lru.delete(k)) n++;
    return n;
  }

  async clear(): Promise<number> {
    return this.#lru.clear();
  }

  async tryLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const held = this.#locks.get(key);
    if (held && held.until > now) return false;
    this.#locks.set(key, { token, until: now + ttlMs });
    return true;
  }

  async unlock(key: string, token: string): Promise<void> {
    if (this.#locks.get(key)?.token === token) this.#locks.delete(key);
  }

  mapError(err: unknown): unknown {
    return err;
  }

  /** Entries held now. */
  get size(): number {
    return this.#lru.size;
  }
}

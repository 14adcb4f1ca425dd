import type { CacheEntry, CacheStore, StoreWrite } from './cache.js';

interface Slot<T> extends CacheEntry<T> {
  bytes: number;
  /** Recency stamp: see `get`. */
  seq: number;
}

/** Bounds of an in-process LRU. */
export interface LruOptions {
  /** Entries kept at most; the least recently used goes first. */
  maxEntries: number;
  /** Total payload size kept at most (UTF-16 length of the stored form, a close proxy for bytes). */
  maxBytes: number;
}

/**
 * A bounded LRU of decoded entries with TTL, used as the standalone store and as the L1 tier.
 * Values are kept decoded so that a hit costs no parsing: callers get the same object on every
 * hit and must not mutate it.
 */
export class LruMap<T> {
  readonly #map = new Map<string, Slot<T>>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;
  #seq = 0;

  constructor(options: LruOptions) {
    this.#maxEntries = Math.max(1, options.maxEntries);
    this.#maxBytes = Math.max(1, options.maxBytes);
  }

  /** Entries held now (expired ones are dropped lazily). */
  get size(): number {
    return this.#map.size;
  }

  /** The entry if it is still within its stale window (`staleUntil`); expired entries are dropped. */
  get(key: string, now: number): CacheEntry<T> | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    if (now >= slot.staleUntil) {
      this.#drop(key, slot);
      return undefined;
    }
    // Hand-written approximate LRU: re-inserting on every hit (what makes a Map an LRU) costs a
    // delete+set; moving only entries in the older half keeps hot keys cheap and eviction sound.
    if (this.#seq - slot.seq > this.#maxEntries >>> 1) {
      this.#map.delete(key);
      slot.seq = ++this.#seq;
      this.#map.set(key, slot);
    }
    return slot;
  }

  /** Stores `entry`; `bytes` is its stored size. Evicts least recently used entries past the bounds. */
  set(key: string, entry: CacheEntry<T>, bytes: number): void {
    const old = this.#map.get(key);
    if (old !== undefined) this.#drop(key, old);
    if (bytes > this.#maxBytes) return;
    const slot: Slot<T> = { value: entry.value, expiresAt: entry.expiresAt, staleUntil: entry.staleUntil, bytes, seq: ++this.#seq };
    this.#map.set(key, slot);
    this.#bytes += bytes;
    while (this.#map.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#drop(oldest.value, this.#map.get(oldest.value)!);
    }
  }

  /** Removes `key`; true if it was there. */
  delete(key: string): boolean {
    const slot = this.#map.get(key);
    if (slot === undefined) return false;
    this.#drop(key, slot);
    return true;
  }

  /** Removes everything. */
  clear(): number {
    const n = this.#map.size;
    this.#map.clear();
    this.#bytes = 0;
    return n;
  }

  #drop(key: string, slot: Slot<T>): void {
    this.#map.delete(key);
    this.#bytes -= slot.bytes;
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

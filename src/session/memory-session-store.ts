import { LRUCache } from 'lru-cache';
import type { SessionBackend } from './types.js';

/**
 * Sessions in this process: bounded (`maxEntries`, least recently used evicted first) with a TTL
 * per session, like Redis. The standalone store, and the cache behind `onRedisDown: 'cache'`.
 */
export class MemorySessionBackend implements SessionBackend {
  readonly #lru: LRUCache<string, string>;

  constructor(maxEntries: number) {
    // No autopurge timers: an expired session is dropped when it is next looked at or evicted.
    this.#lru = new LRUCache<string, string>({ max: maxEntries, ttlAutopurge: false, updateAgeOnGet: false });
  }

  async get(sid: string): Promise<string | null> {
    return this.peek(sid);
  }

  async set(sid: string, json: string, ttlMs: number): Promise<void> {
    this.put(sid, json, ttlMs);
  }

  /** `get` without a Promise (the outage cache is on the hot path of every Redis read). */
  peek(sid: string): string | null {
    return this.#lru.get(sid) ?? null;
  }

  /** `set` without a Promise. */
  put(sid: string, json: string, ttlMs: number): void {
    this.#lru.set(sid, json, { ttl: Math.max(1, Math.ceil(ttlMs)) });
  }

  /** Removes `sid` without a Promise. */
  drop(sid: string): void {
    this.#lru.delete(sid);
  }

  async setIfAbsent(sid: string, json: string, ttlMs: number): Promise<boolean> {
    if (this.#lru.has(sid)) return false;
    await this.set(sid, json, ttlMs);
    return true;
  }

  async touch(sid: string, ttlMs: number): Promise<boolean> {
    return this.extend(sid, ttlMs);
  }

  /** `touch` without a Promise. */
  extend(sid: string, ttlMs: number): boolean {
    const json = this.#lru.get(sid);
    if (json === undefined) return false;
    // lru-cache has no "extend TTL": storing the same string again is the only way, and it is the same data.
    this.#lru.set(sid, json, { ttl: Math.max(1, Math.ceil(ttlMs)) });
    return true;
  }

  async destroy(sids: string[]): Promise<void> {
    for (const sid of sids) this.#lru.delete(sid);
  }

  async entries(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for (const sid of [...this.#lru.keys()]) {
      // peek: no recency change, and undefined for an expired session.
      const json = this.#lru.peek(sid);
      if (json !== undefined) out.push([sid, json]);
    }
    return out;
  }

  async length(): Promise<number> {
    this.#lru.purgeStale();
    return this.#lru.size;
  }

  async clear(): Promise<number> {
    this.#lru.purgeStale();
    const n = this.#lru.size;
    this.#lru.clear();
    return n;
  }

  /** Sessions held now, expired ones included until they are looked at. */
  get size(): number {
    return this.#lru.size;
  }
}

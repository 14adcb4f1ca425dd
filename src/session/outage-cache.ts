// The session store's outage cache (onRedisDown: 'cache'), separate because it is bookkeeping the Redis path only feeds.
import { SessionUnavailableError } from '../errors.js';
import { MemorySessionBackend } from './memory-session-store.js';
import { parse } from './session-helpers.js';
import type { SessionBackend, SessionData } from './types.js';

/**
 * @internal Recently seen sessions, served while Redis is down, and the changes made meanwhile,
 * written back when it returns. Bounded: `maxEntries` sessions and as many pending changes.
 */
export class OutageCache {
  /** The copies: kept no longer than their session lives nor `ttlMs`. */
  readonly store: MemorySessionBackend;
  /** How long a copy is kept (ms). */
  readonly ttlMs: number;
  readonly #max: number;
  /** Sessions created while Redis was down: written back with NX (never over a Redis copy) when it returns. */
  readonly #created = new Set<string>();
  /** Sessions destroyed while Redis was down: destroyed in Redis when it returns (a logout must reach it). */
  readonly #destroyed = new Set<string>();

  constructor(maxEntries: number, ttlMs: number) {
    this.#max = maxEntries;
    this.ttlMs = ttlMs;
    this.store = new MemorySessionBackend(maxEntries);
  }

  /** How many changes made during an outage still wait to reach Redis. */
  get pending(): number {
    return this.#created.size + this.#destroyed.size;
  }

  /** The copy of `sid` while Redis is down; null when destroyed meanwhile. @throws SessionUnavailableError when not cached */
  read(sid: string): string | null {
    if (this.#destroyed.has(sid)) return null;
    const cached = this.store.peek(sid);
    if (cached === null)
      throw new SessionUnavailableError(
        'the session store cannot reach Redis and this session is not in the in-process cache: retry when Redis is back (onRedisDown: "cache")',
        'NOT_CACHED',
      );
    return cached;
  }

  /** Keeps a copy for outages, no longer than the session lives (`ttlMs`) nor the cache's own ttl. */
  remember(sid: string, json: string, ttlMs: number): void {
    const keep = Math.min(ttlMs, this.ttlMs);
    if (keep > 0) this.store.put(sid, json, keep);
  }

  /** A `set` while Redis is down: kept here, and written back later if Redis never had it. */
  setWhileDown(sid: string, json: string, ttlMs: number): void {
    if (this.store.peek(sid) === null && !this.#destroyed.has(sid)) this.#bounded(this.#created).add(sid);
    this.#destroyed.delete(sid);
    this.store.put(sid, json, ttlMs);
  }

  /** A `destroy` while Redis is down: replayed on Redis later. */
  destroyWhileDown(sid: string): void {
    // A session created during the outage never reached Redis: nothing to destroy there.
    if (!this.#created.delete(sid)) this.#bounded(this.#destroyed).add(sid);
  }

  /**
   * Writes back what the outage kept: destroys first, then sessions created meanwhile (NX: a
   * copy in Redis, written by another instance since, wins over ours). Resolves with how many
   * were written; a failure leaves the rest pending.
   */
  async writeBack(backend: SessionBackend, ttlOf: (data: SessionData) => number): Promise<number> {
    for (const sid of [...this.#destroyed]) {
      await backend.destroy([sid]);
      this.#destroyed.delete(sid);
    }
    let kept = 0;
    for (const sid of [...this.#created]) {
      const json = await this.store.get(sid);
      const data = json ? parse(json) : null;
      const ttlMs = data ? ttlOf(data) : 0;
      if (json && ttlMs > 0 && (await backend.setIfAbsent(sid, json, ttlMs))) kept++;
      this.#created.delete(sid);
    }
    return kept;
  }

  /** Forgets every copy and every pending creation (the store was cleared). */
  async clear(): Promise<void> {
    await this.store.clear();
    this.#created.clear();
  }

  /** `set` with its oldest entry dropped first when full: the outage's bookkeeping stays as bounded as the cache. */
  #bounded(set: Set<string>): Set<string> {
    if (set.size >= this.#max) set.delete(set.values().next().value!);
    return set;
  }
}

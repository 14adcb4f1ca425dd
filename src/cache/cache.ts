import type { RedkitContext } from '../context.js';
import { InvalidArgumentError } from '../errors.js';
import type { LruMap } from './memory-cache.js';
import type { RedisCacheBus, CacheEvent } from './redis-cache.js';
import { hashKey, jsonSerializer, type CacheSerializer } from './serialize.js';
import type { Duration } from '../duration.js';
import { GET_OR_SET_KEYS, ITEM_KEYS, SET_KEYS, WRAP_KEYS, badKey, isKey } from './validate.js';
import { assertOptions } from '../options.js';
import { encodeValue, newEntry, resolveSettings, type CacheSettings } from './settings.js';
import { KeyWatchers, loadLocked, type StampedeHost } from './stampede.js';
import { type CacheEntry, type CacheStore, PartialStoreFailure, type StoreWrite } from './store.js';
import type { CacheStats, GetOrSetOptions, NamespaceOptions, SetOptions, WrapOptions } from './types.js';
import type { RedkitEvents } from '../metrics/events.js';
import { operationLabel, traced } from '../metrics/spans.js';

/** The `redkit:operation` label of a cache loader run. */
const CACHE_LOAD = operationLabel('cache', 'load');

export { hashKey, jsonSerializer, type CacheSerializer, type Duration };

const RESOLVED: Promise<void> = Promise.resolve();
function done(): void {}

/** Internal wiring of a namespace, built by CacheManager. */
interface CacheWiring<T> {
  name: string;
  ctx: RedkitContext;
  store: CacheStore<T>;
  bus: RedisCacheBus | null;
}

/**
 * A typed cache namespace: `get`, `set`, `getOrSet` with stampede protection, grace, an optional
 * coherent L1, and stats. Made by `kit.cache.namespace(name, options)`.
 */
export class Cache<T = unknown> {
  /** The namespace name. */
  readonly name: string;
  readonly #ctx: RedkitContext;
  readonly #store: CacheStore<T>;
  readonly #bus: RedisCacheBus | null;
  /** TTL, grace, jitter, serializer and size bound, for encodeValue / newEntry. */
  readonly #settings: CacheSettings<T>;
  readonly #strict: boolean;
  readonly #l1: LruMap<T> | null;
  readonly #l1TtlMs: number;
  readonly #lock: { ttlMs: number; waitMs: number } | null;
  /** Publish set/delete events: other instances' L1 and lock waiters need them. */
  readonly #notify: boolean;
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #refreshing = new Set<string>();
  readonly #watchers = new KeyWatchers();
  readonly #stampede: StampedeHost<T>;
  /**
   * Bumped by every write and invalidation. A read fills L1 only if no write or invalidation
   * happened while it was in flight, so a slow read never puts an overwritten value in L1.
   */
  #epoch = 0;
  #ready: Promise<void>;
  #lastWarnAt = 0;
  #hits = 0;
  #misses = 0;
  #loads = 0;
  #loadErrors = 0;
  #staleServes = 0;
  #l1Hits = 0;
  #coalesced = 0;
  /** `kit.on('hit' | 'miss' | 'load')`: checked before building a payload, so unused events cost a property read. */
  readonly #events: RedkitEvents;
  #errors = 0;

  /** @internal Use `kit.cache.namespace()`. */
  constructor(wiring: CacheWiring<T>, options: NamespaceOptions) {
    this.name = wiring.name;
    this.#ctx = wiring.ctx;
    this.#events = wiring.ctx.metrics.events;
    this.#store = wiring.store;
    this.#bus = wiring.bus;
    const settings = resolveSettings<T>(this.name, options, this.#store.kind);
    this.#settings = settings;
    this.#strict = settings.strict;
    this.#l1 = settings.l1;
    this.#l1TtlMs = settings.l1TtlMs;
    this.#lock = settings.lock;
    this.#notify = this.#bus !== null && (this.#l1 !== null || this.#lock !== null);
    this.#ready = this.#notify ? this.#bus!.start() : Promise.resolve();
    const ctx = this.#ctx;
    this.#stampede = {
      name: this.name,
      instanceId: ctx.instanceId,
      logger: ctx.logger,
      store: this.#store,
      watchers: this.#watchers,
      notify: this.#notify,
      publish: (event) => this.#publish(event),
      storeFailed: (err, op) => this.#storeFailed(err, op),
      loadAndStore: (key, loader, opts) => this.#loadAndStore(key, loader, opts),
    };
  }

  /**
   * Resolves once cross-instance events flow (this instance received its own probe on the
   * channel), at once when this namespace needs none. Waits for Redis while it is down.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** The value if fresh or in grace; `undefined` on a miss (and, unless strict, when Redis is down). */
  get(key: string): Promise<T | undefined> {
    // Not async, one .then: this is the hottest path of the cache, and an async function with an
    // await costs two more promises per call than a plain chain (measured ~8 % of a Redis hit).
    if (!isKey(key)) return Promise.reject(badKey(key));
    const fresh = this.#freshL1(key);
    if (fresh !== undefined) return Promise.resolve(fresh.value);
    const epoch = this.#epoch;
    const store = this.#store;
    if (store.kind === 'memory') {
      // Synchronous store: no closures, one clock read.
      const now = Date.now();
      return Promise.resolve(this.#settleGet(key, store.get(key, now) as CacheEntry<T> | undefined, epoch, now));
    }
    // The Redis store ignores `now`: the clock is read once, when the answer is there.
    return Promise.resolve(
      store.read(
        key,
        0,
        (entry) => this.#settleGet(key, entry, epoch, Date.now()),
        (err) => this.#getFailed(key, err),
      ),
    );
  }

  #settleGet(key: string, entry: CacheEntry<T> | undefined, epoch: number, now: number): T | undefined {
    if (entry === undefined) {
      this.#misses++;
      if (this.#events.wants.miss) this.#emitMiss(key);
      return undefined;
    }
    if (now < entry.expiresAt) {
      this.#hits++;
      if (this.#events.wants.hit) this.#emitHit(key, 'l2', false);
      if (this.#l1 !== null && epoch === this.#epoch) this.#fillL1(key, entry);
    } else {
      this.#staleServes++;
      if (this.#events.wants.hit) this.#emitHit(key, 'l2', true);
    }
    return entry.value;
  }

  #getFailed(key: string, err: unknown): Promise<T | undefined> {
    try {
      this.#storeFailed(err, 'get');
    } catch (thrown) {
      return Promise.reject(thrown);
    }
    return Promise.resolve(this.#fallback(key)?.value);
  }

  /** True when a fresh value is stored under `key` (a value in grace does not count). */
  async has(key: string): Promise<boolean> {
    if (!isKey(key)) throw badKey(key);
    const hit = this.#l1?.get(key, Date.now());
    if (hit !== undefined && Date.now() < hit.expiresAt) return true;
    try {
      const entry = await this.#store.get(key);
      return entry !== undefined && Date.now() < entry.expiresAt;
    } catch (err) {
      this.#storeFailed(err, 'has');
      return false;
    }
  }

  /** Stores `value` under `key` with the namespace TTL or `options.ttl`. Throws CacheSerializationError / CacheValueTooLargeError for bad values. */
  set(key: string, value: T, options?: SetOptions): Promise<void> {
    // Not async, like get: the hot write path.
    if (!isKey(key)) return Promise.reject(badKey(key));
    let payload: string;
    let entry: CacheEntry<T>;
    try {
      if (options !== undefined) assertOptions(options, SET_KEYS, 'set options');
      payload = encodeValue(this.#settings, this.name, key, value);
      entry = newEntry(this.#settings, value, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write(key, entry, payload);
  }

  /** Removes `key` here and from every instance's L1. Resolves true if a stored value was removed. */
  async delete(key: string): Promise<boolean> {
    if (!isKey(key)) throw badKey(key);
    this.#epoch++;
    this.#l1?.delete(key);
    try {
      const removed = await this.#store.delete([key]);
      if (this.#notify) this.#publish({ t: 'd', i: this.#ctx.instanceId, n: this.name, k: [key] });
      return removed > 0;
    } catch (err) {
      this.#storeFailed(err, 'delete');
      return false;
    }
  }

  /** Values for `keys` in order (`undefined` for misses), in one round trip. */
  async getMany(keys: string[]): Promise<Array<T | undefined>> {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('keys', 'getMany(keys): keys must be an array of strings');
    for (const key of keys) if (!isKey(key)) throw badKey(key);
    const out = new Array<T | undefined>(keys.length).fill(undefined);
    const missing: number[] = [];
    const now = Date.now();
    for (let i = 0; i < keys.length; i++) {
      const hit = this.#l1?.get(keys[i]!, now);
      if (hit !== undefined && now < hit.expiresAt) {
        this.#hits++;
        this.#l1Hits++;
        if (this.#events.wants.hit) this.#emitHit(keys[i]!, 'l1', false);
        out[i] = hit.value;
      } else {
        missing.push(i);
      }
    }
    if (missing.length === 0) return out;
    const epoch = this.#epoch;
    let entries: Array<CacheEntry<T> | undefined>;
    // Keys of a Redis Cluster shard that is down: they degrade, the other shards' answers stand.
    let failed: Set<number> | undefined;
    try {
      entries = await this.#store.getMany(missing.map((i) => keys[i]!));
    } catch (err) {
      const partial = err instanceof PartialStoreFailure ? (err as PartialStoreFailure<CacheEntry<T> | undefined>) : undefined;
      this.#storeFailed(partial ? partial.cause : err, 'getMany');
      if (!partial) {
        for (const i of missing) out[i] = this.#fallback(keys[i]!)?.value;
        return out;
      }
      entries = partial.values;
      failed = new Set(partial.failed);
    }
    const after = Date.now();
    missing.forEach((i, j) => {
      if (failed?.has(j)) {
        out[i] = this.#fallback(keys[i]!)?.value;
        return;
      }
      const entry = entries[j];
      if (entry === undefined) {
        this.#misses++;
        if (this.#events.wants.miss) this.#emitMiss(keys[i]!);
        return;
      }
      if (after < entry.expiresAt) {
        this.#hits++;
        if (this.#events.wants.hit) this.#emitHit(keys[i]!, 'l2', false);
        if (this.#l1 !== null && epoch === this.#epoch) this.#fillL1(keys[i]!, entry);
      } else {
        this.#staleServes++;
        if (this.#events.wants.hit) this.#emitHit(keys[i]!, 'l2', true);
      }
      out[i] = entry.value;
    });
    return out;
  }

  /** Stores every item in one round trip. Validates every value first: nothing is written if one is refused. */
  async setMany(items: Array<{ key: string; value: T; ttl?: Duration; grace?: Duration }>): Promise<void> {
    if (!Array.isArray(items)) throw new InvalidArgumentError('items', 'setMany(items): items must be an array of { key, value, ttl? }');
    const writes: Array<StoreWrite<T>> = items.map((item) => {
      if (!isKey(item?.key)) throw badKey(item?.key);
      assertOptions(item, ITEM_KEYS, 'setMany item');
      return { key: item.key, entry: newEntry(this.#settings, item.value, item), payload: encodeValue(this.#settings, this.name, item.key, item.value) };
    });
    if (writes.length === 0) return;
    this.#epoch++;
    const live = this.#l1 !== null && this.#bus!.live;
    for (const w of writes) {
      if (live) this.#l1!.set(w.key, w.entry, w.payload.length);
      else this.#l1?.delete(w.key);
    }
    try {
      await this.#store.setMany(writes);
      if (this.#notify) this.#publish({ t: 's', i: this.#ctx.instanceId, n: this.name, k: writes.map((w) => w.key) });
    } catch (err) {
      // Partly written (a cluster shard down): the written keys are announced, only the rest is dropped.
      const failed = err instanceof PartialStoreFailure ? new Set(err.failed) : undefined;
      const done = failed ? writes.filter((_, i) => !failed.has(i)).map((w) => w.key) : [];
      for (let i = 0; i < writes.length; i++) if (!failed || failed.has(i)) this.#l1?.delete(writes[i]!.key);
      if (this.#notify && done.length > 0) this.#publish({ t: 's', i: this.#ctx.instanceId, n: this.name, k: done });
      this.#storeFailed(failed ? (err as Error).cause : err, 'setMany');
    }
  }

  /**
   * The value of `key`, or the loader's result stored under it. Concurrent misses of one key
   * call the loader once per instance (once across instances with `stampedeLock`); a loader
   * error reaches every waiter and is not cached. A value in grace is returned at once and
   * refreshed in the background.
   */
  async getOrSet(key: string, loader: () => T | Promise<T>, options?: GetOrSetOptions): Promise<T> {
    if (!isKey(key)) throw badKey(key);
    if (typeof loader !== 'function')
      throw new InvalidArgumentError('loader', 'getOrSet(key, loader): loader must be a function returning the value (or a promise of it)');
    if (options !== undefined) assertOptions(options, GET_OR_SET_KEYS, 'getOrSet options');
    const fresh = this.#freshL1(key);
    if (fresh !== undefined) return fresh.value;
    const running = this.#inflight.get(key);
    if (running !== undefined) {
      this.#coalesced++;
      return running;
    }
    const pending = this.#readOrLoad(key, loader, options);
    this.#inflight.set(key, pending);
    try {
      return await pending;
    } finally {
      if (this.#inflight.get(key) === pending) this.#inflight.delete(key);
    }
  }

  /** Wraps `fn` so that its results are cached by `getOrSet` under `options.key` (default `hashKey(args)`). */
  wrap<A extends unknown[]>(fn: (...args: A) => T | Promise<T>, options: WrapOptions<A> = {}): (...args: A) => Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'wrap(fn): fn must be a function');
    assertOptions(options, WRAP_KEYS, 'wrap options');
    const { key, ...rest } = options;
    const keyOf = typeof key === 'function' ? key : typeof key === 'string' ? () => key : (...args: A) => hashKey(args);
    return (...args: A) => this.getOrSet(keyOf(...args), () => fn(...args), rest);
  }

  /** Removes every key of this namespace only (SCAN + UNLINK) here and in every instance's L1. Resolves with how many keys were removed. */
  async clear(): Promise<number> {
    this.#epoch++;
    this.#l1?.clear();
    try {
      const removed = await this.#store.clear();
      if (this.#notify) this.#publish({ t: 'c', i: this.#ctx.instanceId, n: this.name });
      return removed;
    } catch (err) {
      this.#storeFailed(err, 'clear');
      return 0;
    }
  }

  /** SHA-256 hex of a string, Buffer or plain object (keys sorted): stable across processes. */
  hashKey(input: unknown): string {
    return hashKey(input);
  }

  /** Counters since creation, with the hit rate. */
  stats(): CacheStats {
    const reads = this.#hits + this.#misses;
    return {
      namespace: this.name,
      store: this.#store.kind,
      hits: this.#hits,
      misses: this.#misses,
      hitRate: reads === 0 ? 0 : this.#hits / reads,
      loads: this.#loads,
      loadErrors: this.#loadErrors,
      staleServes: this.#staleServes,
      l1Hits: this.#l1Hits,
      coalesced: this.#coalesced,
      errors: this.#errors,
    };
  }

  /** @internal An event from another instance (the manager dispatches by namespace). */
  handleEvent(event: CacheEvent): void {
    if (event.i === this.#ctx.instanceId) return;
    if (event.t === 'c') {
      this.#epoch++;
      this.#l1?.clear();
      return;
    }
    if (!Array.isArray(event.k)) return;
    if (event.t === 's' || event.t === 'd') {
      this.#epoch++;
      if (this.#l1 !== null) for (const key of event.k) this.#l1.delete(key);
    }
    for (const key of event.k) this.#watchers.wake(key, event);
  }

  /** @internal Pub/sub is at-most-once: after a reconnect every L1 copy is suspect. */
  resync(): void {
    this.#epoch++;
    this.#l1?.clear();
  }

  // ---- internals ----

  /**
   * The one place a store failure is handled: counted, logged (at most every 10 s), then
   * thrown in strict mode or swallowed so that the caller degrades (read miss, write skipped).
   */
  #storeFailed(err: unknown, op: string): void {
    this.#errors++;
    const mapped = this.#store.mapError(err);
    if (this.#strict) throw mapped;
    const now = Date.now();
    if (now - this.#lastWarnAt >= 10_000) {
      this.#lastWarnAt = now;
      this.#ctx.logger.warn(
        { namespace: this.name, op, err: String((mapped as Error)?.message ?? mapped) },
        `[redkit] cache "${this.name}": store unavailable, degrading (reads miss, writes skipped)`,
      );
    }
  }

  /** When the store failed: an L1 copy still in its stale window, served instead of a miss. */
  #fallback(key: string): CacheEntry<T> | undefined {
    const copy = this.#l1?.get(key, Date.now());
    if (copy !== undefined) {
      this.#staleServes++;
      if (this.#events.wants.hit) this.#emitHit(key, 'l1', true);
    } else {
      this.#misses++;
      if (this.#events.wants.miss) this.#emitMiss(key);
    }
    return copy;
  }

  #emitHit(key: string, layer: 'l1' | 'l2', stale: boolean): void {
    this.#events.emit('hit', { namespace: this.name, key, layer, stale });
  }

  #emitMiss(key: string): void {
    this.#events.emit('miss', { namespace: this.name, key });
  }

  #emitLoad(key: string, started: number, ok: boolean): void {
    this.#events.emit('load', { namespace: this.name, key, durationMs: performance.now() - started, ok });
  }

  /** A fresh (not yet expired) L1 copy of `key`, counted as an L1 hit; undefined otherwise. */
  #freshL1(key: string): CacheEntry<T> | undefined {
    if (this.#l1 === null) return undefined;
    const now = Date.now();
    const hit = this.#l1.get(key, now);
    if (hit === undefined || now >= hit.expiresAt) return undefined;
    this.#hits++;
    this.#l1Hits++;
    if (this.#events.wants.hit) this.#emitHit(key, 'l1', false);
    return hit;
  }

  #fillL1(key: string, entry: CacheEntry<T>): void {
    // Only while subscribed: an L1 copy must be able to hear its invalidation.
    if (!this.#bus!.live) return;
    const l1Until = Date.now() + this.#l1TtlMs;
    this.#l1!.set(key, { value: entry.value, expiresAt: Math.min(entry.expiresAt, l1Until), staleUntil: entry.staleUntil }, entry.bytes ?? 0);
  }

  #write(key: string, entry: CacheEntry<T>, payload: string): Promise<void> {
    this.#epoch++;
    const l1 = this.#l1;
    if (l1 !== null) {
      if (this.#bus!.live)
        l1.set(key, { value: entry.value, expiresAt: Math.min(entry.expiresAt, Date.now() + this.#l1TtlMs), staleUntil: entry.staleUntil }, payload.length);
      else l1.delete(key);
    }
    let pending;
    try {
      pending = this.#store.set(key, entry, payload);
      // Published right after SET so both leave in the same socket write.
      if (this.#notify) this.#publish({ t: 's', i: this.#ctx.instanceId, n: this.name, k: [key] });
    } catch (err) {
      return this.#writeFailed(key, err);
    }
    if (!(pending instanceof Promise)) return RESOLVED;
    return pending.then(done, (err: unknown) => this.#writeFailed(key, err));
  }

  #writeFailed(key: string, err: unknown): Promise<void> {
    // A skipped write must not stay visible in this instance only.
    this.#l1?.delete(key);
    try {
      this.#storeFailed(err, 'set');
    } catch (thrown) {
      return Promise.reject(thrown);
    }
    return RESOLVED;
  }

  #publish(event: CacheEvent): void {
    // Not counted in stats.errors: a publish fails with the write it follows (already counted);
    // a lost invalidation alone is bounded by the L1 TTL and repaired by the resync clear.
    this.#bus!.publish(event).catch(() => undefined);
  }

  async #readOrLoad(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions | undefined): Promise<T> {
    const epoch = this.#epoch;
    let entry: CacheEntry<T> | undefined;
    let storeDown = false;
    try {
      const pending = this.#store.get(key);
      entry = pending instanceof Promise ? await pending : pending;
    } catch (err) {
      this.#storeFailed(err, 'get');
      storeDown = true;
      entry = this.#l1?.get(key, Date.now());
    }
    if (entry !== undefined) {
      if (!storeDown && Date.now() < entry.expiresAt) {
        this.#hits++;
        if (this.#events.wants.hit) this.#emitHit(key, 'l2', false);
        if (this.#l1 !== null && epoch === this.#epoch) this.#fillL1(key, entry);
        return entry.value;
      }
      this.#staleServes++;
      if (this.#events.wants.hit) this.#emitHit(key, storeDown ? 'l1' : 'l2', true);
      // In grace: answer now, refresh behind. With the store down there is nowhere to refresh into.
      if (!storeDown) this.#refresh(key, loader, options);
      return entry.value;
    }
    this.#misses++;
    if (this.#events.wants.miss) this.#emitMiss(key);
    return this.#load(key, loader, options);
  }

  #refresh(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions | undefined): void {
    if (this.#refreshing.has(key)) return;
    this.#refreshing.add(key);
    this.#load(key, loader, options)
      .catch(() => undefined) // counted in loadErrors; the stale value was served
      .finally(() => this.#refreshing.delete(key));
  }

  #load(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions | undefined): Promise<T> {
    const locked = options?.stampedeLock ?? this.#lock !== null;
    if (locked && this.#store.kind === 'redis') return loadLocked(this.#stampede, this.#lock, key, loader, options);
    return this.#loadAndStore(key, loader, options);
  }

  async #loadAndStore(key: string, loader: () => T | Promise<T>, options: SetOptions | undefined): Promise<T> {
    this.#loads++;
    const started = this.#events.wants.load ? performance.now() : 0;
    let value: T;
    try {
      // A span around the app's loader: the slow part a tracer wants to see under the request.
      value = await traced(CACHE_LOAD, () => Promise.resolve(loader()));
    } catch (err) {
      this.#loadErrors++;
      if (this.#events.wants.load) this.#emitLoad(key, started, false);
      throw err;
    }
    if (this.#events.wants.load) this.#emitLoad(key, started, true);
    const payload = encodeValue(this.#settings, this.name, key, value);
    await this.#write(key, newEntry(this.#settings, value, options), payload);
    return value;
  }
}

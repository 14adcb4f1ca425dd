import type { RedkitContext } from '../context.js';
import { InvalidArgumentError } from '../errors.js';
import { getMany, setMany, type BatchHost } from './batch.js';
import { L1Tier } from './l1.js';
import { CacheMeter } from './meter.js';
import type { RedisCacheBus, CacheEvent } from './redis-cache.js';
import { hashKey, jsonSerializer, type CacheSerializer } from './serialize.js';
import type { Duration } from '../duration.js';
import { GET_OR_SET_KEYS, SET_KEYS, WRAP_KEYS, badKey, isKey } from './validate.js';
import { assertOptions } from '../options.js';
import { encodeValue, newEntry, resolveSettings, type CacheSettings } from './settings.js';
import { KeyWatchers, loadLocked, type StampedeHost } from './stampede.js';
import type { CacheEntry, CacheStore } from './store.js';
import type { CacheStats, GetOrSetOptions, NamespaceOptions, SetOptions, WrapOptions } from './types.js';
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
  /** The coherent in-process tier, when the namespace asked for one (Redis store only). */
  readonly #l1: L1Tier<T> | null;
  readonly #lock: { ttlMs: number; waitMs: number } | null;
  /** Publish set/delete events: other instances' L1 and lock waiters need them. */
  readonly #notify: boolean;
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #refreshing = new Set<string>();
  readonly #watchers = new KeyWatchers();
  /** This namespace as the stampede lock and the batch operations see it. */
  readonly #host: StampedeHost<T> & BatchHost<T>;
  #ready: Promise<void>;
  #lastWarnAt = 0;
  /** Counters for stats() and the hit / miss / load events. */
  readonly #meter: CacheMeter;

  /** @internal Use `kit.cache.namespace()`. */
  constructor(wiring: CacheWiring<T>, options: NamespaceOptions) {
    this.name = wiring.name;
    this.#ctx = wiring.ctx;
    this.#meter = new CacheMeter(wiring.name, wiring.ctx.metrics.events);
    this.#store = wiring.store;
    this.#bus = wiring.bus;
    const settings = resolveSettings<T>(this.name, options, this.#store.kind);
    this.#settings = settings;
    this.#strict = settings.strict;
    this.#l1 = settings.l1 === null ? null : new L1Tier(settings.l1, settings.l1TtlMs, this.#bus);
    this.#lock = settings.lock;
    this.#notify = this.#bus !== null && (this.#l1 !== null || this.#lock !== null);
    this.#ready = this.#notify ? this.#bus!.start() : Promise.resolve();
    const ctx = this.#ctx;
    this.#host = {
      name: this.name,
      instanceId: ctx.instanceId,
      logger: ctx.logger,
      store: this.#store,
      watchers: this.#watchers,
      l1: this.#l1,
      meter: this.#meter,
      settings,
      notify: this.#notify,
      publish: (event) => this.#publish(event),
      storeFailed: (err, op) => this.#storeFailed(err, op),
      fallback: (key) => this.#fallback(key),
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
    const epoch = this.#l1 === null ? 0 : this.#l1.epoch;
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
      this.#meter.miss(key);
      return undefined;
    }
    if (now < entry.expiresAt) {
      this.#meter.hit(key, 'l2');
      this.#l1?.fill(key, entry, epoch);
    } else this.#meter.stale(key, 'l2');
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
    const hit = this.#l1?.copy(key, Date.now());
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
    this.#l1?.invalidate([key]);
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
  getMany(keys: string[]): Promise<Array<T | undefined>> {
    return getMany(this.#host, keys);
  }

  /** Stores every item in one round trip. Validates every value first: nothing is written if one is refused. */
  setMany(items: Array<{ key: string; value: T; ttl?: Duration; grace?: Duration }>): Promise<void> {
    return setMany(this.#host, items);
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
      this.#meter.coalesced++;
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
    return this.#meter.stats(this.#store.kind);
  }

  /** @internal An event from another instance (the manager dispatches by namespace). */
  handleEvent(event: CacheEvent): void {
    if (event.i === this.#ctx.instanceId) return;
    if (event.t === 'c') {
      this.#l1?.clear();
      return;
    }
    if (!Array.isArray(event.k)) return;
    if (event.t === 's' || event.t === 'd') this.#l1?.invalidate(event.k);
    for (const key of event.k) this.#watchers.wake(key, event);
  }

  /** @internal Pub/sub is at-most-once: after a reconnect every L1 copy is suspect. */
  resync(): void {
    this.#l1?.clear();
  }

  // ---- internals ----

  /**
   * The one place a store failure is handled: counted, logged (at most every 10 s), then
   * thrown in strict mode or swallowed so that the caller degrades (read miss, write skipped).
   */
  #storeFailed(err: unknown, op: string): void {
    this.#meter.errors++;
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
    const copy = this.#l1?.copy(key, Date.now());
    if (copy !== undefined) this.#meter.stale(key, 'l1');
    else this.#meter.miss(key);
    return copy;
  }

  /** A fresh (not yet expired) L1 copy of `key`, counted as an L1 hit; undefined otherwise. */
  #freshL1(key: string): CacheEntry<T> | undefined {
    if (this.#l1 === null) return undefined;
    const hit = this.#l1.fresh(key, Date.now());
    if (hit !== undefined) this.#meter.hit(key, 'l1');
    return hit;
  }

  #write(key: string, entry: CacheEntry<T>, payload: string): Promise<void> {
    this.#l1?.write(key, entry, payload.length);
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
    this.#l1?.drop(key);
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
    const epoch = this.#l1 === null ? 0 : this.#l1.epoch;
    let entry: CacheEntry<T> | undefined;
    let storeDown = false;
    try {
      const pending = this.#store.get(key);
      entry = pending instanceof Promise ? await pending : pending;
    } catch (err) {
      this.#storeFailed(err, 'get');
      storeDown = true;
      entry = this.#l1?.copy(key, Date.now());
    }
    if (entry !== undefined) {
      if (!storeDown && Date.now() < entry.expiresAt) {
        this.#meter.hit(key, 'l2');
        this.#l1?.fill(key, entry, epoch);
        return entry.value;
      }
      this.#meter.stale(key, storeDown ? 'l1' : 'l2');
      // In grace: answer now, refresh behind. With the store down there is nowhere to refresh into.
      if (!storeDown) this.#refresh(key, loader, options);
      return entry.value;
    }
    this.#meter.miss(key);
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
    if (locked && this.#store.kind === 'redis') return loadLocked(this.#host, this.#lock, key, loader, options);
    return this.#loadAndStore(key, loader, options);
  }

  async #loadAndStore(key: string, loader: () => T | Promise<T>, options: SetOptions | undefined): Promise<T> {
    const started = this.#meter.loadStarted();
    let value: T;
    try {
      // A span around the app's loader: the slow part a tracer wants to see under the request.
      value = await traced(CACHE_LOAD, () => Promise.resolve(loader()));
    } catch (err) {
      this.#meter.loadEnded(key, started, false);
      throw err;
    }
    this.#meter.loadEnded(key, started, true);
    const payload = encodeValue(this.#settings, this.name, key, value);
    await this.#write(key, newEntry(this.#settings, value, options), payload);
    return value;
  }
}

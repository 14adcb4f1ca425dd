import { randomBytes } from 'node:crypto';
import type { RedkitContext } from '../context.js';
import { CacheRemoteLoadError, CacheSerializationError, CacheValueTooLargeError, ClosedError, InvalidArgumentError } from '../errors.js';
import { LruMap, MemoryCacheStore } from './memory-cache.js';
import { RedisCacheBus, RedisCacheStore, type CacheEvent } from './redis-cache.js';
import { hashKey, jsonSerializer, type CacheSerializer } from './serialize.js';
import { toMs, type Duration } from '../duration.js';
import { GET_OR_SET_KEYS, ITEM_KEYS, L1_KEYS, LOCK_KEYS, NAMESPACE_KEYS, SET_KEYS, WRAP_KEYS, badKey, countOption, isKey } from './validate.js';
import { assertOptions } from '../options.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import type { RedkitEvents } from '../metrics/events.js';
import { operationLabel, traced } from '../metrics/spans.js';
import { cacheMetrics } from '../metrics/instruments.js';

/** The `redkit:operation` label of a cache loader run. */
const CACHE_LOAD = operationLabel('cache', 'load');

export { hashKey, jsonSerializer, type CacheSerializer, type Duration };

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

/** Options of the in-process L1 tier. */
export interface L1Options {
  /** Entries kept at most (LRU). Default 1000. */
  maxEntries?: number;
  /** Total stored size kept at most, in UTF-16 units of the stored form. Default 16 MiB. */
  maxBytes?: number;
  /** How long an L1 copy is served without asking Redis. Default `'10s'`. */
  ttl?: Duration;
}

/** Options of the cross-instance stampede lock. */
export interface StampedeLockOptions {
  /** Lock lease (SET NX PX): set it above your loader's usual duration. Default `'5s'`. */
  ttl?: Duration;
  /** How long a waiter waits for the holder's value before loading itself. Default: the lock ttl. */
  wait?: Duration;
}

/** Options of `kit.cache.namespace(name, options)`. */
export interface NamespaceOptions {
  /** Time to live of a value. Default `'1h'`. */
  ttl?: Duration;
  /** Keeps a value this long past its TTL: reads in grace get it at once while it refreshes, and it is served when Redis or the loader fails. Default 0. */
  grace?: Duration;
  /** Adds up to this fraction of the TTL at random (0–1), so keys written together do not expire together. Default 0. */
  jitter?: number;
  /** An in-process tier in front of Redis, kept coherent across instances by pub/sub. Off by default; ignored in standalone mode. */
  l1?: boolean | L1Options;
  /** Makes concurrent misses call the loader once across instances (not only once per instance). Off by default. */
  stampedeLock?: boolean | StampedeLockOptions;
  /** Default JSON (refusing what JSON would change). */
  serializer?: CacheSerializer;
  /** Largest stored value in UTF-8 bytes; bigger values are refused with CacheValueTooLargeError. Default 1 MiB. */
  maxValueBytes?: number;
  /** Throw RedisUnavailableError instead of degrading (reads miss, writes skipped) when Redis fails. Default false. */
  strict?: boolean;
  /** Standalone mode: entries kept at most (LRU). Default 10,000. */
  maxEntries?: number;
  /** Standalone mode: total stored size kept at most (UTF-16 units). Default 64 MiB. */
  maxBytes?: number;
}

/** Per-call options of `set`. */
export interface SetOptions {
  /** Overrides the namespace TTL. */
  ttl?: Duration;
  /** Overrides the namespace grace. */
  grace?: Duration;
}

/** Per-call options of `getOrSet`. */
export interface GetOrSetOptions extends SetOptions {
  /** Overrides the namespace's `stampedeLock` for this call. */
  stampedeLock?: boolean;
}

/** Options of `wrap`. */
export interface WrapOptions<A extends unknown[]> extends GetOrSetOptions {
  /** The cache key: a fixed string, or built from the arguments. Default: `hashKey(args)`. */
  key?: string | ((...args: A) => string);
}

/** `stats()` of one namespace, counted since it was created. */
export interface CacheStats {
  namespace: string;
  /** `redis` or `memory` (standalone). */
  store: 'redis' | 'memory';
  /** Reads answered with a fresh value (L1 or store). */
  hits: number;
  /** Reads that found nothing usable. */
  misses: number;
  /** hits / (hits + misses), 0 when there were no reads. */
  hitRate: number;
  /** Loader calls. */
  loads: number;
  /** Loader calls that threw. */
  loadErrors: number;
  /** Reads answered with a value in grace (or an L1 copy while Redis was down). */
  staleServes: number;
  /** Hits answered by the L1 tier (included in `hits`). */
  l1Hits: number;
  /** `getOrSet` calls that joined a load already running in this instance (neither hit nor miss). */
  coalesced: number;
  /** Store (Redis) operations that failed and were degraded (or thrown in strict mode). */
  errors: number;
}

const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
const RESOLVED: Promise<void> = Promise.resolve();
function done(): void {}
const LOCK_POLL_MS = 50;
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

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
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #jitter: number;
  readonly #serializer: CacheSerializer;
  readonly #maxValueBytes: number;
  readonly #strict: boolean;
  readonly #l1: LruMap<T> | null;
  readonly #l1TtlMs: number;
  readonly #lock: { ttlMs: number; waitMs: number } | null;
  /** Publish set/delete events: other instances' L1 and lock waiters need them. */
  readonly #notify: boolean;
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #refreshing = new Set<string>();
  readonly #waiters = new Map<string, Set<(event: CacheEvent) => void>>();
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
    this.#ttlMs = toMs(options.ttl ?? '1h', 'ttl');
    if (this.#ttlMs <= 0) throw new InvalidArgumentError('ttl', `namespace "${this.name}": ttl must be above 0`);
    this.#graceMs = toMs(options.grace ?? 0, 'grace');
    const jitter = options.jitter ?? 0;
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) throw new InvalidArgumentError('jitter', `namespace "${this.name}": jitter must be a fraction of the TTL from 0 to 1 (got ${String(jitter)})`);
    this.#jitter = jitter;
    this.#serializer = options.serializer ?? jsonSerializer;
    if (typeof this.#serializer?.serialize !== 'function' || typeof this.#serializer.deserialize !== 'function') {
      throw new InvalidArgumentError('serializer', `namespace "${this.name}": serializer must have serialize(value) → string and deserialize(string) methods`);
    }
    const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (!Number.isInteger(maxValueBytes) || maxValueBytes <= 0) throw new InvalidArgumentError('maxValueBytes', `namespace "${this.name}": maxValueBytes must be a whole number of bytes above 0`);
    this.#maxValueBytes = maxValueBytes;
    this.#strict = options.strict === true;
    const l1 = options.l1 === true ? {} : options.l1 || null;
    if (l1) {
      assertOptions(l1, L1_KEYS, `namespace "${this.name}" l1`);
      countOption(l1.maxEntries, 'l1.maxEntries');
      countOption(l1.maxBytes, 'l1.maxBytes');
    }
    // L1 only makes sense in front of a shared store; standalone is already in-process.
    if (l1 && this.#store.kind === 'redis') {
      this.#l1 = new LruMap<T>({ maxEntries: l1.maxEntries ?? 1000, maxBytes: l1.maxBytes ?? 16 * 1024 * 1024 });
      this.#l1TtlMs = toMs(l1.ttl ?? '10s', 'l1.ttl');
    } else {
      this.#l1 = null;
      this.#l1TtlMs = 0;
    }
    const lock = options.stampedeLock === true ? {} : options.stampedeLock || null;
    if (lock) {
      assertOptions(lock, LOCK_KEYS, `namespace "${this.name}" stampedeLock`);
      const ttlMs = toMs(lock.ttl ?? '5s', 'stampedeLock.ttl');
      this.#lock = { ttlMs, waitMs: toMs(lock.wait ?? ttlMs, 'stampedeLock.wait') };
    } else {
      this.#lock = null;
    }
    this.#notify = this.#bus !== null && (this.#l1 !== null || this.#lock !== null);
    this.#ready = this.#notify ? this.#bus!.start() : Promise.resolve();
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
    return Promise.resolve(store.read(key, 0,
      (entry) => this.#settleGet(key, entry, epoch, Date.now()),
      (err) => this.#getFailed(key, err)));
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
      payload = this.#serialize(key, value);
      entry = this.#entry(value, options);
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
    try {
      entries = await this.#store.getMany(missing.map((i) => keys[i]!));
    } catch (err) {
      this.#storeFailed(err, 'getMany');
      for (const i of missing) out[i] = this.#fallback(keys[i]!)?.value;
      return out;
    }
    const after = Date.now();
    missing.forEach((i, j) => {
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
      return { key: item.key, entry: this.#entry(item.value, item), payload: this.#serialize(item.key, item.value) };
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
      for (const w of writes) this.#l1?.delete(w.key);
      this.#storeFailed(err, 'setMany');
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
    if (typeof loader !== 'function') throw new InvalidArgumentError('loader', 'getOrSet(key, loader): loader must be a function returning the value (or a promise of it)');
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
    for (const key of event.k) {
      const waiters = this.#waiters.get(key);
      if (waiters) for (const wake of waiters) wake(event);
    }
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
      this.#ctx.logger.warn({ namespace: this.name, op, err: String((mapped as Error)?.message ?? mapped) }, `[redkit] cache "${this.name}": store unavailable, degrading (reads miss, writes skipped)`);
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
    this.#l1!.set(key, { value: entry.value, expiresAt: entry.expiresAt < l1Until ? entry.expiresAt : l1Until, staleUntil: entry.staleUntil }, entry.bytes ?? 0);
  }

  #serialize(key: string, value: T): string {
    let payload: string;
    try {
      payload = this.#serializer.serialize(value);
    } catch (err) {
      throw new CacheSerializationError(this.name, key, `cache "${this.name}" cannot store key "${key}": ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    if (typeof payload !== 'string') throw new CacheSerializationError(this.name, key, `cache "${this.name}": the serializer returned a ${typeof payload} for key "${key}"; serialize() must return a string`);
    // A UTF-16 length times 3 bounds the UTF-8 size: only long values pay for an exact count.
    if (payload.length * 3 > this.#maxValueBytes) {
      const bytes = Buffer.byteLength(payload, 'utf8');
      if (bytes > this.#maxValueBytes) throw new CacheValueTooLargeError(this.name, key, bytes, this.#maxValueBytes);
    }
    return payload;
  }

  #entry(value: T, options: SetOptions | undefined): CacheEntry<T> {
    let ttlMs = this.#ttlMs;
    let graceMs = this.#graceMs;
    if (options !== undefined) {
      if (options.ttl !== undefined) {
        ttlMs = toMs(options.ttl, 'ttl');
        if (ttlMs <= 0) throw new InvalidArgumentError('ttl', 'ttl must be above 0');
      }
      if (options.grace !== undefined) graceMs = toMs(options.grace, 'grace');
    }
    if (this.#jitter > 0) ttlMs += Math.floor(Math.random() * ttlMs * this.#jitter);
    const expiresAt = Date.now() + ttlMs;
    return { value, expiresAt, staleUntil: expiresAt + graceMs };
  }

  #write(key: string, entry: CacheEntry<T>, payload: string): Promise<void> {
    this.#epoch++;
    const l1 = this.#l1;
    if (l1 !== null) {
      if (this.#bus!.live) l1.set(key, { value: entry.value, expiresAt: Math.min(entry.expiresAt, Date.now() + this.#l1TtlMs), staleUntil: entry.staleUntil }, payload.length);
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
    if (locked && this.#store.kind === 'redis') return this.#loadLocked(key, loader, options);
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
    const payload = this.#serialize(key, value);
    await this.#write(key, this.#entry(value, options), payload);
    return value;
  }

  /**
   * Cross-instance stampede protection: SET NX PX a short lock; the holder loads and stores,
   * publishing `s` (or `e` with the error); the others wait for that event (or poll, since
   * pub/sub may drop it) and read the stored value. Bounded by `wait`, after which a waiter
   * loads itself rather than hang.
   */
  async #loadLocked(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions | undefined): Promise<T> {
    const { ttlMs, waitMs } = this.#lock ?? { ttlMs: 5000, waitMs: 5000 };
    const token = `${this.#ctx.instanceId}:${randomBytes(8).toString('hex')}`;
    const deadline = Date.now() + waitMs;
    // Listening for the whole wait, not per poll, so that no event falls between two polls.
    const watch = this.#watch(key);
    try {
      for (;;) {
        let acquired: boolean;
        try {
          acquired = await this.#store.tryLock(key, token, ttlMs);
        } catch (err) {
          this.#storeFailed(err, 'lock');
          return await this.#loadAndStore(key, loader, options);
        }
        if (acquired) {
          const failed = watch.failure();
          if (failed !== undefined) {
            this.#store.unlock(key, token).catch(() => undefined);
            throw new CacheRemoteLoadError(this.name, key, failed);
          }
          return await this.#loadHoldingLock(key, token, loader, options);
        }
        await watch.next(Math.max(1, Math.min(LOCK_POLL_MS, deadline - Date.now())));
        const failed = watch.failure();
        if (failed !== undefined) throw new CacheRemoteLoadError(this.name, key, failed);
        const entry = await this.#tryRead(key);
        if (entry !== undefined && Date.now() < entry.expiresAt) return entry.value;
        if (Date.now() >= deadline) {
          this.#ctx.logger.warn({ namespace: this.name, waitMs }, `[redkit] cache "${this.name}": no value from the stampede lock holder within ${waitMs} ms; loading here (raise stampedeLock.wait if loads take longer)`);
          return await this.#loadAndStore(key, loader, options);
        }
      }
    } finally {
      watch.close();
    }
  }

  async #loadHoldingLock(key: string, token: string, loader: () => T | Promise<T>, options: GetOrSetOptions | undefined): Promise<T> {
    try {
      // The previous holder may have stored the value between our miss and our lock.
      const entry = await this.#tryRead(key);
      if (entry !== undefined && Date.now() < entry.expiresAt) return entry.value;
      return await this.#loadAndStore(key, loader, options);
    } catch (err) {
      if (this.#notify) this.#publish({ t: 'e', i: this.#ctx.instanceId, n: this.name, k: [key], m: String((err as Error)?.message ?? err).slice(0, 500) });
      throw err;
    } finally {
      this.#store.unlock(key, token).catch(() => undefined); // the lease expires on its own
    }
  }

  async #tryRead(key: string): Promise<CacheEntry<T> | undefined> {
    try {
      return await this.#store.get(key);
    } catch {
      return undefined;
    }
  }

  /** Buffers events of `key` from other instances until closed: `next(ms)` waits for one (or `ms`). */
  #watch(key: string): { next(ms: number): Promise<void>; failure(): string | undefined; close(): void } {
    let failure: string | undefined;
    let wake: (() => void) | null = null;
    let pending = false;
    const listener = (event: CacheEvent) => {
      if (event.t === 'e') failure = event.m ?? 'unknown error';
      pending = true;
      wake?.();
    };
    let set = this.#waiters.get(key);
    if (!set) {
      set = new Set();
      this.#waiters.set(key, set);
    }
    set.add(listener);
    return {
      next: (ms) => {
        if (pending) {
          pending = false;
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          const timer = setTimeout(() => { wake = null; resolve(); }, ms);
          wake = () => { clearTimeout(timer); wake = null; pending = false; resolve(); };
        });
      },
      failure: () => failure,
      close: () => {
        const current = this.#waiters.get(key);
        if (!current) return;
        current.delete(listener);
        if (current.size === 0) this.#waiters.delete(key);
      },
    };
  }
}

/**
 * `kit.cache`: makes namespaces, shares one pub/sub channel between them, and reports stats.
 * Standalone: in-memory stores. Redis: the shared connection.
 */
export class CacheManager {
  readonly #ctx: RedkitContext;
  readonly #namespaces = new Map<string, { cache: Cache<any>; signature: string }>();
  readonly #bus: RedisCacheBus | null;
  #closed = false;

  readonly #warn: RateLimitedLogFn;

  /** @internal Use `kit.cache`. */
  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#warn = rateLimitedLog(ctx.logger, 'warn');
    this.#bus = ctx.config.mode === 'redis' ? new RedisCacheBus(ctx.connection, ctx.keys.key('cache', 'events'), ctx.instanceId, (e) => this.#dispatch(e), () => this.#resync()) : null;
    // The command client reconnected (or a paused Redis answers again): events may have been lost.
    if (this.#bus) ctx.connection.on('connected', () => this.#bus?.lost());
    // The namespaces' own totals, read at scrape time: a cache read pays nothing for metrics.
    cacheMetrics(ctx.metrics, () => this.stats());
  }

  /**
   * The namespace `name` (letters, digits, `_ . -`), created on first call. Calling again with
   * no options, or the same options, returns the same cache; other options throw.
   * @throws InvalidArgumentError for a bad name or options.
   */
  namespace<T = unknown>(name: string, options?: NamespaceOptions): Cache<T> {
    if (this.#closed) throw new ClosedError('kit.cache');
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new InvalidArgumentError('name', `cache namespace must be 1–100 letters, digits, "_", "." or "-" (got ${JSON.stringify(name)}); ":" is reserved as the key separator`);
    }
    assertOptions(options, NAMESPACE_KEYS, `namespace "${name}" options`);
    countOption(options?.maxEntries, 'maxEntries');
    countOption(options?.maxBytes, 'maxBytes');
    const signature = signatureOf(options);
    const existing = this.#namespaces.get(name);
    if (existing) {
      if (options === undefined || existing.signature === signature) return existing.cache as Cache<T>;
      throw new InvalidArgumentError('options', `cache namespace "${name}" already exists with other options: reuse the first Cache object or pick another name`);
    }
    const opts = options ?? {};
    const ctx = this.#ctx;
    let store: CacheStore<T>;
    if (this.#bus) {
      const serializer = opts.serializer ?? jsonSerializer;
      store = new RedisCacheStore<T>(ctx.connection, {
        prefix: `${ctx.keys.key('cache', name)}:`,
        // `@` cannot appear in a namespace name: lock keys never meet value keys, nor clear()'s pattern.
        lockPrefix: `${ctx.keys.key('cache', `${name}@lock`)}:`,
        pattern: ctx.keys.pattern('cache', name),
        decode: (payload) => serializer.deserialize(payload),
        // A corrupt value is read again on every get until overwritten: one line per namespace and minute.
        onCorrupt: (key, err) => this.#warn(`corrupt:${name}`, { namespace: name, key, err: String((err as Error)?.message ?? err) }, `[redkit] cache "${name}": a stored value could not be decoded; treating it as a miss`),
      });
    } else {
      const serializer = opts.serializer ?? jsonSerializer;
      store = new MemoryCacheStore<T>({ maxEntries: opts.maxEntries ?? 10_000, maxBytes: opts.maxBytes ?? 64 * 1024 * 1024, decode: (payload) => serializer.deserialize(payload) });
    }
    const cache = new Cache<T>({ name, ctx, store, bus: this.#bus }, opts);
    this.#namespaces.set(name, { cache, signature });
    return cache;
  }

  /** SHA-256 hex of a string, Buffer or plain object (keys sorted). */
  hashKey(input: unknown): string {
    return hashKey(input);
  }

  /** Stats of every namespace, by name. */
  stats(): Record<string, CacheStats> {
    const out: Record<string, CacheStats> = {};
    for (const [name, { cache }] of this.#namespaces) out[name] = cache.stats();
    return out;
  }

  /** Unsubscribes; called by `kit.close()`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#bus?.close();
  }

  #dispatch(event: CacheEvent): void {
    this.#namespaces.get(event.n)?.cache.handleEvent(event);
  }

  #resync(): void {
    for (const { cache } of this.#namespaces.values()) cache.resync();
  }
}

/** Options compared by value; functions (a custom serializer) by their source text. */
function signatureOf(options: NamespaceOptions | undefined): string {
  if (!options) return '{}';
  return JSON.stringify(options, (_k, v) => (typeof v === 'function' ? String(v) : v));
}

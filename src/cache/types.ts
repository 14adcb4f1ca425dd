import type { CacheSerializer } from './serialize.js';
import type { Duration } from '../duration.js';

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

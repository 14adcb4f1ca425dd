export { CacheManager, Cache } from './cache.js';
export type { NamespaceOptions, L1Options, StampedeLockOptions, SetOptions, GetOrSetOptions, WrapOptions, CacheStats, CacheStore, CacheEntry, StoreWrite } from './cache.js';
export { MemoryCacheStore, LruMap } from './memory-cache.js';
export type { LruOptions, MemoryCacheStoreOptions } from './memory-cache.js';
export { RedisCacheStore, RedisCacheBus } from './redis-cache.js';
export type { RedisCacheStoreOptions, CacheEvent } from './redis-cache.js';
export { hashKey, jsonSerializer, jsonProblem, toMs } from './serialize.js';
export type { CacheSerializer, Duration } from './serialize.js';

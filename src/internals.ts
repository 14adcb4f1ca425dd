// `redkit/internals`: the building blocks under the capabilities (config resolution, the
// connection, key layout, the Redis and in-memory stores and backends). Exported for tests and
// for wiring a capability by hand; unlike the root entry, these names may change in any release.
export { resolveConfig, maskUrl, MASK } from './config/index.js';
export { RedisConnection, SharedSubscriber, classifyError, redactError, backoffDelay } from './connection/index.js';
export { KeySpace, assertName, isWellFormed } from './keys.js';
export { assertOptions } from './options.js';
export { rateLimitedLog } from './rate-limited-log.js';
export type { RateLimitedLogOptions, RateLimitedLogFn } from './rate-limited-log.js';
export { RedisRateLimitStore, MemoryRateLimitStore } from './ratelimit/index.js';
export { MemoryLockBackend, RedisLockBackend, driftMarginMs } from './lock/index.js';
export { MemoryCacheStore, RedisCacheStore, LruMap } from './cache/index.js';
export {
  parseClientMessage,
  MemoryBus,
  RedisBus,
  MemoryPresence,
  RedisPresence,
  MemoryReactions,
  RedisReactions,
  PRESENCE_CHANNEL,
  REACTIONS_CHANNEL,
} from './realtime/index.js';
export { MemoryQueue, RedisQueue, RedisWorker } from './queue/index.js';
export { MemoryJobStore, RedisJobStore, MemoryJobLocks, RedisJobLocks, canTransition } from './jobs/index.js';
export { MemorySessionBackend, RedisSessionBackend } from './session/index.js';
export { traced, operationLabel, operationChannel, scriptLabel, labelCommand, labelClientCommands } from './metrics/spans.js';

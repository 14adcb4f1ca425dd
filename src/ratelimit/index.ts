export { RateLimiter } from './rate-limiter.js';
export { RateLimitService, rateLimitService, HEARTBEAT_MS } from './rate-limit-service.js';
export { RedisRateLimitStore } from './redis-rate-limit-store.js';
export type { RedisRateLimitStoreOptions } from './redis-rate-limit-store.js';
export { MemoryRateLimitStore } from './memory-rate-limit-store.js';
export type { MemoryRateLimitStoreOptions } from './memory-rate-limit-store.js';
export { RedkitThrottlerStorage } from './throttler-storage.js';
export type { ThrottlerStorageRecord, RedkitThrottlerStorageOptions } from './throttler-storage.js';
export { httpRateLimit, fastifyRateLimit, expressRateLimit, rateLimitHeaders } from './http.js';
export type {
  HttpRequestInfo,
  HttpKeyPart,
  HttpRateLimitOptions,
  HttpRateLimitOutcome,
  RateLimitBody,
  FastifyRequestLike,
  FastifyReplyLike,
  ExpressRequestLike,
  ExpressResponseLike,
} from './http.js';
export { clientAddress, compileTrustProxy, parseTrustProxy } from './proxy.js';
export type { TrustProxy, TrustFn } from './proxy.js';
export { validatePolicy } from './types.js';
export type {
  RateLimitAlgorithm,
  RedisDownPolicy,
  DecidedBy,
  RateLimitPolicy,
  RateLimitDecision,
  RateLimitStore,
  RateLimitResult,
  RateLimiterOptions,
} from './types.js';

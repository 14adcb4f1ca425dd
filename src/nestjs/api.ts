// The NestJS integration behind `redkit/nestjs` (index.ts loads it once the peers resolve).
// The only part of redkit that loads @nestjs/*; the main entry `redkit` never imports this folder.
export { RedkitModule } from './redkit.module.js';
export type { RedkitModuleOptions, RedkitModuleShape, RedkitModuleAsyncOptions, RedkitOptionsFactory } from './redkit.module.js';
export { REDIS_CLIENT, REDKIT, REDKIT_MODULE_OPTIONS, getCacheToken, InjectRedis, InjectRedkit, InjectCache } from './tokens.js';
export {
  RedkitCacheService,
  RedkitLockService,
  RedkitLeaderService,
  RedkitRateLimitService,
  RedkitQueueService,
  RedkitJobsService,
  RedkitRealtimeService,
  RedkitSessionService,
} from './services.js';
export { RedkitHealthIndicator, createHealthController } from './health.js';
export type { RedkitHealthIndicatorResult, RedkitHealthCheckOptions, RedkitIndicatorStatus, RedkitHealthControllerOptions } from './health.js';
// Re-exported for `ThrottlerModule.forRootAsync({ inject: [RedkitThrottlerStorage], ... })`.
export { RedkitThrottlerStorage } from '../ratelimit/index.js';
/**
 * The type of what `REDIS_CLIENT` injects (besides `null` standalone): ioredis's `Redis`, or its
 * `Cluster` on Redis Cluster (narrow with `instanceof Cluster` or `redkit`'s `isCluster`).
 */
export type { RedisClient } from '../connection/cluster.js';

// `redkit/nestjs`. An ES module's static imports are all resolved before any of its code runs,
// so without Nest installed a plain re-export fails with a raw ERR_MODULE_NOT_FOUND for
// 'reflect-metadata'. This entry imports nothing from Nest: it checks the peers first, then
// loads the integration (api.ts) with a synchronous require (require(esm), Node >= 20.19) —
// not top-level await, which would make `require('redkit/nestjs')` fail for CommonJS apps.
// Each class is re-bound as a value and a type of the same name, so DI by type still works.
import { createRequire } from 'node:module';
import { RedkitError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The packages `redkit/nestjs` needs at runtime (optional peers of redkit). */
const NEST_PEERS = ['@nestjs/common', '@nestjs/core', 'reflect-metadata', 'rxjs'] as const;

const missing = NEST_PEERS.filter((name) => {
  try {
    require.resolve(name);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  throw new RedkitError(
    'E_NEST_NOT_INSTALLED',
    `redkit/nestjs needs NestJS, but ${missing.join(', ')} cannot be found from ${import.meta.url}. ` +
      `Install the peers: npm install ${NEST_PEERS.join(' ')}`,
  );
}

type Api = typeof import('./api.js');
const api = require('./api.js') as Api;

export type { RedkitModuleOptions, RedkitModuleShape, RedkitModuleAsyncOptions, RedkitOptionsFactory } from './api.js';
export type { RedkitHealthIndicatorResult, RedkitHealthCheckOptions, RedkitIndicatorStatus, RedkitHealthControllerOptions } from './api.js';
/** The type of what `REDIS_CLIENT` injects (besides `null` standalone): ioredis's `Redis`, or its `Cluster` on Redis Cluster. */
export type { RedisClient } from './api.js';

/** The Nest module: `RedkitModule.forRoot(options)`, `forRootAsync(...)`, `forFeature({ caches })`. */
export const RedkitModule: Api['RedkitModule'] = api.RedkitModule;
export type RedkitModule = InstanceType<Api['RedkitModule']>;
/** Injection token of the shared ioredis client (`null` standalone). */
export const REDIS_CLIENT: Api['REDIS_CLIENT'] = api.REDIS_CLIENT;
/** Injection token of the `Redkit` instance. */
export const REDKIT: Api['REDKIT'] = api.REDKIT;
/** Injection token of the module's options. */
export const REDKIT_MODULE_OPTIONS: Api['REDKIT_MODULE_OPTIONS'] = api.REDKIT_MODULE_OPTIONS;
/** The injection token of the cache namespace `name`. */
export const getCacheToken: Api['getCacheToken'] = api.getCacheToken;
/** Parameter decorator: injects the shared ioredis client. */
export const InjectRedis: Api['InjectRedis'] = api.InjectRedis;
/** Parameter decorator: injects the `Redkit` instance. */
export const InjectRedkit: Api['InjectRedkit'] = api.InjectRedkit;
/** Parameter decorator: injects the cache namespace `name`. */
export const InjectCache: Api['InjectCache'] = api.InjectCache;
/** Injectable wrapper of `kit.cache`. */
export const RedkitCacheService: Api['RedkitCacheService'] = api.RedkitCacheService;
export type RedkitCacheService = InstanceType<Api['RedkitCacheService']>;
/** Injectable wrapper of `kit.lock`. */
export const RedkitLockService: Api['RedkitLockService'] = api.RedkitLockService;
export type RedkitLockService = InstanceType<Api['RedkitLockService']>;
/** Injectable wrapper of `kit.leader`. */
export const RedkitLeaderService: Api['RedkitLeaderService'] = api.RedkitLeaderService;
export type RedkitLeaderService = InstanceType<Api['RedkitLeaderService']>;
/** Injectable wrapper of `kit.rateLimit`. */
export const RedkitRateLimitService: Api['RedkitRateLimitService'] = api.RedkitRateLimitService;
export type RedkitRateLimitService = InstanceType<Api['RedkitRateLimitService']>;
/** Injectable wrapper of `kit.queue`. */
export const RedkitQueueService: Api['RedkitQueueService'] = api.RedkitQueueService;
export type RedkitQueueService = InstanceType<Api['RedkitQueueService']>;
/** Injectable wrapper of `kit.jobs`. */
export const RedkitJobsService: Api['RedkitJobsService'] = api.RedkitJobsService;
export type RedkitJobsService = InstanceType<Api['RedkitJobsService']>;
/** Injectable wrapper of `kit.realtime`. */
export const RedkitRealtimeService: Api['RedkitRealtimeService'] = api.RedkitRealtimeService;
export type RedkitRealtimeService = InstanceType<Api['RedkitRealtimeService']>;
/** Injectable wrapper of `kit.sessionStore()`: `store` (one per app) and `create(options)`. */
export const RedkitSessionService: Api['RedkitSessionService'] = api.RedkitSessionService;
export type RedkitSessionService = InstanceType<Api['RedkitSessionService']>;
/** Terminus-style health indicator over the shared connection. */
export const RedkitHealthIndicator: Api['RedkitHealthIndicator'] = api.RedkitHealthIndicator;
export type RedkitHealthIndicator = InstanceType<Api['RedkitHealthIndicator']>;
/** Builds a controller serving the `/api/health` JSON (200 healthy, 503 degraded). */
export const createHealthController: Api['createHealthController'] = api.createHealthController;
/** Re-exported for `ThrottlerModule.forRootAsync({ inject: [RedkitThrottlerStorage], ... })`. */
export const RedkitThrottlerStorage: Api['RedkitThrottlerStorage'] = api.RedkitThrottlerStorage;
export type RedkitThrottlerStorage = InstanceType<Api['RedkitThrottlerStorage']>;

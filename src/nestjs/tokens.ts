import { Inject } from '@nestjs/common';

/**
 * Injection token of the shared ioredis client — the very client the toolkit uses (`kit.redis`).
 * It is `null` in standalone mode (no Redis configured): inject it with `@Optional()` and branch.
 */
export const REDIS_CLIENT = 'REDIS_CLIENT';

/** Injection token of the toolkit (`Redkit`); injecting the `Redkit` class gives the same instance. */
export const REDKIT = 'REDKIT';

/** Injection token of the resolved module options (`RedkitModuleOptions`). */
export const REDKIT_MODULE_OPTIONS = 'REDKIT_MODULE_OPTIONS';

/** The token of the cache namespace `name` declared with `caches` in `forRoot` or `forFeature`. */
export function getCacheToken(name: string): string {
  return `REDKIT_CACHE:${name}`;
}

/** Parameter decorator: injects `REDIS_CLIENT` (ioredis `Redis`, or `null` standalone). */
export function InjectRedis(): ParameterDecorator & PropertyDecorator {
  return Inject(REDIS_CLIENT);
}

/** Parameter decorator: injects the toolkit. */
export function InjectRedkit(): ParameterDecorator & PropertyDecorator {
  return Inject(REDKIT);
}

/** Parameter decorator: injects the `Cache` of namespace `name` (declared with `caches`). */
export function InjectCache(name: string): ParameterDecorator & PropertyDecorator {
  return Inject(getCacheToken(name));
}

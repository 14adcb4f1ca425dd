import type { RedkitContext } from '../context.js';
import { InvalidArgumentError } from '../errors.js';
import { assertOptions } from '../options.js';
import { rateLimitService, type RateLimitService } from './rate-limit-service.js';
import {
  validateAlgorithm,
  validateExpectedInstances,
  validateRedisDownPolicy,
  type RateLimitAlgorithm,
  type RateLimitPolicy,
  type RateLimitResult,
  type RedisDownPolicy,
} from './types.js';

/**
 * `@nestjs/throttler` v6's `ThrottlerStorageRecord`, restated so that redkit does not need the
 * package to type-check (it stays an optional peer); a test asserts both are the same shape.
 */
export interface ThrottlerStorageRecord {
  totalHits: number;
  /** Seconds until the window resets. */
  timeToExpire: number;
  isBlocked: boolean;
  /** Seconds until the block ends; 0 when not blocked. */
  timeToBlockExpire: number;
}

/** Options of `RedkitThrottlerStorage`. */
export interface RedkitThrottlerStorageOptions {
  /** Redis configured but down: `local` (default: this instance's share of each limit), `allow` or `deny`. */
  onRedisDown?: RedisDownPolicy;
  /**
   * Counting rule. Default `sliding-window`: at most `limit` hits in any `ttl`, as the
   * throttler's own storage counts. `fixed-window` (a counter per window from the first hit)
   * keeps one small key per client but admits up to 2 × `limit` across a window edge.
   */
  algorithm?: RateLimitAlgorithm;
  /** `local` fallback: each instance admits `floor(limit / max(liveInstances, expectedInstances))`. Default 1. */
  expectedInstances?: number;
}

const OPTION_KEYS = ['onRedisDown', 'algorithm', 'expectedInstances'] as const;

/**
 * `ThrottlerStorage` for `@nestjs/throttler` v6 on redkit's limiter — use it from
 * `ThrottlerModule.forRootAsync({ useFactory: () => ({ throttlers, storage: new RedkitThrottlerStorage(kit) }) })`.
 * Redis and memory count the same way, and by default like the throttler's own storage (at
 * most `limit` hits in any `ttl`); the hit over the limit is blocked for `blockDuration`. Never throws a connection error into a request: `onRedisDown` decides.
 * A plain class (no decorators), so `@nestjs/throttler` stays an optional peer.
 */
export class RedkitThrottlerStorage {
  #service: RateLimitService;
  #onRedisDown: RedisDownPolicy;
  #algorithm: RateLimitAlgorithm;
  #expectedInstances: number;

  /** @throws InvalidArgumentError for an unknown option or a bad value, naming it. */
  constructor(ctx: RedkitContext, options: RedkitThrottlerStorageOptions = {}) {
    assertOptions(options, OPTION_KEYS, 'RedkitThrottlerStorage options');
    this.#service = rateLimitService(ctx);
    this.#onRedisDown = validateRedisDownPolicy(options.onRedisDown, 'RedkitThrottlerStorage');
    this.#algorithm = validateAlgorithm(options.algorithm, 'RedkitThrottlerStorage');
    this.#expectedInstances = validateExpectedInstances(options.expectedInstances, 'RedkitThrottlerStorage');
  }

  // One policy object per throttler while its settings stay the same: the Redis store builds
  // a policy's keys and arguments once per object.
  readonly #policies = new Map<string, RateLimitPolicy>();
  #policy(throttlerName: string, limit: number, windowMs: number, blockMs: number): RateLimitPolicy {
    const known = this.#policies.get(throttlerName);
    if (known && known.limit === limit && known.windowMs === windowMs && known.blockMs === blockMs) return known;
    const policy: RateLimitPolicy = { algorithm: this.#algorithm, limit, windowMs, blockMs };
    if (this.#policies.size >= 1000) this.#policies.clear();
    this.#policies.set(throttlerName, policy);
    return policy;
  }

  /**
   * Counts one hit of `key` for `throttlerName`. `ttl` and `blockDuration` in ms (v6); the
   * returned `timeToExpire` and `timeToBlockExpire` in seconds, as the guard expects.
   * @throws InvalidArgumentError when the throttler's limit or ttl is not a positive whole number.
   */
  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    if (!Number.isSafeInteger(limit) || limit <= 0)
      throw new InvalidArgumentError('limit', `throttler "${throttlerName}": limit must be a positive whole number (got ${limit})`);
    if (!Number.isSafeInteger(ttl) || ttl <= 0)
      throw new InvalidArgumentError('ttl', `throttler "${throttlerName}": ttl must be a positive whole number of milliseconds (got ${ttl})`);
    const blockMs = Number.isFinite(blockDuration) && blockDuration > 0 ? Math.ceil(blockDuration) : 0;
    const policy = this.#policy(throttlerName, limit, ttl, blockMs);
    const result: RateLimitResult = await this.#service.decide(
      `throttler:${throttlerName}:${key}`,
      policy,
      1,
      false,
      this.#onRedisDown,
      this.#expectedInstances,
    );
    return {
      // The guard shows `limit - totalHits` as remaining (so a local share shows its own remaining);
      // on refusal the throttler counts the refused hit too.
      totalHits: result.allowed ? limit - result.remaining : limit + 1,
      timeToExpire: Math.ceil(result.resetMs / 1000),
      isBlocked: !result.allowed,
      timeToBlockExpire: result.allowed ? 0 : Math.max(1, Math.ceil(result.retryAfterMs / 1000)),
    };
  }
}

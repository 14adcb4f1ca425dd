import type { RedkitContext } from '../context.js';
import { assertName } from '../keys.js';
import { rateLimitService, type RateLimitService } from './rate-limit-service.js';
import { operationLabel, traced } from '../metrics/spans.js';
import {
  assertLimiterOptions,
  validateCall,
  validateExpectedInstances,
  validatePolicy,
  validateRedisDownPolicy,
  type RateLimitPolicy,
  type RateLimitResult,
  type RateLimiterOptions,
  type RedisDownPolicy,
} from './types.js';

/** The `redkit:operation` label of `consume`. */
const RATELIMIT_CONSUME = operationLabel('ratelimit', 'consume');

/**
 * A rate limiter made by `kit.rateLimiter(options)`: every decision is atomic and, with Redis,
 * one round trip timed by the Redis server's clock. Shared by all instances on the same Redis.
 * Standalone: in memory. Redis down: `onRedisDown` (`local` by default) decides.
 */
export class RateLimiter {
  /** The validated counting rule. */
  readonly policy: Readonly<RateLimitPolicy>;
  /** Namespace of this limiter's keys. */
  readonly name: string;
  /** What decides while Redis is down. */
  readonly onRedisDown: RedisDownPolicy;
  /** `local` fallback divisor floor: see RateLimiterOptions.expectedInstances. */
  readonly expectedInstances: number;
  #service: RateLimitService;
  #prefix: string;

  /** Validates the options (InvalidArgumentError naming the option at fault). */
  constructor(ctx: RedkitContext, options: RateLimiterOptions) {
    assertLimiterOptions(options);
    this.policy = Object.freeze(validatePolicy(options));
    this.name = options.name ?? 'default';
    assertName(this.name, 'rateLimiter.name');
    this.onRedisDown = validateRedisDownPolicy(options.onRedisDown);
    this.expectedInstances = validateExpectedInstances(options.expectedInstances);
    this.#service = rateLimitService(ctx);
    this.#prefix = `${this.name}:`;
  }

  /**
   * Takes `cost` units (default 1) for `key` when the limit allows it. A refusal is a result
   * (`allowed: false`, `retryAfterMs`), never a throw.
   * @throws InvalidArgumentError for an empty key or a cost that is not a whole number in 1..limit.
   */
  consume(key: string, cost = 1): Promise<RateLimitResult> {
    try {
      validateCall(key, cost, this.policy.limit);
    } catch (err) {
      return Promise.reject(err);
    }
    return traced(RATELIMIT_CONSUME, () => this.#service.decide(this.#prefix + key, this.policy, cost, false, this.onRedisDown, this.expectedInstances));
  }

  /** What `consume(key, cost)` would decide now, without consuming anything. */
  peek(key: string, cost = 1): Promise<RateLimitResult> {
    try {
      validateCall(key, cost, this.policy.limit);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#service.decide(this.#prefix + key, this.policy, cost, true, this.onRedisDown, this.expectedInstances);
  }

  /** Forgets `key`'s counters and block (in Redis, and in this instance's fallback). */
  async reset(key: string): Promise<void> {
    assertName(key, 'key');
    return this.#service.reset(this.#prefix + key, this.policy);
  }

  /** Live instances sharing the limits, as last seen in Redis; the local fallback gives each `floor(limit / n)`. */
  get liveInstances(): number {
    return this.#service.liveInstances;
  }

  /** Heartbeats now and returns the live-instance count. */
  refreshLiveInstances(): Promise<number> {
    return this.#service.refreshLiveInstances();
  }
}

import { InvalidArgumentError } from '../errors.js';
import { toMs, type Duration } from '../duration.js';
import { assertName } from '../keys.js';
import { assertOptions } from '../options.js';

/**
 * How a limiter counts:
 * - `fixed-window`: `limit` units per window, the window starting at the key's first hit.
 * - `sliding-window`: exact sliding log — at most `limit` units admitted in any `windowMs`.
 * - `token-bucket`: capacity `limit`, refilled continuously at `limit / windowMs`.
 */
export type RateLimitAlgorithm = 'fixed-window' | 'sliding-window' | 'token-bucket';

/** What decides while Redis is configured but down: a shared-out local limiter, everyone, or no one. */
export type RedisDownPolicy = 'local' | 'allow' | 'deny';

/**
 * Who made a decision: `redis` (shared, exact), `memory` (standalone mode), `local` (Redis down,
 * this instance's share of the limit) or `policy` (Redis down, `onRedisDown` allow/deny).
 */
export type DecidedBy = 'redis' | 'memory' | 'local' | 'policy';

/** The counting rule of one decision; stores are stateless about it, so one store serves every limiter. */
export interface RateLimitPolicy {
  algorithm: RateLimitAlgorithm;
  /** Units per window (bucket capacity for `token-bucket`); a positive integer. */
  limit: number;
  /** Window length in ms (time to refill an empty bucket for `token-bucket`); a positive integer. */
  windowMs: number;
  /** After a refusal, refuse everything for this many ms, then start afresh; 0 = no block. */
  blockMs: number;
}

/** A store's answer: what the public result holds minus who decided. */
export interface RateLimitDecision {
  allowed: boolean;
  /** Units still available now (after this consume). */
  remaining: number;
  /** Ms until the key is back to its full limit. */
  resetMs: number;
  /** Ms until a request of this cost would be allowed; 0 when allowed. */
  retryAfterMs: number;
}

/**
 * The interface both stores implement (`redis-rate-limit-store.ts`, `memory-rate-limit-store.ts`),
 * counting identically. `key` is already namespaced by the limiter.
 */
export interface RateLimitStore {
  /** Decides for `cost` units, consuming them when allowed (`peek`: decide only). One atomic step. */
  consume(key: string, policy: RateLimitPolicy, cost: number, peek: boolean): Promise<RateLimitDecision>;
  /** Forgets the key's counters and block under this policy's algorithm. */
  reset(key: string, policy: RateLimitPolicy): Promise<void>;
}

/** The answer of `consume` and `peek`. A refusal is a result, never a throw. */
export interface RateLimitResult extends RateLimitDecision {
  /** The limit that applied (this instance's share when `decidedBy` is `local`). */
  limit: number;
  decidedBy: DecidedBy;
}

/** Options of `kit.rateLimiter()`. */
export interface RateLimiterOptions {
  /** Default `sliding-window` (exact: no burst of 2× the limit across a window edge). */
  algorithm?: RateLimitAlgorithm;
  /** Units per window (bucket capacity); a positive integer. */
  limit: number;
  /** Window (time to refill an empty bucket): ms, or a duration string such as `'1m'` or `'1 hour'`. */
  windowMs: Duration;
  /** Refuse everything this long (ms or a duration string) after the limit is exceeded; default 0 (no block). */
  blockMs?: Duration;
  /** Namespace of this limiter's keys, so two limiters never share counters. Default `default`. */
  name?: string;
  /** Redis configured but down: `local` (default), `allow` or `deny`. */
  onRedisDown?: RedisDownPolicy;
  /**
   * `local` fallback: each instance admits `floor(limit / max(liveInstances, expectedInstances))`.
   * Set it to your instance count so that instances booted while Redis is down (no count seen
   * yet) stay within the limit together. Default 1.
   */
  expectedInstances?: number;
}

const ALGORITHMS: readonly RateLimitAlgorithm[] = ['fixed-window', 'sliding-window', 'token-bucket'];
const POLICIES: readonly RedisDownPolicy[] = ['local', 'allow', 'deny'];

function positiveInteger(value: unknown, argument: string, hint: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(argument, `${argument} must be a positive whole number ${hint} (got ${JSON.stringify(value) ?? String(value)})`);
  }
  return value;
}

/** Validates `algorithm`; default `sliding-window`. */
export function validateAlgorithm(value: unknown, where = 'rateLimiter'): RateLimitAlgorithm {
  const algorithm = value ?? 'sliding-window';
  if (!ALGORITHMS.includes(algorithm as RateLimitAlgorithm)) {
    throw new InvalidArgumentError(`${where}.algorithm`, `${where}.algorithm must be one of ${ALGORITHMS.join(', ')} (got ${JSON.stringify(algorithm)})`);
  }
  return algorithm as RateLimitAlgorithm;
}

/**
 * Validates a limiter's counting rule; throws InvalidArgumentError naming the option.
 * `windowMs` and `blockMs` take a number of ms or a duration string (`'1m'`, `'1 hour'`).
 */
export function validatePolicy(
  options: { algorithm?: unknown; limit?: unknown; windowMs?: unknown; blockMs?: unknown },
  where = 'rateLimiter',
): RateLimitPolicy {
  const algorithm = validateAlgorithm(options.algorithm, where);
  const limit = positiveInteger(options.limit, `${where}.limit`, 'of units per window, e.g. 100');
  if (options.windowMs === undefined) positiveInteger(undefined, `${where}.windowMs`, 'of milliseconds or a duration like "1m"');
  const windowMs = toMs(options.windowMs, `${where}.windowMs`, { min: 1 });
  const blockMs = toMs(options.blockMs ?? 0, `${where}.blockMs`);
  return { algorithm, limit, windowMs, blockMs };
}

/** Validates `onRedisDown`; default `local`. */
export function validateRedisDownPolicy(value: unknown, where = 'rateLimiter'): RedisDownPolicy {
  const policy = value ?? 'local';
  if (!POLICIES.includes(policy as RedisDownPolicy)) {
    throw new InvalidArgumentError(`${where}.onRedisDown`, `${where}.onRedisDown must be one of ${POLICIES.join(', ')} (got ${JSON.stringify(policy)})`);
  }
  return policy as RedisDownPolicy;
}

const LIMITER_KEYS = ['algorithm', 'limit', 'windowMs', 'blockMs', 'name', 'onRedisDown', 'expectedInstances'] as const;

/** Refuses a `rateLimiter()` options object that is not an object or has a key it does not know. */
export function assertLimiterOptions(options: unknown): void {
  if (options === undefined) throw new InvalidArgumentError('rateLimiter options', 'rateLimiter(options) needs { limit, windowMs }');
  assertOptions(options, LIMITER_KEYS, 'rateLimiter options');
}

/** Validates `expectedInstances`; default 1. */
export function validateExpectedInstances(value: unknown, where = 'rateLimiter'): number {
  if (value === undefined) return 1;
  return positiveInteger(value, `${where}.expectedInstances`, 'of instances, e.g. 2');
}

/** Validates a consume's key and cost against the policy; `cost > limit` could never be allowed, so it is an error. */
export function validateCall(key: unknown, cost: unknown, limit: number): asserts key is string {
  assertName(key, 'key');
  positiveInteger(cost, 'cost', 'of units');
  if ((cost as number) > limit) {
    throw new InvalidArgumentError(
      'cost',
      `cost ${String(cost)} is more than the limit ${limit}: such a request could never be allowed; raise limit or lower cost`,
    );
  }
}

import { InvalidArgumentError } from '../errors.js';
import { isWellFormed } from '../keys.js';

// What the cache accepts as keys and options, kept out of cache.ts (the API and its hot paths).

/** A cache key: 1–1024 UTF-16 units, without a lone surrogate (Redis would store U+FFFD, aliasing keys). */
export function isKey(key: unknown): key is string {
  return typeof key === 'string' && key.length !== 0 && key.length <= 1024 && isWellFormed(key);
}

/** The InvalidArgumentError for a key `isKey` refused, saying why. */
export function badKey(key: unknown): InvalidArgumentError {
  if (typeof key === 'string' && key.length !== 0 && key.length <= 1024) {
    return new InvalidArgumentError(
      'key',
      'cache key holds a lone UTF-16 surrogate: Redis would store it as U+FFFD, so two such keys would be the same; pass well-formed text or hashKey() it',
    );
  }
  return new InvalidArgumentError(
    'key',
    `cache key must be a non-empty string of at most 1024 characters (got ${typeof key === 'string' ? `${key.length} characters` : typeof key})`,
  );
}

/** Known keys of each cache options object, for `assertOptions` (namespace, l1, stampedeLock, set, getOrSet, wrap, setMany item). */
export const NAMESPACE_KEYS = ['ttl', 'grace', 'jitter', 'l1', 'stampedeLock', 'serializer', 'maxValueBytes', 'strict', 'maxEntries', 'maxBytes'] as const;
export const L1_KEYS = ['maxEntries', 'maxBytes', 'ttl'] as const;
export const LOCK_KEYS = ['ttl', 'wait'] as const;
export const SET_KEYS = ['ttl', 'grace'] as const;
export const GET_OR_SET_KEYS = ['ttl', 'grace', 'stampedeLock'] as const;
export const WRAP_KEYS = ['ttl', 'grace', 'stampedeLock', 'key'] as const;
export const ITEM_KEYS = ['key', 'value', 'ttl', 'grace'] as const;

/** A whole number ≥ 1, or undefined; throws InvalidArgumentError naming the option. */
export function countOption(value: unknown, option: string): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)) {
    throw new InvalidArgumentError(option, `${option} must be a whole number ≥ 1 (got ${JSON.stringify(value) ?? typeof value})`);
  }
}

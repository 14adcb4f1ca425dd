import { InvalidArgumentError } from './errors.js';

/**
 * The one helper every Redis key comes from: `<prefix>:<capability>:<part>:…`.
 * The prefix holds `keyPrefix` and `environment`, so two environments sharing a Redis never meet.
 */
export class KeySpace {
  readonly prefix: string;
  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** `<prefix>:<capability>:<parts joined by ":">`. */
  key(capability: string, ...parts: Array<string | number>): string {
    return [this.prefix, capability, ...parts].join(':');
  }

  /**
   * Like `key`, with `id` wrapped in a `{…}` hash tag so that every key built with the same
   * capability and id lands in one Redis Cluster slot (multi-key Lua scripts need that).
   */
  tagged(capability: string, id: string, ...suffix: Array<string | number>): string {
    return [this.prefix, capability, `{${id}}`, ...suffix].join(':');
  }

  /** A SCAN `MATCH` pattern for every key of `capability` (and of `parts` under it), glob characters escaped. */
  pattern(capability: string, ...parts: Array<string | number>): string {
    const escaped = [this.prefix, capability, ...parts].map((p) => String(p).replace(/[*?[\]\\]/g, '\\$&'));
    return `${escaped.join(':')}:*`;
  }
}

/**
 * True when `value` has no lone UTF-16 surrogate. Such a string has no UTF-8 form: Redis would
 * get U+FFFD for it, so `'a\ud800'` and `'a\udfff'` would name the same key.
 */
export const isWellFormed: (value: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (value) => (value as string & { isWellFormed(): boolean }).isWellFormed()
    : (value) => !/\p{Cs}/u.test(value);

/** Throws InvalidArgumentError unless `value` is a non-empty string without control characters or lone surrogates. */
export function assertName(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(argument, `${argument} must be a non-empty string (got ${value === '' ? 'an empty string' : typeof value})`);
  }
  if (value.length > 1024 || /[\u0000-\u001f]/.test(value)) {
    throw new InvalidArgumentError(argument, `${argument} must be at most 1024 characters with no control characters`);
  }
  if (!isWellFormed(value)) {
    throw new InvalidArgumentError(
      argument,
      `${argument} must be valid Unicode: it holds a lone UTF-16 surrogate, which Redis would store as U+FFFD (so two such names would be the same)`,
    );
  }
}

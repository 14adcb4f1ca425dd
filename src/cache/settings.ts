import { CacheSerializationError, CacheValueTooLargeError, InvalidArgumentError } from '../errors.js';
import { toMs } from '../duration.js';
import { assertOptions } from '../options.js';
import { LruMap } from './memory-cache.js';
import { jsonSerializer, type CacheSerializer } from './serialize.js';
import type { CacheEntry } from './store.js';
import type { NamespaceOptions, SetOptions } from './types.js';
import { L1_KEYS, LOCK_KEYS, countOption } from './validate.js';

// A namespace's options checked and turned into numbers once, out of cache.ts (the API and its hot paths).

const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

/** A namespace's options, validated, with defaults applied and durations in ms. */
export interface CacheSettings<T> {
  ttlMs: number;
  graceMs: number;
  jitter: number;
  serializer: CacheSerializer;
  maxValueBytes: number;
  strict: boolean;
  /** The L1 tier, or null when off (always off in front of the memory store). */
  l1: LruMap<T> | null;
  l1TtlMs: number;
  /** The stampede lock's lease and wait, or null when off. */
  lock: { ttlMs: number; waitMs: number } | null;
}

/**
 * Validates `options` of namespace `name` (throws InvalidArgumentError naming the option) and
 * resolves them for a store of `storeKind`.
 */
export function resolveSettings<T>(name: string, options: NamespaceOptions, storeKind: 'redis' | 'memory'): CacheSettings<T> {
  const ttlMs = toMs(options.ttl ?? '1h', 'ttl');
  if (ttlMs <= 0) throw new InvalidArgumentError('ttl', `namespace "${name}": ttl must be above 0`);
  const graceMs = toMs(options.grace ?? 0, 'grace');
  const jitter = options.jitter ?? 0;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))
    throw new InvalidArgumentError('jitter', `namespace "${name}": jitter must be a fraction of the TTL from 0 to 1 (got ${String(jitter)})`);
  const serializer = options.serializer ?? jsonSerializer;
  if (typeof serializer?.serialize !== 'function' || typeof serializer.deserialize !== 'function') {
    throw new InvalidArgumentError('serializer', `namespace "${name}": serializer must have serialize(value) → string and deserialize(string) methods`);
  }
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!Number.isInteger(maxValueBytes) || maxValueBytes <= 0)
    throw new InvalidArgumentError('maxValueBytes', `namespace "${name}": maxValueBytes must be a whole number of bytes above 0`);
  const l1Options = options.l1 === true ? {} : options.l1 || null;
  if (l1Options) {
    assertOptions(l1Options, L1_KEYS, `namespace "${name}" l1`);
    countOption(l1Options.maxEntries, 'l1.maxEntries');
    countOption(l1Options.maxBytes, 'l1.maxBytes');
  }
  let l1: LruMap<T> | null = null;
  let l1TtlMs = 0;
  // L1 only makes sense in front of a shared store; standalone is already in-process.
  if (l1Options && storeKind === 'redis') {
    l1 = new LruMap<T>({ maxEntries: l1Options.maxEntries ?? 1000, maxBytes: l1Options.maxBytes ?? 16 * 1024 * 1024 });
    l1TtlMs = toMs(l1Options.ttl ?? '10s', 'l1.ttl');
  }
  const lockOptions = options.stampedeLock === true ? {} : options.stampedeLock || null;
  let lock: CacheSettings<T>['lock'] = null;
  if (lockOptions) {
    assertOptions(lockOptions, LOCK_KEYS, `namespace "${name}" stampedeLock`);
    const lockTtlMs = toMs(lockOptions.ttl ?? '5s', 'stampedeLock.ttl');
    lock = { ttlMs: lockTtlMs, waitMs: toMs(lockOptions.wait ?? lockTtlMs, 'stampedeLock.wait') };
  }
  return { ttlMs, graceMs, jitter, serializer, maxValueBytes, strict: options.strict === true, l1, l1TtlMs, lock };
}

/** The stored form of `value` under `key`; throws CacheSerializationError / CacheValueTooLargeError. */
export function encodeValue<T>(settings: CacheSettings<T>, name: string, key: string, value: T): string {
  let payload: string;
  try {
    payload = settings.serializer.serialize(value);
  } catch (err) {
    throw new CacheSerializationError(name, key, `cache "${name}" cannot store key "${key}": ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  if (typeof payload !== 'string')
    throw new CacheSerializationError(
      name,
      key,
      `cache "${name}": the serializer returned a ${typeof payload} for key "${key}"; serialize() must return a string`,
    );
  // A UTF-16 length times 3 bounds the UTF-8 size: only long values pay for an exact count.
  if (payload.length * 3 > settings.maxValueBytes) {
    const bytes = Buffer.byteLength(payload, 'utf8');
    if (bytes > settings.maxValueBytes) throw new CacheValueTooLargeError(name, key, bytes, settings.maxValueBytes);
  }
  return payload;
}

/** An entry of `value` expiring after the namespace TTL (or `options.ttl`), plus jitter and grace. */
export function newEntry<T>(settings: CacheSettings<T>, value: T, options: SetOptions | undefined): CacheEntry<T> {
  let ttlMs = settings.ttlMs;
  let graceMs = settings.graceMs;
  if (options !== undefined) {
    if (options.ttl !== undefined) {
      ttlMs = toMs(options.ttl, 'ttl');
      if (ttlMs <= 0) throw new InvalidArgumentError('ttl', 'ttl must be above 0');
    }
    if (options.grace !== undefined) graceMs = toMs(options.grace, 'grace');
  }
  if (settings.jitter > 0) ttlMs += Math.floor(Math.random() * ttlMs * settings.jitter);
  const expiresAt = Date.now() + ttlMs;
  return { value, expiresAt, staleUntil: expiresAt + graceMs };
}

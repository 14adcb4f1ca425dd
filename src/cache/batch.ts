// getMany / setMany of a cache namespace, separate because they batch what get / set do per key into one round trip.
import { InvalidArgumentError } from '../errors.js';
import type { Duration } from '../duration.js';
import { assertOptions } from '../options.js';
import type { L1Tier } from './l1.js';
import type { CacheMeter } from './meter.js';
import type { CacheEvent } from './redis-cache.js';
import { encodeValue, newEntry, type CacheSettings } from './settings.js';
import { type CacheEntry, type CacheStore, PartialStoreFailure, type StoreWrite } from './store.js';
import { ITEM_KEYS, badKey, isKey } from './validate.js';

/** @internal What the batch operations need from their namespace (built once by Cache). */
export interface BatchHost<T> {
  readonly name: string;
  readonly instanceId: string;
  readonly store: CacheStore<T>;
  readonly l1: L1Tier<T> | null;
  readonly meter: CacheMeter;
  readonly settings: CacheSettings<T>;
  /** Publishes set events (false when no instance listens). */
  readonly notify: boolean;
  publish(event: CacheEvent): void;
  /** The namespace's one place for store failures (throws in strict mode). */
  storeFailed(err: unknown, op: string): void;
  /** An L1 copy in its stale window served when the store failed, counted; undefined (a miss) otherwise. */
  fallback(key: string): CacheEntry<T> | undefined;
}

/** @internal `cache.getMany`: L1 first, then one store round trip for the rest. */
export async function getMany<T>(host: BatchHost<T>, keys: string[]): Promise<Array<T | undefined>> {
  if (!Array.isArray(keys)) throw new InvalidArgumentError('keys', 'getMany(keys): keys must be an array of strings');
  for (const key of keys) if (!isKey(key)) throw badKey(key);
  const out = new Array<T | undefined>(keys.length).fill(undefined);
  const missing: number[] = [];
  const now = Date.now();
  for (let i = 0; i < keys.length; i++) {
    const hit = host.l1?.fresh(keys[i]!, now);
    if (hit !== undefined) {
      host.meter.hit(keys[i]!, 'l1');
      out[i] = hit.value;
    } else {
      missing.push(i);
    }
  }
  if (missing.length === 0) return out;
  const epoch = host.l1 === null ? 0 : host.l1.epoch;
  let entries: Array<CacheEntry<T> | undefined>;
  // Keys of a Redis Cluster shard that is down: they degrade, the other shards' answers stand.
  let failed: Set<number> | undefined;
  try {
    entries = await host.store.getMany(missing.map((i) => keys[i]!));
  } catch (err) {
    const partial = err instanceof PartialStoreFailure ? (err as PartialStoreFailure<CacheEntry<T> | undefined>) : undefined;
    host.storeFailed(partial ? partial.cause : err, 'getMany');
    if (!partial) {
      for (const i of missing) out[i] = host.fallback(keys[i]!)?.value;
      return out;
    }
    entries = partial.values;
    failed = new Set(partial.failed);
  }
  const after = Date.now();
  missing.forEach((i, j) => {
    if (failed?.has(j)) {
      out[i] = host.fallback(keys[i]!)?.value;
      return;
    }
    const entry = entries[j];
    if (entry === undefined) {
      host.meter.miss(keys[i]!);
      return;
    }
    if (after < entry.expiresAt) {
      host.meter.hit(keys[i]!, 'l2');
      host.l1?.fill(keys[i]!, entry, epoch);
    } else host.meter.stale(keys[i]!, 'l2');
    out[i] = entry.value;
  });
  return out;
}

/** @internal `cache.setMany`: every value validated and encoded before anything is written. */
export async function setMany<T>(host: BatchHost<T>, items: Array<{ key: string; value: T; ttl?: Duration; grace?: Duration }>): Promise<void> {
  if (!Array.isArray(items)) throw new InvalidArgumentError('items', 'setMany(items): items must be an array of { key, value, ttl? }');
  const writes: Array<StoreWrite<T>> = items.map((item) => {
    if (!isKey(item?.key)) throw badKey(item?.key);
    assertOptions(item, ITEM_KEYS, 'setMany item');
    return { key: item.key, entry: newEntry(host.settings, item.value, item), payload: encodeValue(host.settings, host.name, item.key, item.value) };
  });
  if (writes.length === 0) return;
  host.l1?.writeMany(writes);
  try {
    await host.store.setMany(writes);
    if (host.notify) host.publish({ t: 's', i: host.instanceId, n: host.name, k: writes.map((w) => w.key) });
  } catch (err) {
    // Partly written (a cluster shard down): the written keys are announced, only the rest is dropped.
    const failed = err instanceof PartialStoreFailure ? new Set(err.failed) : undefined;
    const done = failed ? writes.filter((_, i) => !failed.has(i)).map((w) => w.key) : [];
    for (let i = 0; i < writes.length; i++) if (!failed || failed.has(i)) host.l1?.drop(writes[i]!.key);
    if (host.notify && done.length > 0) host.publish({ t: 's', i: host.instanceId, n: host.name, k: done });
    host.storeFailed(failed ? (err as Error).cause : err, 'setMany');
  }
}

import { randomBytes } from 'node:crypto';
import { CacheRemoteLoadError } from '../errors.js';
import type { Logger } from '../config/types.js';
import type { CacheEvent } from './redis-cache.js';
import type { CacheStore } from './store.js';
import type { GetOrSetOptions } from './types.js';

// The cross-instance stampede lock of getOrSet, out of cache.ts: its wait loop and the listeners
// that wake waiters on other instances' events.

const LOCK_POLL_MS = 50;

/** Listeners of one namespace's events, by key: waiters of the stampede lock. */
export class KeyWatchers {
  readonly #waiters = new Map<string, Set<(event: CacheEvent) => void>>();

  /** Wakes every watcher of `key` with `event`. */
  wake(key: string, event: CacheEvent): void {
    const waiters = this.#waiters.get(key);
    if (waiters) for (const wake of waiters) wake(event);
  }

  /** Buffers events of `key` from other instances until closed: `next(ms)` waits for one (or `ms`). */
  watch(key: string): { next(ms: number): Promise<void>; failure(): string | undefined; close(): void } {
    let failure: string | undefined;
    let wake: (() => void) | null = null;
    let pending = false;
    const listener = (event: CacheEvent) => {
      if (event.t === 'e') failure = event.m ?? 'unknown error';
      pending = true;
      wake?.();
    };
    let set = this.#waiters.get(key);
    if (!set) {
      set = new Set();
      this.#waiters.set(key, set);
    }
    set.add(listener);
    return {
      next: (ms) => {
        if (pending) {
          pending = false;
          return Promise.resolve();
        }
        return new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            wake = null;
            resolve();
          }, ms);
          wake = () => {
            clearTimeout(timer);
            wake = null;
            pending = false;
            resolve();
          };
        });
      },
      failure: () => failure,
      close: () => {
        const current = this.#waiters.get(key);
        if (!current) return;
        current.delete(listener);
        if (current.size === 0) this.#waiters.delete(key);
      },
    };
  }
}

/** What the stampede lock needs from its namespace (the Cache passes bound methods). */
export interface StampedeHost<T> {
  readonly name: string;
  readonly instanceId: string;
  readonly logger: Logger;
  readonly store: CacheStore<T>;
  readonly watchers: KeyWatchers;
  /** Publishes set/delete/error events (false when no one listens). */
  readonly notify: boolean;
  publish(event: CacheEvent): void;
  /** The namespace's one place for store failures (throws in strict mode). */
  storeFailed(err: unknown, op: string): void;
  loadAndStore(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions | undefined): Promise<T>;
}

/**
 * Cross-instance stampede protection: SET NX PX a short lock; the holder loads and stores,
 * publishing `s` (or `e` with the error); the others wait for that event (or poll, since
 * pub/sub may drop it) and read the stored value. Bounded by `wait`, after which a waiter
 * loads itself rather than hang.
 */
export async function loadLocked<T>(
  host: StampedeHost<T>,
  lock: { ttlMs: number; waitMs: number } | null,
  key: string,
  loader: () => T | Promise<T>,
  options: GetOrSetOptions | undefined,
): Promise<T> {
  const { ttlMs, waitMs } = lock ?? { ttlMs: 5000, waitMs: 5000 };
  const token = `${host.instanceId}:${randomBytes(8).toString('hex')}`;
  const deadline = Date.now() + waitMs;
  // Listening for the whole wait, not per poll, so that no event falls between two polls.
  const watch = host.watchers.watch(key);
  try {
    for (;;) {
      let acquired: boolean;
      try {
        acquired = await host.store.tryLock(key, token, ttlMs);
      } catch (err) {
        host.storeFailed(err, 'lock');
        return await host.loadAndStore(key, loader, options);
      }
      if (acquired) {
        const failed = watch.failure();
        if (failed !== undefined) {
          host.store.unlock(key, token).catch(() => undefined);
          throw new CacheRemoteLoadError(host.name, key, failed);
        }
        return await loadHoldingLock(host, key, token, loader, options);
      }
      await watch.next(Math.max(1, Math.min(LOCK_POLL_MS, deadline - Date.now())));
      const failed = watch.failure();
      if (failed !== undefined) throw new CacheRemoteLoadError(host.name, key, failed);
      const entry = await tryRead(host.store, key);
      if (entry !== undefined && Date.now() < entry.expiresAt) return entry.value;
      if (Date.now() >= deadline) {
        host.logger.warn(
          { namespace: host.name, waitMs },
          `[redkit] cache "${host.name}": no value from the stampede lock holder within ${waitMs} ms; loading here (raise stampedeLock.wait if loads take longer)`,
        );
        return await host.loadAndStore(key, loader, options);
      }
    }
  } finally {
    watch.close();
  }
}

async function loadHoldingLock<T>(
  host: StampedeHost<T>,
  key: string,
  token: string,
  loader: () => T | Promise<T>,
  options: GetOrSetOptions | undefined,
): Promise<T> {
  try {
    // The previous holder may have stored the value between our miss and our lock.
    const entry = await tryRead(host.store, key);
    if (entry !== undefined && Date.now() < entry.expiresAt) return entry.value;
    return await host.loadAndStore(key, loader, options);
  } catch (err) {
    if (host.notify) host.publish({ t: 'e', i: host.instanceId, n: host.name, k: [key], m: String((err as Error)?.message ?? err).slice(0, 500) });
    throw err;
  } finally {
    host.store.unlock(key, token).catch(() => undefined); // the lease expires on its own
  }
}

async function tryRead<T>(store: CacheStore<T>, key: string) {
  try {
    return await store.get(key);
  } catch {
    return undefined;
  }
}

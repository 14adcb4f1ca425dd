import type { RedkitContext } from '../context.js';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { assertOptions } from '../options.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { cacheMetrics } from '../metrics/instruments.js';
import { Cache } from './cache.js';
import { DeploymentStats, type DeploymentCacheStats } from './deployment-stats.js';
import { MemoryCacheStore } from './memory-cache.js';
import { RedisCacheBus, RedisCacheStore, type CacheEvent } from './redis-cache.js';
import { hashKey, jsonSerializer } from './serialize.js';
import type { CacheStore } from './store.js';
import type { CacheStats, NamespaceOptions } from './types.js';
import { NAMESPACE_KEYS, countOption } from './validate.js';

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * `kit.cache`: makes namespaces, shares one pub/sub channel between them, and reports stats.
 * Standalone: in-memory stores. Redis: the shared connection.
 */
export class CacheManager {
  readonly #ctx: RedkitContext;
  readonly #namespaces = new Map<string, { cache: Cache<any>; signature: string }>();
  readonly #bus: RedisCacheBus | null;
  readonly #deployment: DeploymentStats;
  #closed = false;

  readonly #warn: RateLimitedLogFn;

  /** @internal Use `kit.cache`. */
  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#warn = rateLimitedLog(ctx.logger, 'warn');
    this.#bus =
      ctx.config.mode === 'redis'
        ? new RedisCacheBus(
            ctx.connection,
            ctx.keys.key('cache', 'events'),
            ctx.instanceId,
            (e) => this.#dispatch(e),
            () => this.#resync(),
          )
        : null;
    // The command client reconnected (or a paused Redis answers again): events may have been lost.
    if (this.#bus) ctx.connection.on('connected', () => this.#bus?.lost());
    // The namespaces' own totals, read at scrape time: a cache read pays nothing for metrics.
    cacheMetrics(ctx.metrics, () => this.stats());
    this.#deployment = new DeploymentStats(ctx, () => this.stats());
  }

  /**
   * The namespace `name` (letters, digits, `_ . -`), created on first call. Calling again with
   * no options, or the same options, returns the same cache; other options throw.
   * @throws InvalidArgumentError for a bad name or options.
   */
  namespace<T = unknown>(name: string, options?: NamespaceOptions): Cache<T> {
    if (this.#closed) throw new ClosedError('kit.cache');
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new InvalidArgumentError(
        'name',
        `cache namespace must be 1–100 letters, digits, "_", "." or "-" (got ${JSON.stringify(name)}); ":" is reserved as the key separator`,
      );
    }
    assertOptions(options, NAMESPACE_KEYS, `namespace "${name}" options`);
    countOption(options?.maxEntries, 'maxEntries');
    countOption(options?.maxBytes, 'maxBytes');
    const signature = signatureOf(options);
    const existing = this.#namespaces.get(name);
    if (existing) {
      if (options === undefined || existing.signature === signature) return existing.cache as Cache<T>;
      throw new InvalidArgumentError(
        'options',
        `cache namespace "${name}" already exists with other options: reuse the first Cache object or pick another name`,
      );
    }
    const opts = options ?? {};
    const ctx = this.#ctx;
    let store: CacheStore<T>;
    if (this.#bus) {
      const serializer = opts.serializer ?? jsonSerializer;
      store = new RedisCacheStore<T>(ctx.connection, {
        prefix: `${ctx.keys.key('cache', name)}:`,
        // `@` cannot appear in a namespace name: lock keys never meet value keys, nor clear()'s pattern.
        lockPrefix: `${ctx.keys.key('cache', `${name}@lock`)}:`,
        pattern: ctx.keys.pattern('cache', name),
        decode: (payload) => serializer.deserialize(payload),
        // A corrupt value is read again on every get until overwritten: one line per namespace and minute.
        onCorrupt: (key, err) =>
          this.#warn(
            `corrupt:${name}`,
            { namespace: name, key, err: String((err as Error)?.message ?? err) },
            `[redkit] cache "${name}": a stored value could not be decoded; treating it as a miss`,
          ),
      });
    } else {
      const serializer = opts.serializer ?? jsonSerializer;
      store = new MemoryCacheStore<T>({
        maxEntries: opts.maxEntries ?? 10_000,
        maxBytes: opts.maxBytes ?? 64 * 1024 * 1024,
        decode: (payload) => serializer.deserialize(payload),
      });
    }
    const cache = new Cache<T>({ name, ctx, store, bus: this.#bus }, opts);
    this.#namespaces.set(name, { cache, signature });
    return cache;
  }

  /** SHA-256 hex of a string, Buffer or plain object (keys sorted). */
  hashKey(input: unknown): string {
    return hashKey(input);
  }

  /** Stats of every namespace, by name. */
  stats(): Record<string, CacheStats> {
    const out: Record<string, CacheStats> = {};
    for (const [name, { cache }] of this.#namespaces) out[name] = cache.stats();
    return out;
  }

  /**
   * Hits, misses, stale serves and loads summed over every instance of the deployment (with
   * Redis; standalone: this process), per namespace and in total. Each instance adds its changed
   * counters to a shared hash every 5 s and sends nothing while they do not change, so the
   * figure lags other instances by up to 5 s. Counts since the shared hash began (a Redis that
   * lost its data starts over), whereas `stats()` counts since this process started.
   * @throws RedisUnavailableError while Redis is unreachable.
   */
  deploymentStats(): Promise<DeploymentCacheStats> {
    return this.#deployment.read();
  }

  /** Unsubscribes; called by `kit.close()`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#deployment.close();
    await this.#bus?.close();
  }

  #dispatch(event: CacheEvent): void {
    this.#namespaces.get(event.n)?.cache.handleEvent(event);
  }

  #resync(): void {
    for (const { cache } of this.#namespaces.values()) cache.resync();
  }
}

/** Options compared by value; functions (a custom serializer) by their source text. */
function signatureOf(options: NamespaceOptions | undefined): string {
  if (!options) return '{}';
  return JSON.stringify(options, (_k, v) => (typeof v === 'function' ? String(v) : v));
}

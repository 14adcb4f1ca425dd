import { randomBytes } from 'node:crypto';
import { isCluster, type RedisClient } from '../connection/cluster.js';
import { isSlotSafe } from '../connection/slot-safe.js';
import type { RedisConnection } from '../connection/redis-connection.js';
import { scanServers } from '../connection/scan.js';
import { runPerSlot, type SlotResults } from '../connection/slots.js';
import { acquireLease, releaseLease } from '../lease/lease.js';
import { type CacheEntry, type CacheStore, PartialStoreFailure, type StoreWrite } from './store.js';

/** Options of RedisCacheStore. */
export interface RedisCacheStoreOptions {
  /** Prepended to every key: `<prefix>:cache:<namespace>:`. */
  prefix: string;
  /** Prepended to stampede lock keys. */
  lockPrefix: string;
  /** SCAN MATCH pattern covering every key of the namespace (for `clear`). */
  pattern: string;
  /** Decodes a stored payload (the serializer's `deserialize`). */
  decode(payload: string): unknown;
  /** Called when a stored value cannot be decoded; the read then counts as a miss. */
  onCorrupt(key: string, err: unknown): void;
}

/**
 * The Redis implementation of CacheStore, on the shared command client (writes batched per tick).
 * Stored form: `<expiresAt ms>:<staleUntil ms>:<payload>`, with a Redis TTL at `staleUntil`, so
 * a value in grace is still there and a reader can tell it is stale.
 */
export class RedisCacheStore<T> implements CacheStore<T> {
  readonly kind = 'redis' as const;
  readonly #conn: RedisConnection;
  readonly #options: RedisCacheStoreOptions;

  constructor(connection: RedisConnection, options: RedisCacheStoreOptions) {
    this.#conn = connection;
    this.#options = options;
  }

  // get/set are the hot path: they use the client directly instead of `connection.run()` to
  // save an async frame per call; the cache maps their errors through `mapError`.
  get(key: string): Promise<CacheEntry<T> | undefined> {
    const client = this.#conn.client;
    if (client === null || !this.#conn.isReady) return Promise.reject(this.#conn.unavailable());
    return client.get(this.#options.prefix + key).then((raw) => (raw === null ? undefined : this.#parse(key, raw)));
  }

  read<R>(key: string, _now: number, settle: (entry: CacheEntry<T> | undefined) => R, fail: (err: unknown) => R | Promise<R>): Promise<R> {
    const client = this.#conn.client;
    if (client === null || !this.#conn.isReady) return Promise.resolve(fail(this.#conn.unavailable()));
    return client.get(this.#options.prefix + key).then((raw) => settle(raw === null ? undefined : this.#parse(key, raw)), fail);
  }

  async getMany(keys: string[]): Promise<Array<CacheEntry<T> | undefined>> {
    if (keys.length === 0) return [];
    const prefix = this.#options.prefix;
    const perSlot = this.#perSlot();
    if (perSlot !== null) {
      // One MGET per slot (a lone key: GET); a shard that is down fails only its keys.
      const result = await runPerSlot(
        keys.map((k) => prefix + k),
        (slotKeys) => perSlot.mget(slotKeys),
        (key) => perSlot.get(key),
      );
      return wholeOrPartial(
        result,
        result.values.map((raw, i) => (raw == null ? undefined : this.#parse(keys[i]!, raw))),
      );
    }
    const raws = await this.#conn.run((c) => c.mget(keys.map((k) => prefix + k)));
    return raws.map((raw, i) => (raw === null ? undefined : this.#parse(keys[i]!, raw)));
  }

  set(key: string, entry: CacheEntry<T>, payload: string): Promise<unknown> | undefined {
    const client = this.#conn.client;
    if (client === null || !this.#conn.isReady) return Promise.reject(this.#conn.unavailable());
    const ttlMs = entry.staleUntil - Date.now();
    if (ttlMs <= 0) return undefined;
    return client.set(this.#options.prefix + key, `${entry.expiresAt}:${entry.staleUntil}:${payload}`, 'PX', ttlMs);
  }

  async setMany(writes: Array<StoreWrite<T>>): Promise<void> {
    if (writes.length === 0) return;
    // Only a Cluster client needs this: its pipelines must stay in one slot. A pipeline of
    // single-key SETs is fine on a slot-enforcing single endpoint.
    const cluster = this.#conn.client;
    if (isCluster(cluster)) {
      if (!this.#conn.isReady) throw this.#conn.unavailable();
      const now = Date.now();
      // One SET per key, all at once: corked per node, they leave in one write per master.
      const setOne = (key: string, i: number) => {
        const w = writes[i]!;
        const ttlMs = w.entry.staleUntil - now;
        return ttlMs > 0 ? cluster.set(key, `${w.entry.expiresAt}:${w.entry.staleUntil}:${w.payload}`, 'PX', ttlMs) : Promise.resolve(null);
      };
      const result = await runPerSlot(
        writes.map((w) => this.#options.prefix + w.key),
        (slotKeys, indices) => Promise.all(indices.map((i, j) => setOne(slotKeys[j]!, i))),
        setOne,
      );
      wholeOrPartial(result, result.values);
      return;
    }
    await this.#conn.run(async (c) => {
      const now = Date.now();
      // One pipeline: one round trip for the whole batch.
      const pipeline = c.pipeline();
      for (const w of writes) {
        const ttlMs = w.entry.staleUntil - now;
        if (ttlMs > 0) pipeline.set(this.#options.prefix + w.key, `${w.entry.expiresAt}:${w.entry.staleUntil}:${w.payload}`, 'PX', ttlMs);
      }
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    });
  }

  async delete(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const prefix = this.#options.prefix;
    return this.#conn.run((c) =>
      unlinkAll(
        c,
        keys.map((k) => prefix + k),
      ),
    );
  }

  /** SCAN + UNLINK in batches on every master (never KEYS, which blocks the server on a big keyspace). */
  async clear(): Promise<number> {
    return this.#conn.run(async (c) => {
      let removed = 0;
      await scanServers(c, { pattern: this.#options.pattern }, async (keys) => {
        // Masters are scanned in parallel: read `removed` only after the await.
        const n = await unlinkAll(c, keys);
        removed += n;
      });
      return removed;
    });
  }

  async tryLock(key: string, token: string, ttlMs: number): Promise<boolean> {
    return this.#conn.run((c) => acquireLease(c, this.#options.lockPrefix + key, token, ttlMs));
  }

  async unlock(key: string, token: string): Promise<void> {
    await this.#conn.run((c) => releaseLease(c, this.#options.lockPrefix + key, token));
  }

  mapError(err: unknown): unknown {
    return this.#conn.toUnavailable(err);
  }

  /** The shared client when multi-key calls must go per slot (cluster, or slot-safe endpoint); throws when Redis is not usable. */
  #perSlot(): RedisClient | null {
    if (!this.#conn.slotSafe) return null;
    const client = this.#conn.client;
    if (client === null || !this.#conn.isReady) throw this.#conn.unavailable();
    return client;
  }

  #parse(key: string, raw: string): CacheEntry<T> | undefined {
    // Hand-parsed envelope (digits read in place): this runs on every hit, and slicing the two
    // numbers out and converting them cost about a third of a small value's JSON.parse.
    const length = raw.length;
    let i = 0;
    let expiresAt = 0;
    let staleUntil = 0;
    let c = 0;
    while (i < length && (c = raw.charCodeAt(i)) >= 48 && c <= 57) (expiresAt = expiresAt * 10 + (c - 48)), i++;
    if (c !== 58 || i === 0) return this.#corrupt(key, raw);
    const start = ++i;
    while (i < length && (c = raw.charCodeAt(i)) >= 48 && c <= 57) (staleUntil = staleUntil * 10 + (c - 48)), i++;
    if (c !== 58 || i === start) return this.#corrupt(key, raw);
    try {
      return { value: this.#options.decode(raw.slice(i + 1)) as T, expiresAt, staleUntil, bytes: length };
    } catch (err) {
      this.#options.onCorrupt(key, err);
      return undefined;
    }
  }

  #corrupt(key: string, _raw: string): undefined {
    this.#options.onCorrupt(key, new Error('not a redkit cache entry (expected "<expiresAt>:<staleUntil>:<payload>")'));
    return undefined;
  }
}

/** `values` when every slot answered; all failed: the error; some failed: a PartialStoreFailure. */
function wholeOrPartial<R, V>(result: SlotResults<R>, values: V[]): V[] {
  if (result.failed.length === 0) return values;
  if (result.failed.length === values.length) throw result.error;
  throw new PartialStoreFailure(result.error, result.failed, values);
}

/** UNLINK `keys`; when slot-safe one UNLINK per slot (a multi-key command must stay in one slot). */
async function unlinkAll(client: RedisClient, keys: string[]): Promise<number> {
  if (!isSlotSafe(client)) return client.unlink(...keys);
  const result = await runPerSlot(
    keys,
    (slotKeys) => client.unlink(...slotKeys).then((n) => slotKeys.map((_, j) => (j === 0 ? n : 0))),
    (key) => client.unlink(key),
  );
  // Partly done is still failed: the caller cannot tell which keys are gone.
  if (result.failed.length > 0) throw result.error;
  return result.values.reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

/** A cache event between instances: `s` set, `d` delete, `c` clear, `e` a loader failed under the stampede lock, `p` a liveness probe. */
export interface CacheEvent {
  t: 's' | 'd' | 'c' | 'e' | 'p';
  /** Sender's instance id. */
  i: string;
  /** Namespace. */
  n: string;
  /** Keys (user keys, not Redis keys); for `p`, the probe nonce. */
  k?: string[];
  /** Error message for `e`. */
  m?: string;
}

const PROBE_EVERY_MS = 200;

/**
 * Cache events between instances over Redis pub/sub: the shared subscriber listens, the shared
 * command client publishes. At-most-once: the cache clears its L1 on every resync.
 * "Live" means proven end to end: this instance received its own probe on the channel, so a
 * set/delete published by anyone from now on reaches it (L1 is filled only while live).
 */
export class RedisCacheBus {
  readonly #conn: RedisConnection;
  readonly #channel: string;
  readonly #instanceId: string;
  readonly #onEvent: (event: CacheEvent) => void;
  readonly #onResync: () => void;
  #unsubscribe: (() => Promise<void>) | null = null;
  #removeResync: (() => void) | null = null;
  #started = false;
  #closed = false;
  #live = false;
  #nonce = '';
  #probeTimer: NodeJS.Timeout | null = null;
  #waiting: Array<() => void> = [];

  /** `onEvent` gets every other event; `onResync` runs whenever events may have been lost (reconnects). */
  constructor(connection: RedisConnection, channel: string, instanceId: string, onEvent: (event: CacheEvent) => void, onResync: () => void) {
    this.#conn = connection;
    this.#channel = channel;
    this.#instanceId = instanceId;
    this.#onEvent = onEvent;
    this.#onResync = onResync;
  }

  /** Subscribes once; resolves when live (the first probe came back), which waits for Redis if it is down. */
  start(): Promise<void> {
    if (!this.#started) {
      this.#started = true;
      const subscriber = this.#conn.subscriber();
      this.#removeResync = subscriber.onResync(() => this.lost());
      subscriber
        .subscribe(this.#channel, (message) => this.#receive(message))
        .then(
          (unsubscribe) => {
            if (this.#closed) void unsubscribe().catch(() => undefined);
            else this.#unsubscribe = unsubscribe;
          },
          () => undefined,
        );
      this.#probe();
    }
    if (this.#live) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** True when proven live and the subscriber is connected. */
  get live(): boolean {
    return this.#live && this.#conn.subscriber().status === 'ready';
  }

  /** Events may have been lost (a reconnect): not live until a new probe comes back; the owner drops what it cached meanwhile. */
  lost(): void {
    this.#live = false;
    this.#onResync();
    if (this.#started && !this.#closed) this.#probe();
  }

  /** Publishes `event` on the shared command client; rejects with RedisUnavailableError when Redis is down. */
  async publish(event: CacheEvent): Promise<void> {
    const client = this.#conn.client;
    if (client === null || !this.#conn.isReady) throw this.#conn.unavailable();
    // `<instance id>\n<JSON>`: a receiver drops its own events without parsing them.
    await client.publish(this.#channel, `${event.i}\n${JSON.stringify(event)}`);
  }

  /** Unsubscribes and stops probing. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#live = false;
    if (this.#probeTimer) clearTimeout(this.#probeTimer);
    this.#probeTimer = null;
    this.#removeResync?.();
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = null;
    await unsubscribe?.().catch(() => undefined);
  }

  #receive(message: string): void {
    const nl = message.indexOf('\n');
    if (nl < 0) return;
    // Our own events only matter as probes, and only until live.
    if (this.#live && message.slice(0, nl) === this.#instanceId) return;
    let event: CacheEvent;
    try {
      event = JSON.parse(message.slice(nl + 1)) as CacheEvent;
    } catch {
      return;
    }
    if (!event || typeof event.t !== 'string' || typeof event.n !== 'string') return;
    if (event.t === 'p') {
      if (event.i === this.#instanceId && event.k?.[0] === this.#nonce && !this.#live) {
        this.#live = true;
        if (this.#probeTimer) clearTimeout(this.#probeTimer);
        this.#probeTimer = null;
        for (const resolve of this.#waiting.splice(0)) resolve();
      }
      return;
    }
    this.#onEvent(event);
  }

  /** Publishes a probe every 200 ms until one comes back (unref'd: it never keeps the process alive). */
  #probe(): void {
    if (this.#probeTimer || this.#closed) return;
    const tick = () => {
      this.#probeTimer = null;
      if (this.#live || this.#closed) return;
      this.#nonce = randomBytes(6).toString('hex');
      this.publish({ t: 'p', i: this.#instanceId, n: '', k: [this.#nonce] }).catch(() => undefined);
      this.#probeTimer = setTimeout(tick, PROBE_EVERY_MS);
      this.#probeTimer.unref();
    };
    tick();
  }
}

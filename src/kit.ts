import { resolveConfig } from './config/parse.js';
import type { Logger, RedkitConfig, RedkitOptions } from './config/types.js';
import { RedisConnection, type RedisHealth } from './connection/redis-connection.js';
import type { BackoffOptions } from './connection/backoff.js';
import type { RedkitContext } from './context.js';
import { KeySpace } from './keys.js';
import { ConfigError, InvalidArgumentError } from './errors.js';
import { assertOptions } from './options.js';
import { createDefaultLogger } from './logger.js';
import type { RedisClient } from './connection/cluster.js';
import { RateLimiter, type RateLimiterOptions } from './ratelimit/index.js';
import { QueueManager, type Queue, type QueueOptions, type QueueWorker, type JobHandler, type WorkerOptions } from './queue/index.js';
import { JobsManager } from './jobs/index.js';
import { LockManager } from './lock/index.js';
import { LeaderManager } from './leader/index.js';
import { CacheManager } from './cache/index.js';
import { Realtime } from './realtime/realtime.js';
import { SessionStore, type SessionStoreOptions } from './session/index.js';
import type { Bus } from './realtime/bus.js';
import type { Presence } from './realtime/presence.js';
import type { Reactions } from './realtime/reactions.js';
import { Metrics, type RedkitEventName, type RedkitListener } from './metrics/index.js';
import { instrumentConnection } from './metrics/connection.js';

/** Which way the toolkit runs right now (see the README's degradation table). */
export type RedkitMode = 'standalone' | 'redis' | 'degraded';

/** The app-level health: seed 002's `/api/health` JSON. */
export interface HealthReport {
  /** `healthy` when Redis is connected or deliberately not configured; `degraded` when configured but unusable. */
  status: 'healthy' | 'degraded';
  mode: RedkitMode;
  redis: Pick<RedisHealth, 'status' | 'message' | 'latency'> & Partial<RedisHealth>;
  instanceId: string;
  /** Seconds since the toolkit was created. */
  uptime: number;
}

/** Extra options of `new Redkit()` beyond the env-mirroring ones. */
export interface RedkitInternals {
  /** Reconnect backoff. */
  backoff?: BackoffOptions;
  /** Stall threshold: how long the oldest unanswered command may wait before Redis counts as stalled. Default `min(commandTimeoutMs, 750)` ms. */
  stallMs?: number;
}

/**
 * Every key `createRedkit` accepts. A Record over the options type, so that tsc fails here when
 * an option is added to RedkitOptions or RedkitInternals and not to this list.
 */
const OPTION_KEYS: Record<keyof (RedkitOptions & RedkitInternals), true> = {
  url: true,
  host: true,
  port: true,
  username: true,
  password: true,
  tls: true,
  db: true,
  environment: true,
  keyPrefix: true,
  connectTimeoutMs: true,
  commandTimeoutMs: true,
  healthIntervalMs: true,
  instanceId: true,
  cluster: true,
  clusterNodes: true,
  clusterNatMap: true,
  sentinels: true,
  sentinelMasterName: true,
  sentinelUsername: true,
  sentinelPassword: true,
  sentinelTls: true,
  slotSafe: true,
  standalone: true,
  logger: true,
  env: true,
  backoff: true,
  stallMs: true,
};

/** @internal The keys of createRedkit's options (the NestJS module checks its own with them). */
export const REDKIT_OPTION_KEYS: readonly string[] = Object.keys(OPTION_KEYS);

/** Refuses an unknown key of createRedkit's options with a ConfigError naming it (a typo would otherwise be ignored). */
function assertKitOptions(options: unknown): void {
  try {
    assertOptions(options, REDKIT_OPTION_KEYS, 'createRedkit options');
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new ConfigError(err.argument, err.message);
    throw err;
  }
}

/**
 * The toolkit: one config, one shared connection, and every capability built on it.
 * Create it with `createRedkit()`; close it with `close()`.
 */
export class Redkit implements RedkitContext {
  readonly config: RedkitConfig;
  readonly connection: RedisConnection;
  readonly keys: KeySpace;
  readonly logger: Logger;
  readonly instanceId: string;
  /** Counters, gauges and histograms of every capability: `await kit.metrics.prometheus()`; see the README's "Metrics and events". */
  readonly metrics: Metrics;
  readonly #startedAt = Date.now();
  #closers: Array<{ fn: () => Promise<void> | void; boundMs?: () => number }> = [];
  #closing: Promise<void> | null = null;

  /** Resolves and validates config (throws ConfigError) and begins connecting; `ready()` waits for it. */
  constructor(options: RedkitOptions & RedkitInternals = {}) {
    assertKitOptions(options);
    this.config = resolveConfig(options);
    this.logger = options.logger ?? createDefaultLogger();
    this.instanceId = this.config.instanceId;
    this.keys = new KeySpace(this.config.prefix);
    this.connection = new RedisConnection(this.config, this.logger, { backoff: options.backoff, stallMs: options.stallMs });
    this.metrics = new Metrics({ logger: this.logger });
    instrumentConnection(this.metrics, this.connection, () => this.mode);
    // One series per process: a scraper that reaches instances through one address (a load
    // balancer) sees the id change between scrapes, and a sum can be checked against the count.
    this.metrics.gauge({
      name: 'redkit_instance_info',
      help: 'Always 1; instance_id names this process (one series per process, never per request).',
      labelNames: ['instance_id'],
      collect: () => [{ labels: { instance_id: this.instanceId }, value: 1 }],
    });
    this.onClose(() => this.metrics.close());
  }

  /** Connects (bounded by `connectTimeoutMs`); never rejects for an unreachable Redis: the kit runs degraded instead. */
  async ready(): Promise<this> {
    await this.connection.start();
    return this;
  }

  /** `standalone` (no Redis configured), `redis` (connected) or `degraded` (configured, unusable now). */
  get mode(): RedkitMode {
    if (this.config.mode === 'standalone') return 'standalone';
    return this.connection.isReady ? 'redis' : 'degraded';
  }

  /** The shared ioredis command client, or `null` in standalone mode. Prefer the capabilities. */
  get redis(): RedisClient | null {
    return this.connection.client;
  }

  /**
   * Redis health: `{ status, message, latency, since, lastError, lastRestartAt, warnings }` from
   * the connection's state. When nothing was heard from Redis for over a second, one PING
   * (shared by concurrent callers, bounded by `stallMs`) goes out first, so that a stalled Redis
   * shows within a second of asking while an idle kit sends no PING nobody asked for.
   */
  health(): Promise<RedisHealth> {
    return this.connection.healthFresh();
  }

  /** The app-level report served at `/api/health` (seed 002 shape); waits as `health()` does, at most `stallMs`. */
  async healthReport(): Promise<HealthReport> {
    const redis = await this.connection.healthFresh();
    return {
      status: redis.status === 'disconnected' ? 'degraded' : 'healthy',
      mode: this.mode,
      redis,
      instanceId: this.instanceId,
      uptime: Math.round((Date.now() - this.#startedAt) / 1000),
    };
  }

  #lock: LockManager | null = null;
  #leader: LeaderManager | null = null;
  #cache: CacheManager | null = null;

  /** Typed, namespaced caches: `kit.cache.namespace(name, { ttl, grace, l1, stampedeLock })`, `kit.cache.stats()`. */
  get cache(): CacheManager {
    if (!this.#cache) {
      const cache = new CacheManager(this);
      this.#cache = cache;
      this.onClose(() => cache.close());
    }
    return this.#cache;
  }

  /** Locks and semaphores with fencing tokens: `acquire(name, { ttl, wait })`, `using(name, fn)`, `semaphore(name, limit)`. */
  get lock(): LockManager {
    if (!this.#lock) {
      const lock = new LockManager(this);
      this.#lock = lock;
      this.onClose(() => lock.close());
    }
    return this.#lock;
  }

  /** Leader election: `campaign(role, { ttl })`, `current(role)`, `runWhileLeader(role, task)`; resigns on close. */
  get leader(): LeaderManager {
    if (!this.#leader) {
      // Created after kit.lock, so it closes first (closers run latest first): resign, then release.
      const leader = new LeaderManager(this, this.lock);
      this.#leader = leader;
      this.onClose(() => leader.close());
    }
    return this.#leader;
  }

  #queues: QueueManager | null = null;
  #jobs: JobsManager | null = null;

  /** Queues and workers of this toolkit (names, stats); `queue()` and `worker()` are shortcuts. */
  get queues(): QueueManager {
    if (!this.#queues) {
      const queues = new QueueManager(this);
      this.#queues = queues;
      // Workers wait for their running jobs (closeTimeoutMs), longer than the default bound.
      this.onClose(
        () => queues.close(),
        () => queues.closeBoundMs(),
      );
    }
    return this.#queues;
  }

  /**
   * The job queue `name`: BullMQ with Redis, in-process standalone; see QueueOptions.onRedisDown.
   * BullMQ keys are `<prefix>:queue:<name>:…`; on Redis Cluster `{<prefix>:queue}:<name>:…` (one
   * hash tag for every queue, so BullMQ's multi-key scripts and flows stay in one slot).
   */
  queue(name: string, opts?: QueueOptions): Queue {
    return this.queues.queue(name, opts);
  }

  /** Starts a worker running `handler` for queue `name`; `close()` lets running jobs finish. */
  worker<T = unknown, R = unknown>(name: string, handler: JobHandler<T, R>, opts?: WorkerOptions): QueueWorker {
    return this.queues.worker(name, handler, opts);
  }

  /** Durable job state: `kit.jobs.store` (records under `<prefix>:job:{id}`) and `kit.jobs.runner(...)` for external jobs. */
  get jobs(): JobsManager {
    if (!this.#jobs) {
      const jobs = new JobsManager(this);
      this.#jobs = jobs;
      this.onClose(() => jobs.close());
    }
    return this.#jobs;
  }

  #realtime: Realtime | null = null;

  /** Realtime bus, presence and reactions; `kit.realtime.configure({ heartbeatTtlMs })` before first use to change defaults. */
  get realtime(): Realtime {
    if (!this.#realtime) {
      const realtime = new Realtime(this);
      this.#realtime = realtime;
      this.onClose(() => realtime.close());
    }
    return this.#realtime;
  }

  /** Pub/sub across instances: JSON messages tagged with the sender's instance id (`kit.realtime.bus`). */
  get bus(): Bus {
    return this.realtime.bus;
  }

  /** Room presence across instances, a member counted once (`kit.realtime.presence`). */
  get presence(): Presence {
    return this.realtime.presence;
  }

  /** Per-room reaction counts broadcast to every instance (`kit.realtime.reactions`). */
  get reactions(): Reactions {
    return this.realtime.reactions;
  }

  /**
   * A rate limiter (`fixed-window`, `sliding-window` or `token-bucket`), shared by every instance
   * on the same Redis; in memory standalone; `onRedisDown` decides while Redis is down.
   * @throws InvalidArgumentError on bad options.
   */
  rateLimiter(options: RateLimiterOptions): RateLimiter {
    return new RateLimiter(this, options);
  }

  /**
   * A session store for express-session (`store.express(session)`) and @fastify/session (as is):
   * keys `<prefix>:session:<sid>`, TTL from the cookie; in memory standalone; `onRedisDown` decides while Redis is down.
   * @throws InvalidArgumentError on bad options.
   */
  sessionStore(options?: SessionStoreOptions): SessionStore {
    const store = new SessionStore(this, options);
    this.onClose(() => store.close());
    return store;
  }

  /** Listens to a toolkit event (`hit`, `miss`, `mode`, `restart`, `lockAcquired`, …); returns a function that removes the listener. */
  on<E extends RedkitEventName>(event: E, listener: RedkitListener<E>): () => void {
    return this.metrics.events.on(event, listener);
  }

  /** Removes a listener added with `on()`. */
  off<E extends RedkitEventName>(event: E, listener: RedkitListener<E>): void {
    this.metrics.events.off(event, listener);
  }

  /** Registers a cleanup for `close()`; capabilities use it. Runs latest first; `boundMs` may lengthen its time bound. */
  onClose(fn: () => Promise<void> | void, boundMs?: () => number): void {
    this.#closers.push({ fn, boundMs });
  }

  /** Closes every capability (latest first), then the connections after in-flight commands finish. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Each cleanup is bounded: a capability waiting on an absent Redis must not hang shutdown.
      const boundMs = Math.max(2000, this.config.commandTimeoutMs * 2);
      for (const { fn: closer, boundMs: bound } of this.#closers.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          const limitMs = Math.max(boundMs, bound?.() ?? 0);
          const outcome = await Promise.race([
            Promise.resolve()
              .then(closer)
              .then(() => 'closed' as const),
            new Promise<'timeout'>((resolve) => {
              timer = setTimeout(() => resolve('timeout'), limitMs);
            }),
          ]);
          if (outcome === 'timeout') this.logger.warn({ boundMs }, '[redkit] a capability did not close in time; closing connections anyway');
        } catch (err) {
          this.logger.warn({ err: String((err as Error)?.message ?? err) }, '[redkit] a capability failed to close cleanly');
        } finally {
          clearTimeout(timer);
        }
      }
      await this.connection.close();
    })();
    return this.#closing;
  }
}

/**
 * Creates the toolkit from options over env and waits until it is connected, or degraded after
 * `connectTimeoutMs`. With no Redis configured it runs standalone, in memory.
 * @throws ConfigError on invalid configuration.
 */
export async function createRedkit(options: RedkitOptions & RedkitInternals = {}): Promise<Redkit> {
  return new Redkit(options).ready();
}

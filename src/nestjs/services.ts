import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Redkit } from '../kit.js';
import type { Cache, CacheManager, CacheStats, NamespaceOptions } from '../cache/index.js';
import type { Lock, LockManager, LockOptions, Semaphore } from '../lock/index.js';
import type { CampaignOptions, Election, LeaderInfo, LeaderManager } from '../leader/index.js';
import type { RateLimiter, RateLimiterOptions } from '../ratelimit/index.js';
import type {
  JobHandler,
  JobInfo,
  Queue,
  QueueCounts,
  QueueEventMap,
  QueueManager,
  QueueOptions,
  QueueWorker,
  SchedulerOptions,
  SchedulerTemplate,
  WorkerOptions,
} from '../queue/index.js';
import type { JobRunner, JobRunnerOptions, JobsManager, JobStore, JobStoreOptions } from '../jobs/index.js';
import type { Bus, Presence, Reactions } from '../realtime/index.js';
import type { Realtime } from '../realtime/realtime.js';
import type { SessionStore, SessionStoreOptions } from '../session/index.js';
import { REDKIT } from './tokens.js';

// Each service is a thin, injectable face of one capability of the module's toolkit. They read
// the capability lazily, so injecting a service never starts anything the app does not use.

/** Cache namespaces (`kit.cache`): `namespace(name, { ttl, grace, l1, stampedeLock })`, `stats()`. */
@Injectable()
export class RedkitCacheService {
  readonly #kit: Redkit;
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** The underlying `kit.cache`. */
  get manager(): CacheManager {
    return this.#kit.cache;
  }

  /** The namespace `name`, created on first call; the same options (or none) return the same Cache. @throws InvalidArgumentError */
  namespace<T = unknown>(name: string, options?: NamespaceOptions): Cache<T> {
    return this.#kit.cache.namespace<T>(name, options);
  }

  /** Stats of every namespace (hits, misses, hitRate, …), by name. */
  stats(): Record<string, CacheStats> {
    return this.#kit.cache.stats();
  }

  /** SHA-256 hex of a string, Buffer or plain object (keys sorted): a cache key for large inputs. */
  hashKey(input: unknown): string {
    return this.#kit.cache.hashKey(input);
  }
}

/** Locks and semaphores with fencing tokens (`kit.lock`); fail fast with RedisUnavailableError while Redis is down. */
@Injectable()
export class RedkitLockService {
  readonly #kit: Redkit;
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** The underlying `kit.lock`. */
  get manager(): LockManager {
    return this.#kit.lock;
  }

  /** Acquires `name` (`ttl` ms lease, `wait` ms to wait). @throws LockBusyError, RedisUnavailableError */
  acquire(name: string, options?: LockOptions): Promise<Lock> {
    return this.#kit.lock.acquire(name, options);
  }

  /** Runs `fn` holding `name`, releasing it afterwards; `signal` aborts if the lock is lost. @throws LockBusyError, RedisUnavailableError */
  using<T>(name: string, fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T, options?: LockOptions): Promise<T> {
    return this.#kit.lock.using(name, fn, options);
  }

  /** A semaphore of `limit` slots named `name`. */
  semaphore(name: string, limit: number): Semaphore {
    return this.#kit.lock.semaphore(name, limit);
  }
}

/**
 * Leader election (`kit.leader`). One candidacy per role per app: `campaign(role)` returns the same
 * Election on every call. Candidacies made here are resigned when the app shuts down (module
 * destroy), so another instance takes over at once instead of after the lease.
 */
@Injectable()
export class RedkitLeaderService implements OnModuleDestroy {
  readonly #kit: Redkit;
  readonly #elections = new Map<string, Election>();
  readonly #tasks = new Set<Election>();
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** The underlying `kit.leader`. */
  get manager(): LeaderManager {
    return this.#kit.leader;
  }

  /** Campaigns for `role` (once per app; later calls return the same Election). */
  campaign(role: string, options?: CampaignOptions): Election {
    let election = this.#elections.get(role);
    if (!election) {
      election = this.#kit.leader.campaign(role, options);
      this.#elections.set(role, election);
    }
    return election;
  }

  /** True while this instance leads `role` through `campaign(role)`; false when it never campaigned. */
  isLeader(role: string): boolean {
    return this.#elections.get(role)?.isLeader ?? false;
  }

  /** Who leads `role` now, or null. @throws RedisUnavailableError while Redis is down */
  current(role: string): Promise<LeaderInfo | null> {
    return this.#kit.leader.current(role);
  }

  /** Campaigns for `role` and runs `task(signal, epoch)` each time this instance is elected; `signal` aborts on revocation. */
  runWhileLeader(role: string, task: (signal: AbortSignal, epoch: number) => Promise<unknown> | unknown, options?: CampaignOptions): Election {
    const election = this.#kit.leader.runWhileLeader(role, task, options);
    this.#tasks.add(election);
    return election;
  }

  /** Resigns every candidacy made through this service. */
  async onModuleDestroy(): Promise<void> {
    const all = [...this.#elections.values(), ...this.#tasks];
    this.#elections.clear();
    this.#tasks.clear();
    await Promise.all(all.map((e) => e.resign()));
  }
}

/** Rate limiters (`kit.rateLimiter(options)`): create one per limit (in a constructor) and reuse it. */
@Injectable()
export class RedkitRateLimitService {
  readonly #kit: Redkit;
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** A limiter shared by every instance on the same Redis (memory standalone). @throws InvalidArgumentError */
  limiter(options: RateLimiterOptions): RateLimiter {
    return this.#kit.rateLimiter(options);
  }
}

/**
 * BullMQ queues and workers (`kit.queue`, `kit.worker`); in-process standalone. `queue(name)`
 * has the whole queue surface (getJob, pause/resume, retry, schedulers, events, `bullmq`).
 * Workers started and event listeners added here are closed/removed on module destroy.
 */
@Injectable()
export class RedkitQueueService implements OnModuleDestroy {
  readonly #kit: Redkit;
  readonly #workers = new Set<QueueWorker>();
  readonly #listeners: Array<() => void> = [];
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** The underlying `kit.queues`. */
  get manager(): QueueManager {
    return this.#kit.queues;
  }

  /** The queue `name`. @throws InvalidArgumentError */
  queue(name: string, options?: QueueOptions): Queue {
    return this.#kit.queue(name, options);
  }

  /** Starts a worker for queue `name`; it is closed (running jobs finish) when the app shuts down. */
  worker<T = unknown, R = unknown>(name: string, handler: JobHandler<T, R>, options?: WorkerOptions): QueueWorker {
    const worker = this.#kit.worker<T, R>(name, handler, options);
    this.#workers.add(worker);
    return worker;
  }

  /** Counts of each queue (`names` defaults to every queue this app opened), with live workers. */
  stats(names?: string[]): Promise<Record<string, { counts?: QueueCounts; error?: string; local: QueueCounts }>> {
    return this.#kit.queues.stats(names);
  }

  /** The job `id` of queue `name` (state, progress, result or failure), or null. */
  getJob(name: string, id: string): Promise<JobInfo | null> {
    return this.#kit.queue(name).getJob(id);
  }

  /** Creates or replaces repeatable job `id` of queue `name` (a BullMQ Job Scheduler on Redis). */
  upsertScheduler(name: string, id: string, repeat: SchedulerOptions, template: SchedulerTemplate): Promise<void> {
    return this.#kit.queue(name).upsertScheduler(id, repeat, template);
  }

  /** Listens to job events of queue `name` from every process; removed on module destroy. Resolves once listening. */
  async on<K extends keyof QueueEventMap>(name: string, event: K, listener: (payload: QueueEventMap[K]) => void): Promise<void> {
    const queue = this.#kit.queue(name);
    queue.on(event, listener);
    this.#listeners.push(() => queue.off(event, listener));
    await queue.listening();
  }

  /** Closes the workers started through this service, letting running jobs finish. */
  async onModuleDestroy(): Promise<void> {
    for (const off of this.#listeners.splice(0)) off();
    const workers = [...this.#workers];
    this.#workers.clear();
    await Promise.all(workers.map((w) => w.close()));
  }
}

/** Durable job state (`kit.jobs`): `store` (records with a TTL, 7200 s default) and `runner(...)` for external jobs. */
@Injectable()
export class RedkitJobsService {
  readonly #kit: Redkit;
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** The underlying `kit.jobs`. */
  get manager(): JobsManager {
    return this.#kit.jobs;
  }

  /** The default job store. */
  get store(): JobStore {
    return this.#kit.jobs.store;
  }

  /** Another store with its own options (e.g. a shorter `ttlSec`). */
  createStore(options?: JobStoreOptions): JobStore {
    return this.#kit.jobs.createStore(options);
  }

  /** A runner for external jobs; call `recover()` on startup. */
  runner<I = unknown>(options: JobRunnerOptions<I>): JobRunner<I> {
    return this.#kit.jobs.runner<I>(options);
  }
}

/** Realtime across instances (`kit.realtime`): `bus`, `presence`, `reactions`; in-process standalone. */
@Injectable()
export class RedkitRealtimeService {
  readonly #kit: Redkit;
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** The underlying `kit.realtime`. */
  get realtime(): Realtime {
    return this.#kit.realtime;
  }

  /** Pub/sub of JSON messages tagged with the sender's instance id. */
  get bus(): Bus {
    return this.#kit.bus;
  }

  /** Room presence, a member counted once across instances. */
  get presence(): Presence {
    return this.#kit.presence;
  }

  /** Per-room reaction counts broadcast to every instance. */
  get reactions(): Reactions {
    return this.#kit.reactions;
  }
}

/** Session stores (`kit.sessionStore`) for express-session (`store.express(session)`) and @fastify/session (`store`). */
@Injectable()
export class RedkitSessionService {
  readonly #kit: Redkit;
  #store: SessionStore | null = null;
  constructor(@Inject(REDKIT) kit: Redkit) {
    this.#kit = kit;
  }

  /** The app's session store with default options, created on first use. */
  get store(): SessionStore {
    this.#store ??= this.#kit.sessionStore();
    return this.#store;
  }

  /** Another store with its own options (`ttlMs`, `onRedisDown`, `cache`, `maxEntries`). @throws InvalidArgumentError */
  create(options?: SessionStoreOptions): SessionStore {
    return this.#kit.sessionStore(options);
  }
}

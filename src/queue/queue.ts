import type { Redis } from 'ioredis';
import type { RedkitContext } from '../context.js';
import { ClosedError, InvalidArgumentError, QueueUnavailableError, RedisUnavailableError } from '../errors.js';
import { assertName } from '../keys.js';
import { MemoryQueue } from './memory-queue.js';
import { RedisQueue, RedisWorker } from './redis-queue.js';
import {
  JOB_OPTION_KEYS, QUEUE_OPTION_KEYS, WORKER_DEFAULTS, WORKER_OPTION_KEYS,
  type AddedJob, type JobHandler, type JobOptions, type QueueCounts, type QueueOptions, type WorkerOptions,
} from './types.js';
import { queueMetrics } from '../metrics/instruments.js';
import { assertInt, assertJobId, assertKnownKeys, checkJobData, jobDataJson } from './validate.js';

const DEFAULT_MAX_PAYLOAD = 512 * 1024;

/** Validates job options (unknown keys, ranges, id) and merges them over the queue defaults. */
function jobOptions(opts: unknown, defaults: JobOptions, argument: string): JobOptions {
  assertKnownKeys(opts, JOB_OPTION_KEYS, argument);
  const o = { ...defaults, ...(opts as JobOptions | undefined) };
  if (o.jobId !== undefined) assertJobId(o.jobId, `${argument}.jobId`);
  assertInt(o.attempts, `${argument}.attempts`, 1, 1000);
  assertInt(o.delayMs, `${argument}.delayMs`, 0);
  assertInt(o.priority, `${argument}.priority`, 1, 2_097_152);
  for (const k of ['removeOnComplete', 'removeOnFail'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') assertInt(o[k], `${argument}.${k}`, 0);
  }
  if (o.backoff !== undefined) {
    assertKnownKeys(o.backoff, ['type', 'delayMs'], `${argument}.backoff`);
    if (o.backoff.type !== 'fixed' && o.backoff.type !== 'exponential') {
      throw new InvalidArgumentError(`${argument}.backoff.type`, `${argument}.backoff.type must be "fixed" or "exponential" (got ${JSON.stringify(o.backoff.type)})`);
    }
    assertInt(o.backoff.delayMs, `${argument}.backoff.delayMs`, 0);
  }
  return o;
}

/**
 * A named job queue: BullMQ when Redis is up, the in-process engine in standalone mode, and
 * the `onRedisDown` policy when Redis is configured but down — decided before BullMQ is touched,
 * so `add` never hangs. A job is never silently dropped: `add` stored it, runs it, or throws.
 */
export class Queue {
  readonly name: string;
  readonly #ctx: RedkitContext;
  readonly #manager: QueueManager;
  readonly #opts: Required<Pick<QueueOptions, 'onRedisDown' | 'maxPayloadBytes'>> & QueueOptions;
  readonly #redis: RedisQueue | null;

  /** Use `kit.queue(name, opts)`. */
  constructor(ctx: RedkitContext, manager: QueueManager, name: string, opts: QueueOptions, producer: (() => Redis) | null) {
    this.#ctx = ctx;
    this.#manager = manager;
    this.name = name;
    this.#opts = { onRedisDown: 'inline', maxPayloadBytes: DEFAULT_MAX_PAYLOAD, ...opts };
    const addTimeoutMs = opts.addTimeoutMs ?? Math.max(1000, 2 * ctx.config.commandTimeoutMs);
    this.#redis = producer ? new RedisQueue(ctx, name, producer, addTimeoutMs) : null;
  }

  /**
   * Adds a job. Resolves `{ id, via: 'redis' }` once Redis stored it, or `{ id, via: 'local',
   * finished }` when it runs in this process (standalone, or inline while Redis is down).
   * @throws JobDataError (data not plain JSON, or over maxPayloadBytes), InvalidArgumentError
   * (name/options), QueueUnavailableError (Redis down and policy 'reject', or no inline handler).
   */
  async add<T = unknown>(jobName: string, data: T, opts?: JobOptions): Promise<AddedJob> {
    const [job] = await this.#addMany([{ name: jobName, data, opts }], 'opts');
    return job!;
  }

  /** Adds several jobs in one round trip (atomically in Redis); same errors as `add`, checked for all jobs first. */
  async addBulk(jobs: Array<{ name: string; data: unknown; opts?: JobOptions }>): Promise<AddedJob[]> {
    if (!Array.isArray(jobs)) throw new InvalidArgumentError('jobs', 'addBulk(jobs) takes an array of { name, data, opts? }');
    return this.#addMany(jobs, 'jobs[].opts');
  }

  async #addMany(jobs: Array<{ name: string; data: unknown; opts?: JobOptions }>, argument: string): Promise<AddedJob[]> {
    this.#manager.assertOpen();
    const checked = jobs.map((j, i) => {
      assertName(j?.name, jobs.length > 1 ? `jobs[${i}].name` : 'jobName');
      const opts = jobOptions(j.opts, this.#opts.defaultJobOptions ?? {}, argument);
      checkJobData(j.data, this.#opts.maxPayloadBytes);
      return { name: j.name, data: j.data, opts };
    });
    if (this.#redis && this.#ctx.connection.isReady) {
      try {
        const ids = checked.length === 1
          ? [await this.#redis.add(checked[0]!.name, checked[0]!.data, checked[0]!.opts)]
          : await this.#redis.addBulk(checked);
        return ids.map((id, i) => ({ id, name: checked[i]!.name, via: 'redis' as const }));
      } catch (err) {
        if (!(err instanceof RedisUnavailableError)) throw err;
        return this.#whenDown(checked, err);
      }
    }
    if (this.#redis) return this.#whenDown(checked, this.#ctx.connection.unavailable());
    // Standalone: this process is the worker; the inline handler serves when no kit.worker is registered.
    const local = this.#manager.local(this.name);
    if (!local.hasHandler && this.#opts.inlineHandler) local.setHandler({ fn: this.#opts.inlineHandler, concurrency: this.#opts.inlineConcurrency ?? 1 });
    return checked.map((j) => local.add(j.name, jobDataJson(j.data), j.opts));
  }

  #whenDown(jobs: Array<{ name: string; data: unknown; opts: JobOptions }>, cause: RedisUnavailableError): AddedJob[] {
    if (this.#opts.onRedisDown === 'reject') {
      throw new QueueUnavailableError(this.name, 'REJECT_POLICY', `queue "${this.name}" cannot take jobs: ${cause.message} (onRedisDown: 'reject'; use 'inline' to run jobs in this process meanwhile)`, { cause });
    }
    const local = this.#manager.local(this.name);
    if (!local.hasHandler && this.#opts.inlineHandler) {
      local.setHandler({ fn: this.#opts.inlineHandler, concurrency: this.#opts.inlineConcurrency ?? 1 });
    }
    if (!local.hasHandler) {
      throw new QueueUnavailableError(this.name, 'NO_INLINE_HANDLER', `queue "${this.name}" cannot run jobs inline while Redis is down: this process has no handler for it — pass inlineHandler to kit.queue() or register kit.worker("${this.name}", …) here`, { cause });
    }
    this.#ctx.logger.warn({ queue: this.name, jobs: jobs.length, reason: cause.reason }, `[redkit] Redis down: running ${jobs.length} job(s) of "${this.name}" in this process`);
    return jobs.map((j) => local.add(j.name, jobDataJson(j.data), j.opts));
  }

  /**
   * Counts from the engine serving now: BullMQ's when Redis is up, this process's in standalone.
   * @throws RedisUnavailableError when Redis is configured but down (see `localCounts()`).
   */
  async counts(): Promise<QueueCounts> {
    if (!this.#redis) return this.#manager.local(this.name).counts();
    if (!this.#ctx.connection.isReady) throw this.#ctx.connection.unavailable();
    return this.#redis.counts();
  }

  /** Counts of the jobs this process ran itself (standalone or inline). */
  localCounts(): QueueCounts {
    return this.#manager.local(this.name).counts();
  }

  /** Closes the BullMQ producer; local jobs are closed with the toolkit. */
  async close(): Promise<void> {
    await this.#redis?.close();
  }
}

/** A running worker: `close()` lets running jobs finish, bounded by closeTimeoutMs. */
export interface QueueWorker {
  readonly queue: string;
  /** Resolves when the worker takes jobs (at once in standalone). */
  ready(): Promise<void>;
  /** Stops taking jobs and waits up to closeTimeoutMs for running ones, then hands them back to the queue (`force`: at once). */
  close(force?: boolean): Promise<void>;
}

/** Creates and tracks queues and workers for one toolkit; `kit.queue` / `kit.worker` delegate here. */
export class QueueManager {
  readonly #ctx: RedkitContext;
  readonly #queues = new Map<string, Queue>();
  readonly #locals = new Map<string, MemoryQueue>();
  readonly #workers = new Set<QueueWorker>();
  readonly #closeTimeouts = new Map<QueueWorker, number>();
  #producer: Redis | null = null;
  #closed = false;
  readonly #metrics: ReturnType<typeof queueMetrics>;

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    // Depth per queue and state, read when scraped (queues Redis cannot count now are left out).
    this.#metrics = queueMetrics(ctx.metrics, async () => {
      const out: Record<string, object> = {};
      await Promise.all(this.names().map((name) => this.queue(name).counts().then((c) => { out[name] = c; }, () => undefined)));
      return out;
    });
  }

  /** The queue called `name` (the same instance for the same name; options apply on first call). */
  queue(name: string, opts: QueueOptions = {}): Queue {
    this.assertOpen();
    assertName(name, 'queue name');
    if (name.includes(':')) throw new InvalidArgumentError('queue name', `queue name must not contain ":" (got "${name}")`);
    assertKnownKeys(opts, QUEUE_OPTION_KEYS, 'queue options');
    if (opts.onRedisDown !== undefined && opts.onRedisDown !== 'inline' && opts.onRedisDown !== 'reject') {
      throw new InvalidArgumentError('queue options.onRedisDown', `onRedisDown must be "inline" or "reject" (got ${JSON.stringify(opts.onRedisDown)})`);
    }
    if (opts.inlineHandler !== undefined && typeof opts.inlineHandler !== 'function') throw new InvalidArgumentError('queue options.inlineHandler', 'inlineHandler must be a function');
    assertInt(opts.inlineConcurrency, 'queue options.inlineConcurrency', 1, 10_000);
    assertInt(opts.maxPayloadBytes, 'queue options.maxPayloadBytes', 1, 512 * 1024 * 1024);
    assertInt(opts.addTimeoutMs, 'queue options.addTimeoutMs', 1);
    if (opts.defaultJobOptions) jobOptions(opts.defaultJobOptions, {}, 'queue options.defaultJobOptions');
    let queue = this.#queues.get(name);
    if (!queue) {
      const producer = this.#ctx.config.mode === 'standalone' ? null : () => this.#producerClient();
      queue = new Queue(this.#ctx, this, name, opts, producer);
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Starts a worker for queue `name`: a BullMQ Worker when Redis is configured (it waits out
   * outages), the in-process engine in standalone. The handler also serves inline runs of this
   * queue in this process while Redis is down.
   */
  worker<T = unknown, R = unknown>(name: string, handler: JobHandler<T, R>, opts: WorkerOptions = {}): QueueWorker {
    this.assertOpen();
    assertName(name, 'queue name');
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'kit.worker(name, handler): handler must be a function (job) => result');
    assertKnownKeys(opts, WORKER_OPTION_KEYS, 'worker options');
    assertInt(opts.concurrency, 'worker options.concurrency', 1, 10_000);
    assertInt(opts.timeoutMs, 'worker options.timeoutMs', 1);
    assertInt(opts.lockDurationMs, 'worker options.lockDurationMs', 100);
    assertInt(opts.stalledIntervalMs, 'worker options.stalledIntervalMs', 100);
    assertInt(opts.maxStalledCount, 'worker options.maxStalledCount', 0, 1000);
    assertInt(opts.closeTimeoutMs, 'worker options.closeTimeoutMs', 0);
    const closeTimeoutMs = opts.closeTimeoutMs ?? WORKER_DEFAULTS.closeTimeoutMs;
    handler = this.#metrics.counted(name, handler);
    const local = this.local(name);
    const localHandler = { fn: handler as JobHandler<any, any>, concurrency: opts.concurrency ?? 1, timeoutMs: opts.timeoutMs };
    local.setHandler(localHandler);
    const redis = this.#ctx.config.mode === 'standalone' ? null : new RedisWorker(this.#ctx, name, handler, opts);
    const worker: QueueWorker = {
      queue: name,
      ready: async () => { await redis?.waitUntilReady(); },
      close: async (force = false) => {
        this.#workers.delete(worker);
        this.#closeTimeouts.delete(worker);
        local.clearHandler(handler);
        // Inline runs cannot be handed back (they were never in Redis): they get the same bound.
        let timer: NodeJS.Timeout | undefined;
        const idle = Promise.race([local.idle(), new Promise((r) => { timer = setTimeout(r, closeTimeoutMs); })]).finally(() => clearTimeout(timer));
        await Promise.all([redis?.close(force), idle]);
      },
    };
    this.#workers.add(worker);
    this.#closeTimeouts.set(worker, closeTimeoutMs);
    return worker;
  }

  /** How long `close()` may take, in ms: the longest worker closeTimeoutMs plus hand-back and BullMQ's own close. @internal */
  closeBoundMs(): number {
    return this.#closeTimeouts.size ? Math.max(...this.#closeTimeouts.values()) + 6000 : 0;
  }

  /** Names of the queues created in this process. */
  names(): string[] {
    return [...this.#queues.keys()];
  }

  /** Counts of every queue created here (or of `names`): `{ counts }` or `{ error }` per queue, plus local runs. */
  async stats(names: string[] = this.names()): Promise<Record<string, { counts?: QueueCounts; error?: string; local: QueueCounts }>> {
    const out: Record<string, { counts?: QueueCounts; error?: string; local: QueueCounts }> = {};
    await Promise.all(names.map(async (name) => {
      const queue = this.queue(name);
      try {
        out[name] = { counts: await queue.counts(), local: queue.localCounts() };
      } catch (err) {
        out[name] = { error: (err as Error).message, local: queue.localCounts() };
      }
    }));
    return out;
  }

  /** The in-process engine of queue `name`. @internal */
  local(name: string): MemoryQueue {
    let local = this.#locals.get(name);
    if (!local) {
      local = new MemoryQueue(name, this.#ctx.logger);
      this.#locals.set(name, local);
    }
    return local;
  }

  /** @internal */
  assertOpen(): void {
    if (this.#closed) throw new ClosedError('the queues');
  }

  /** One fail-fast producer client for every queue of this toolkit. */
  #producerClient(): Redis {
    if (!this.#producer) {
      this.#producer = this.#ctx.connection.dedicatedClient({ purpose: 'queue-producer', overrides: { enableOfflineQueue: false, maxRetriesPerRequest: 1 } });
      // Each add waiting for the producer to reconnect listens for 'ready' (bounded by addTimeoutMs).
      this.#producer.setMaxListeners(0);
    }
    return this.#producer;
  }

  /** Workers first (running jobs finish), then producers, then the in-process engines. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#workers].map((w) => w.close()));
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    await Promise.all([...this.#locals.values()].map((l) => l.close()));
  }
}

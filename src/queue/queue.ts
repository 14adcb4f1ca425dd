import { EventEmitter } from 'node:events';
import type { Queue as BullQueue, QueueEvents } from 'bullmq';
import type { RedisClient } from '../connection/cluster.js';
import type { RedkitContext } from '../context.js';
import { InvalidArgumentError, JobNotFoundError, QueueUnavailableError, RedisUnavailableError } from '../errors.js';
import { assertName } from '../keys.js';
import { liveWorkers } from './heartbeat.js';
import type { QueueManager } from './manager.js';
import { MemoryScheduler, nextRun } from './memory-scheduler.js';
import { RedisEvents, redisGetJob, redisRemoveScheduler, redisRetryFailed, redisRetryJob, redisSchedulers, redisUpsertScheduler } from './redis-admin.js';
import { RedisQueue } from './redis-queue.js';
import {
  JOB_OPTION_KEYS,
  type AddedJob,
  type JobInfo,
  type JobOptions,
  type QueueCounts,
  type QueueEventMap,
  type QueueOptions,
  type SchedulerInfo,
  type SchedulerOptions,
  type SchedulerTemplate,
} from './types.js';
import { assertInt, assertJobId, assertKnownKeys, assertLookupId, checkJobData, jobDataJson } from './validate.js';

/** What `queue.bullmq` gives on Redis: BullMQ itself, for anything redkit does not wrap. */
export interface BullMQQueueHandle {
  /** The BullMQ Queue (producer side) redkit uses, on its fail-fast producer client. */
  readonly queue: BullQueue;
  /** BullMQ QueueEvents of this queue on a blocking client of its own (created on first call, closed with the kit). */
  events(): QueueEvents;
}

const DEFAULT_MAX_PAYLOAD = 512 * 1024;

/** Validates job options (unknown keys, ranges, id) and merges them over the queue defaults. */
export function jobOptions(opts: unknown, defaults: JobOptions, argument: string): JobOptions {
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
      throw new InvalidArgumentError(
        `${argument}.backoff.type`,
        `${argument}.backoff.type must be "fixed" or "exponential" (got ${JSON.stringify(o.backoff.type)})`,
      );
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
  readonly #emitter = new EventEmitter();
  #redisEvents: RedisEvents | null = null;
  #localForwarding = false;
  #scheduler: MemoryScheduler | null = null;

  /** Use `kit.queue(name, opts)`. */
  constructor(ctx: RedkitContext, manager: QueueManager, name: string, opts: QueueOptions, producer: (() => RedisClient) | null) {
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
        const ids = checked.length === 1 ? [await this.#redis.add(checked[0]!.name, checked[0]!.data, checked[0]!.opts)] : await this.#redis.addBulk(checked);
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
      throw new QueueUnavailableError(
        this.name,
        'REJECT_POLICY',
        `queue "${this.name}" cannot take jobs: ${cause.message} (onRedisDown: 'reject'; use 'inline' to run jobs in this process meanwhile)`,
        { cause },
      );
    }
    const local = this.#manager.local(this.name);
    if (!local.hasHandler && this.#opts.inlineHandler) {
      local.setHandler({ fn: this.#opts.inlineHandler, concurrency: this.#opts.inlineConcurrency ?? 1 });
    }
    if (!local.hasHandler) {
      throw new QueueUnavailableError(
        this.name,
        'NO_INLINE_HANDLER',
        `queue "${this.name}" cannot run jobs inline while Redis is down: this process has no handler for it — pass inlineHandler to kit.queue() or register kit.worker("${this.name}", …) here`,
        { cause },
      );
    }
    this.#ctx.logger.warn(
      { queue: this.name, jobs: jobs.length, reason: cause.reason },
      `[redkit] Redis down: running ${jobs.length} job(s) of "${this.name}" in this process`,
    );
    return jobs.map((j) => local.add(j.name, jobDataJson(j.data), j.opts));
  }

  /**
   * Counts from the engine serving now: BullMQ's when Redis is up, this process's in standalone.
   * @throws RedisUnavailableError when Redis is configured but down (see `localCounts()`).
   */
  async counts(): Promise<QueueCounts> {
    if (!this.#redis) return this.#manager.local(this.name).counts();
    const redis = this.#live();
    const [counts, workers, paused] = await Promise.all([redis.counts(), liveWorkers(this.#ctx, this.name), redis.bounded(redis.bull().isPaused())]);
    return { ...counts, workers, paused };
  }

  /** Counts of the jobs this process ran itself (standalone or inline). */
  localCounts(): QueueCounts {
    return this.#manager.local(this.name).counts();
  }

  /**
   * BullMQ itself, for what redkit does not wrap (flows, obliterate, metrics, Bull Board…):
   * `{ queue, events() }` on Redis, `null` in standalone mode (there is no BullMQ then).
   * Calls made through it have BullMQ's behaviour, not redkit's: no fallback while Redis is
   * down, raw ioredis errors, and BullMQ's own waits.
   */
  get bullmq(): BullMQQueueHandle | null {
    const redis = this.#redis;
    if (!redis) return null;
    return { queue: redis.bull(), events: () => this.#events().events };
  }

  /**
   * The job `id`: `{ id, name, state, data, progress, result, failedReason, attemptsMade,
   * timestamps }`, or null when there is none (never added, or dropped by removeOnComplete /
   * removeOnFail). Jobs this process ran inline while Redis was down are found here too.
   * @throws InvalidArgumentError (id), RedisUnavailableError (Redis configured but down)
   */
  async getJob(id: string): Promise<JobInfo | null> {
    assertLookupId(id, 'id');
    const local = this.#manager.local(this.name).getJob(id);
    if (local || !this.#redis) return local;
    return redisGetJob(this.#live(), id);
  }

  /**
   * Runs failed job `id` again with a fresh set of attempts.
   * @throws JobNotFoundError, InvalidArgumentError (not a failed job), RedisUnavailableError
   */
  async retryJob(id: string): Promise<void> {
    assertLookupId(id, 'id');
    const local = this.#manager.local(this.name);
    if (local.retry(id)) return;
    if (!this.#redis) {
      const job = local.getJob(id);
      if (!job) throw new JobNotFoundError(id);
      throw new InvalidArgumentError('id', `job "${id}" of queue "${this.name}" is ${job.state}: only a failed job can be retried`);
    }
    await redisRetryJob(this.#live(), id);
  }

  /** Runs every failed job again; resolves how many were retried. @throws RedisUnavailableError */
  async retryFailed(): Promise<number> {
    const local = this.#manager.local(this.name).retryFailed();
    if (!this.#redis) return local;
    return local + (await redisRetryFailed(this.#live()));
  }

  /**
   * Pauses the queue for every worker (BullMQ's global pause on Redis): jobs can still be added,
   * running jobs finish, none starts until `resume()`. @throws RedisUnavailableError
   */
  async pause(): Promise<void> {
    this.#manager.local(this.name).pause();
    if (this.#redis) await this.#live().bounded(this.#live().bull().pause());
  }

  /** Undoes `pause()`. @throws RedisUnavailableError */
  async resume(): Promise<void> {
    this.#manager.local(this.name).resume();
    if (this.#redis) await this.#live().bounded(this.#live().bull().resume());
  }

  /**
   * Creates or replaces the repeatable job `id`: `{ every: ms }` or `{ pattern: cron, tz? }`;
   * each run adds `template` as a job. On Redis it is a BullMQ Job Scheduler, stored in Redis:
   * one job per run however many processes call this. Standalone: a timer in this process.
   * @throws InvalidArgumentError, JobDataError, RedisUnavailableError
   */
  async upsertScheduler(id: string, repeat: SchedulerOptions, template: SchedulerTemplate): Promise<void> {
    assertJobId(id, 'id');
    assertKnownKeys(repeat, ['every', 'pattern', 'tz'], 'repeat');
    if ((repeat?.every === undefined) === (repeat?.pattern === undefined))
      throw new InvalidArgumentError('repeat', 'repeat takes exactly one of { every: ms } or { pattern: "cron" }');
    assertInt(repeat.every, 'repeat.every', 1);
    if (repeat.pattern !== undefined) nextRun(repeat, Date.now());
    assertKnownKeys(template, ['name', 'data', 'opts'], 'template');
    assertName(template?.name, 'template.name');
    // jobId and delayMs belong to the scheduler (each run gets its own id and time).
    assertKnownKeys(template.opts, ['attempts', 'backoff', 'priority', 'removeOnComplete', 'removeOnFail'], 'template.opts');
    const { jobId: _id, delayMs: _delay, ...defaults } = this.#opts.defaultJobOptions ?? {};
    const opts = jobOptions(template.opts, defaults, 'template.opts');
    checkJobData(template.data ?? null, this.#opts.maxPayloadBytes);
    const checked = { name: template.name, data: template.data ?? null, opts };
    if (this.#redis) return redisUpsertScheduler(this.#live(), id, repeat, checked);
    this.#scheduler ??= new MemoryScheduler((t) => {
      this.add(t.name, t.data, t.opts).catch((err: Error) =>
        this.#ctx.logger.warn({ queue: this.name, err: err.message }, `[redkit] scheduled job of "${this.name}" not added`),
      );
    });
    this.#scheduler.upsert(id, repeat, checked);
  }

  /** Removes the repeatable job `id`; false when there was none. @throws RedisUnavailableError */
  async removeScheduler(id: string): Promise<boolean> {
    assertLookupId(id, 'id');
    if (this.#redis) return redisRemoveScheduler(this.#live(), id);
    return this.#scheduler?.remove(id) ?? false;
  }

  /** The repeatable jobs of this queue. @throws RedisUnavailableError */
  async schedulers(): Promise<SchedulerInfo[]> {
    if (this.#redis) return redisSchedulers(this.#live());
    return this.#scheduler?.list() ?? [];
  }

  /**
   * Listens to job events: `completed`, `failed` (attempts exhausted), `progress`. On Redis they
   * come from every process (BullMQ QueueEvents); jobs run in this process (standalone, inline)
   * report here too. Await `listening()` before relying on the first events.
   */
  on<K extends keyof QueueEventMap>(event: K, listener: (payload: QueueEventMap[K]) => void): this {
    if (!['completed', 'failed', 'progress'].includes(event))
      throw new InvalidArgumentError('event', `queue events are completed, failed and progress (got ${JSON.stringify(event)})`);
    this.#emitter.on(event, listener);
    this.#startEvents();
    return this;
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof QueueEventMap>(event: K, listener: (payload: QueueEventMap[K]) => void): this {
    this.#emitter.off(event, listener);
    return this;
  }

  /** Resolves once events from other processes are being received (at once standalone). */
  async listening(): Promise<void> {
    this.#startEvents();
    await this.#redisEvents?.waitUntilReady();
  }

  #startEvents(): void {
    if (!this.#localForwarding) {
      this.#localForwarding = true;
      const local = this.#manager.local(this.name);
      for (const event of ['completed', 'failed', 'progress'] as const) local.on(event, (p) => this.#emitter.emit(event, p));
    }
    if (this.#redis) this.#events();
  }

  #events(): RedisEvents {
    this.#manager.assertOpen();
    this.#redisEvents ??= new RedisEvents(this.#ctx, this.name, (event, payload) => this.#emitter.emit(event, payload));
    return this.#redisEvents;
  }

  /** The Redis side, or RedisUnavailableError while the connection is down (before BullMQ waits). */
  #live(): RedisQueue {
    if (!this.#ctx.connection.isReady) throw this.#ctx.connection.unavailable();
    return this.#redis!;
  }

  /** Closes the BullMQ producer, events and schedulers; local jobs are closed with the toolkit. */
  async close(): Promise<void> {
    this.#scheduler?.close();
    await Promise.all([this.#redis?.close(), this.#redisEvents?.close()]);
    this.#redisEvents = null;
  }
}

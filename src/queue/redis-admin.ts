import { QueueEvents, type Job } from 'bullmq';
import type { RedisClient } from '../connection/cluster.js';
import type { RedkitContext } from '../context.js';
import { InvalidArgumentError, JobNotFoundError } from '../errors.js';
import { bullPrefix, toBullOptions, type RedisQueue } from './redis-queue.js';
import type { JobInfo, JobState, QueueEventMap, SchedulerInfo, SchedulerOptions, SchedulerTemplate } from './types.js';

// The BullMQ calls behind Queue's admin methods (getJob, retry, pause, schedulers, events).
// Each goes through RedisQueue.bounded: an answer in time, and typed errors only.

/** How long closing the QueueEvents may take before its client is disconnected (Redis down). */
const EVENTS_CLOSE_MS = 2000;

function toInfo(job: Job, state: string): JobInfo {
  return {
    id: job.id!,
    name: job.name,
    state: (state === 'prioritized' ? 'waiting' : state) as JobState,
    data: job.data,
    progress: (job.progress ?? 0) as JobInfo['progress'],
    result: state === 'completed' ? job.returnvalue : undefined,
    failedReason: job.failedReason || null,
    attemptsMade: job.attemptsMade,
    timestamps: { added: job.timestamp, started: job.processedOn ?? null, finished: job.finishedOn ?? null },
  };
}

/** The job `id` with its state, or null when Redis has no such job (never added, or removed by retention). */
export function redisGetJob(rq: RedisQueue, id: string): Promise<JobInfo | null> {
  return rq.bounded(
    (async () => {
      let job = await rq.bull().getJob(id);
      if (!job) return null;
      const state = await job.getState();
      // Two reads: the job may have finished between them. Read it again so that a finished
      // state always comes with its result or failure.
      if ((state === 'completed' || state === 'failed') && !job.finishedOn) job = (await rq.bull().getJob(id)) ?? job;
      return toInfo(job, state);
    })(),
  );
}

/** Moves failed job `id` back to waiting, with a fresh set of attempts. */
export function redisRetryJob(rq: RedisQueue, id: string): Promise<void> {
  return rq.bounded(
    (async () => {
      const job = await rq.bull().getJob(id);
      if (!job) throw new JobNotFoundError(id);
      const state = await job.getState();
      if (state !== 'failed') throw new InvalidArgumentError('id', `job "${id}" of queue "${rq.name}" is ${state}: only a failed job can be retried`);
      await job.retry('failed');
    })(),
  );
}

/** Moves every failed job back to waiting; resolves how many there were. */
export function redisRetryFailed(rq: RedisQueue): Promise<number> {
  return rq.bounded(
    (async () => {
      const { failed = 0 } = await rq.bull().getJobCounts('failed');
      if (failed > 0) await rq.bull().retryJobs({ state: 'failed', count: 1000 });
      return failed;
    })(),
  );
}

/** Creates or replaces a BullMQ Job Scheduler: one job per schedule, whatever the number of processes. */
export function redisUpsertScheduler(rq: RedisQueue, id: string, every: SchedulerOptions, template: SchedulerTemplate): Promise<void> {
  const repeat = every.every !== undefined ? { every: every.every } : { pattern: every.pattern!, ...(every.tz ? { tz: every.tz } : {}) };
  return rq
    .bounded(rq.bull().upsertJobScheduler(id, repeat, { name: template.name, data: template.data ?? null, opts: toBullOptions(template.opts ?? {}) }))
    .then(() => undefined);
}

/** Lists the Job Schedulers of the queue. */
export function redisSchedulers(rq: RedisQueue): Promise<SchedulerInfo[]> {
  return rq.bounded(rq.bull().getJobSchedulers(0, -1, true)).then((list) =>
    list.map((s) => ({
      id: s.id ?? s.key,
      every: s.every ?? null,
      pattern: s.pattern ?? null,
      tz: s.tz ?? null,
      name: s.name,
      next: s.next ?? null,
    })),
  );
}

/** Removes a Job Scheduler (its pending job too); false when there was none. */
export function redisRemoveScheduler(rq: RedisQueue, id: string): Promise<boolean> {
  return rq.bounded(rq.bull().removeJobScheduler(id));
}

/**
 * BullMQ QueueEvents on a blocking client of its own (it reads the queue's event stream with
 * XREAD BLOCK, which would stall every command queued behind it on a shared client). Events
 * are forwarded as QueueEventMap payloads; the client waits out outages (no command timeout).
 */
export class RedisEvents {
  readonly events: QueueEvents;
  readonly #client: RedisClient;
  #closing = false;

  constructor(ctx: RedkitContext, name: string, emit: <K extends keyof QueueEventMap>(event: K, payload: QueueEventMap[K]) => void) {
    this.#client = ctx.connection.dedicatedClient({
      purpose: `queue-events:${name}`,
      overrides: { maxRetriesPerRequest: null, enableOfflineQueue: true, commandTimeout: undefined },
    });
    this.events = new QueueEvents(name, { connection: this.#client, prefix: bullPrefix(ctx), skipVersionCheck: true } as ConstructorParameters<
      typeof QueueEvents
    >[1]);
    this.events.on('error', (err: Error) => {
      if (!this.#closing) ctx.logger.debug({ queue: name, err: err.message }, '[redkit] BullMQ QueueEvents error');
    });
    this.events.on('completed', ({ jobId, returnvalue }) => emit('completed', { jobId, result: returnvalue }));
    this.events.on('failed', ({ jobId, failedReason }) => emit('failed', { jobId, failedReason }));
    this.events.on('progress', ({ jobId, data }) => emit('progress', { jobId, progress: data as QueueEventMap['progress']['progress'] }));
  }

  /** Resolves once the event stream is being read (events before that are not seen). */
  waitUntilReady(): Promise<unknown> {
    return this.events.waitUntilReady();
  }

  /** Closes QueueEvents; with Redis down, its client is disconnected after a bound. */
  async close(): Promise<void> {
    this.#closing = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.events.close().catch(() => undefined),
      new Promise((r) => {
        timer = setTimeout(r, EVENTS_CLOSE_MS);
      }),
    ]);
    clearTimeout(timer);
    this.#client.disconnect(false);
  }
}

/** What a job handler receives, the same from BullMQ and from the in-process engine. */
export interface JobContext<T = unknown> {
  /** The job id (generated, or `opts.jobId`). */
  readonly id: string;
  /** The job name given to `add`. */
  readonly name: string;
  /** The queue name. */
  readonly queue: string;
  readonly data: T;
  /** 1 on the first run, 2 on the first retry, … */
  readonly attempt: number;
  /** Aborted when the attempt times out (`timeoutMs`) or a forced close stops the worker. */
  readonly signal: AbortSignal;
  /** Reports progress (a number 0–100 or a small JSON object). */
  progress(value: number | Record<string, unknown>): Promise<void>;
}

/** A job handler; its return value (plain JSON) is the job's result. */
export type JobHandler<T = unknown, R = unknown> = (job: JobContext<T>) => Promise<R> | R;

/** Retry delay between attempts. */
export interface BackoffOptions {
  type: 'fixed' | 'exponential';
  /** Delay before the first retry in ms (exponential doubles it each time). */
  delayMs: number;
}

/** Options of one job (`add`'s third argument, or a queue's `defaultJobOptions`). */
export interface JobOptions {
  /** Your own id: adding the same id twice keeps the first job (BullMQ semantics). */
  jobId?: string;
  /** Runs in total, including the first. Default 1. */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Run no earlier than this many ms from now. */
  delayMs?: number;
  /** 1 (highest) to 2 097 152; unset means plain FIFO. */
  priority?: number;
  /** Keep at most this many completed jobs in Redis (default 1000); `false` keeps all. */
  removeOnComplete?: number | boolean;
  /** Keep at most this many failed jobs in Redis (default 5000); `false` keeps all. */
  removeOnFail?: number | boolean;
}

/** What `kit.queue(name, opts)` accepts. */
export interface QueueOptions {
  /**
   * When Redis is configured but down: `'inline'` (default) runs the job in this process with
   * the handler registered here (`kit.worker` or `inlineHandler`); `'reject'` throws
   * QueueUnavailableError. Either way the job is never silently dropped.
   */
  onRedisDown?: 'inline' | 'reject';
  /** Handler for jobs run in this process (standalone, or Redis down) when it has no `kit.worker` for the queue (API processes). */
  inlineHandler?: JobHandler<any, any>;
  /** Concurrency of inline runs (default 1). */
  inlineConcurrency?: number;
  defaultJobOptions?: JobOptions;
  /** Largest accepted job data, as JSON bytes. Default 512 KiB. */
  maxPayloadBytes?: number;
  /** Bound on one `add` against Redis in ms (default 2 × commandTimeoutMs, at least 1000). */
  addTimeoutMs?: number;
}

/** What `kit.worker(name, handler, opts)` accepts. */
export interface WorkerOptions {
  /** Jobs run at once by this worker. Default 1. */
  concurrency?: number;
  /** Fails an attempt (JobTimeoutError, then retried per `attempts`) that runs longer. Unset: no limit. */
  timeoutMs?: number;
  /**
   * BullMQ's job lock in ms, renewed every quarter to half of it while the job runs. A killed
   * worker's lock lapses within this; a handler that blocks the event loop longer loses its
   * job to another worker. Default 20 000. Killed worker → re-run within lockDurationMs + 2 × stalledIntervalMs.
   */
  lockDurationMs?: number;
  /** How often, in ms, BullMQ looks for jobs whose lock lapsed (a killed worker's) and puts them back. Default 5000. */
  stalledIntervalMs?: number;
  /** How many times a job may stall (its worker died or lost the lock) and be re-run before it fails. Default 1. */
  maxStalledCount?: number;
  /**
   * How long one blocking wait for a job lasts on an idle queue, in ms (BullMQ's `drainDelay`).
   * A new job wakes the worker at once (BullMQ's marker ends the wait), and a delayed job's due
   * time shortens it, so this only sets how often an idle queue polls: two commands per wait.
   * Default 30 000 (4 commands a minute per idle queue; BullMQ's own 5 000 costs 24). A worker
   * left blocked through a paused then restarted Redis takes the next job at once
   * (test/queue/idle-wait, test/queue/cross-process).
   */
  drainDelayMs?: number;
  /**
   * Rate limit: at most `max` jobs started per `durationMs`. On Redis it is BullMQ's limiter,
   * shared by every worker of the queue; in-process it bounds this process's engine.
   */
  limiter?: { max: number; durationMs: number };
  /**
   * How long `close()` (so `kit.close()`, a SIGTERM) waits for running jobs, in ms. Jobs still
   * running then are handed back to the queue for another worker and their signal aborts.
   * Default 25 000 (fits Kubernetes' default 30 s termination grace period).
   */
  closeTimeoutMs?: number;
}

/** Where `add` put a job. */
export interface AddedJob {
  id: string;
  name: string;
  /** `'redis'`: stored in Redis for any worker; `'local'`: runs in this process (standalone or inline fallback). */
  via: 'redis' | 'local';
  /** For local jobs: settles when the job is finished (never rejects). Undefined for Redis jobs. */
  finished?: Promise<JobOutcome>;
}

/** How a local job ended. */
export type JobOutcome = { status: 'completed'; result: unknown; attempts: number } | { status: 'failed'; error: Error; attempts: number };

/** Job counts of a queue. */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  /** Which engine answered: Redis (BullMQ) or this process. */
  source: 'redis' | 'local';
  /**
   * Live workers of the queue. On Redis: redkit workers whose heartbeat is fresh (see
   * README "Live workers"), across every process; in-process: 1 when this process has a handler.
   */
  workers?: number;
  /** True when the queue is paused (`queue.pause()`): jobs are kept but none is started. */
  paused?: boolean;
}

/** Where a job is in its life (BullMQ's states; a prioritized job reads as `waiting`). */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'waiting-children' | 'unknown';

/** What `queue.getJob(id)` returns: the same shape from BullMQ and from the in-process engine. */
export interface JobInfo {
  id: string;
  name: string;
  state: JobState;
  data: unknown;
  /** The last value given to `job.progress()` (0 when never reported). */
  progress: number | Record<string, unknown>;
  /** The handler's return value once completed, else undefined. */
  result: unknown;
  /** The last error message once failed, else null. */
  failedReason: string | null;
  /** Attempts finished so far (a failed attempt that will be retried counts). */
  attemptsMade: number;
  /** Epoch ms: added, first started (null until then), finished (null until then). */
  timestamps: { added: number; started: number | null; finished: number | null };
}

/** Payloads of `queue.on(event, listener)`; the same from every process on Redis. */
export interface QueueEventMap {
  completed: { jobId: string; result: unknown };
  failed: { jobId: string; failedReason: string };
  progress: { jobId: string; progress: number | Record<string, unknown> };
}

/** A repeatable job: `every` (ms) or a cron `pattern`, one of the two. */
export interface SchedulerOptions {
  /** Run every this many ms. */
  every?: number;
  /** A cron pattern (5 or 6 fields, seconds first when 6), e.g. `0 *\/5 * * * *`. */
  pattern?: string;
  /** IANA time zone for `pattern` (default: the process's). */
  tz?: string;
}

/** The job each run of a scheduler adds. */
export interface SchedulerTemplate {
  name: string;
  data?: unknown;
  opts?: Pick<JobOptions, 'attempts' | 'backoff' | 'priority' | 'removeOnComplete' | 'removeOnFail'>;
}

/** One scheduler as `queue.schedulers()` lists it. */
export interface SchedulerInfo {
  id: string;
  every: number | null;
  pattern: string | null;
  tz: string | null;
  /** Name of the job each run adds. */
  name: string;
  /** Epoch ms of the next run, or null when unknown. */
  next: number | null;
}

/**
 * Stall recovery defaults: a SIGKILLed worker's jobs run again 10–30 s later (its lock lapses
 * lockDurationMs/2 to lockDurationMs after the kill, then a check within one or two
 * stalledIntervalMs puts them back); the README has the measured figures. BullMQ's own
 * 30 s / 30 s: 46 s in the same test, up to 90 s.
 */
export const WORKER_DEFAULTS = { lockDurationMs: 20_000, stalledIntervalMs: 5_000, maxStalledCount: 1, closeTimeoutMs: 25_000, drainDelayMs: 30_000 } as const;

/** The allowed keys of each options object, for unknown-option errors. */
export const JOB_OPTION_KEYS = ['jobId', 'attempts', 'backoff', 'delayMs', 'priority', 'removeOnComplete', 'removeOnFail'] as const;
export const QUEUE_OPTION_KEYS = ['onRedisDown', 'inlineHandler', 'inlineConcurrency', 'defaultJobOptions', 'maxPayloadBytes', 'addTimeoutMs'] as const;
export const WORKER_OPTION_KEYS = [
  'concurrency',
  'timeoutMs',
  'lockDurationMs',
  'stalledIntervalMs',
  'maxStalledCount',
  'closeTimeoutMs',
  'limiter',
  'drainDelayMs',
] as const;

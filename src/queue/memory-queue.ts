import { randomUUID } from 'node:crypto';
import { EventEmitter, setMaxListeners } from 'node:events';
import type { Logger } from '../config/types.js';
import { ClosedError } from '../errors.js';
import { backoffDelayMs, runAttempt } from './run-attempt.js';
import type { AddedJob, JobHandler, JobInfo, JobOptions, JobOutcome, QueueCounts } from './types.js';

/** Finished jobs kept for getJob/retry per outcome, when the job sets no removeOn* count. */
const KEEP_FINISHED = 1000;

interface LocalJob {
  id: string;
  name: string;
  json: string;
  opts: JobOptions;
  attempt: number;
  seq: number;
  settle: (outcome: JobOutcome) => void;
  finished: Promise<JobOutcome>;
  state: 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';
  progress: number | Record<string, unknown>;
  result: unknown;
  failedReason: string | null;
  added: number;
  started: number | null;
  ended: number | null;
}

/** The handler side of a local engine. */
export interface LocalHandler {
  fn: JobHandler<any, any>;
  concurrency: number;
  timeoutMs?: number;
  limiter?: { max: number; durationMs: number };
}

/**
 * The in-process queue engine: the same job semantics as BullMQ (FIFO or priority, delay,
 * attempts with fixed/exponential backoff, concurrency, time limit) without Redis. It serves
 * standalone mode and the inline fallback. State lives in this process only. Events
 * (`completed`, `failed`, `progress`) carry the payloads of QueueEventMap.
 */
export class MemoryQueue extends EventEmitter {
  readonly name: string;
  readonly #logger: Logger;
  readonly #waiting: LocalJob[] = [];
  readonly #byId = new Map<string, LocalJob>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #active = new Set<Promise<void>>();
  #handler: LocalHandler | null = null;
  #delayed = 0;
  #running = 0;
  #completed = 0;
  #failed = 0;
  #seq = 0;
  #closed = false;
  #paused = false;
  /** Start times within the limiter's window (in-process rate limiter). */
  #starts: number[] = [];
  #limitTimer: NodeJS.Timeout | null = null;
  /** Finished jobs by outcome, oldest first (Map order), bounded like BullMQ's removeOn*. */
  readonly #done = { completed: new Map<string, LocalJob>(), failed: new Map<string, LocalJob>() };
  #abort = new AbortController();

  constructor(name: string, logger: Logger) {
    super();
    this.name = name;
    this.#logger = logger;
    // Every running job listens on this signal (forced close); concurrency is the real bound.
    setMaxListeners(0, this.#abort.signal);
  }

  /** True when a handler is set: jobs added now will run. */
  get hasHandler(): boolean {
    return this.#handler !== null;
  }

  /** Sets (or replaces) the handler and starts working on waiting jobs. */
  setHandler(handler: LocalHandler): void {
    this.#handler = handler;
    this.#pump();
  }

  /** Removes the handler; waiting jobs stay until another is set. */
  clearHandler(fn: JobHandler<any, any>): void {
    if (this.#handler?.fn === fn) this.#handler = null;
  }

  /** Resolves when no job of this engine is running. */
  async idle(): Promise<void> {
    while (this.#active.size > 0) await Promise.allSettled([...this.#active]);
  }

  /** Queues a job whose data is already validated JSON; a duplicate `jobId` of an unfinished job returns that job. */
  add(name: string, json: string, opts: JobOptions): AddedJob {
    if (this.#closed) throw new ClosedError(`queue "${this.name}"`);
    const id = opts.jobId ?? randomUUID();
    const existing = this.#byId.get(id);
    if (existing) return { id, name: existing.name, via: 'local', finished: existing.finished };
    let settle!: (outcome: JobOutcome) => void;
    const finished = new Promise<JobOutcome>((resolve) => {
      settle = resolve;
    });
    const job: LocalJob = {
      id,
      name,
      json,
      opts,
      attempt: 0,
      seq: this.#seq++,
      settle,
      finished,
      state: 'waiting',
      progress: 0,
      result: undefined,
      failedReason: null,
      added: Date.now(),
      started: null,
      ended: null,
    };
    this.#byId.set(id, job);
    if (opts.delayMs && opts.delayMs > 0) this.#later(job, opts.delayMs);
    else this.#enqueue(job);
    return { id, name, via: 'local', finished };
  }

  /** Counts of this process's jobs (completed/failed since start). */
  counts(): QueueCounts {
    return {
      waiting: this.#waiting.length,
      active: this.#running,
      delayed: this.#delayed,
      completed: this.#completed,
      failed: this.#failed,
      source: 'local',
      workers: this.#handler ? 1 : 0,
      paused: this.#paused,
    };
  }

  /** A job still queued or running, or among the last finished ones; null otherwise. */
  getJob(id: string): JobInfo | null {
    const job = this.#byId.get(id) ?? this.#done.completed.get(id) ?? this.#done.failed.get(id);
    if (!job) return null;
    return {
      id: job.id,
      name: job.name,
      state: job.state,
      data: JSON.parse(job.json),
      progress: job.progress,
      result: job.result,
      failedReason: job.failedReason,
      attemptsMade: job.state === 'active' ? job.attempt - 1 : job.attempt,
      timestamps: { added: job.added, started: job.started, finished: job.ended },
    };
  }

  /** Stops starting jobs (running ones finish); added jobs wait. */
  pause(): void {
    this.#paused = true;
  }

  /** Starts jobs again after `pause()`. */
  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Runs a failed job again with a fresh set of attempts; false when `id` is not a kept failed job. */
  retry(id: string): boolean {
    const job = this.#done.failed.get(id);
    if (!job || this.#closed) return false;
    this.#done.failed.delete(id);
    this.#failed--;
    job.attempt = 0;
    job.failedReason = null;
    job.ended = null;
    job.state = 'waiting';
    job.finished = new Promise<JobOutcome>((resolve) => {
      job.settle = resolve;
    });
    this.#byId.set(id, job);
    this.#enqueue(job);
    return true;
  }

  /** Retries every kept failed job; returns how many. */
  retryFailed(): number {
    let n = 0;
    for (const id of [...this.#done.failed.keys()]) if (this.retry(id)) n++;
    return n;
  }

  /**
   * Stops taking jobs and waits for running ones to finish (`force` aborts their signals
   * instead). Jobs still waiting or delayed cannot outlive the process: they are logged.
   */
  async close(force = false): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#limitTimer) clearTimeout(this.#limitTimer);
    if (force) this.#abort.abort(new ClosedError(`queue "${this.name}"`));
    await Promise.allSettled([...this.#active]);
    const left = this.#waiting.length + this.#delayed;
    if (left > 0) this.#logger.warn({ queue: this.name, jobs: left }, `[redkit] in-process queue "${this.name}" closed with ${left} job(s) not run`);
    for (const job of this.#byId.values()) job.settle({ status: 'failed', error: new ClosedError(`queue "${this.name}"`), attempts: job.attempt });
    this.#byId.clear();
    this.#waiting.length = 0;
  }

  #later(job: LocalJob, delayMs: number): void {
    this.#delayed++;
    job.state = 'delayed';
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#delayed--;
      this.#enqueue(job);
    }, delayMs);
    this.#timers.add(timer);
  }

  #enqueue(job: LocalJob): void {
    job.state = 'waiting';
    // Priority first (1 is highest, unset last), then FIFO: the order BullMQ uses.
    const rank = (j: LocalJob) => j.opts.priority ?? Number.MAX_SAFE_INTEGER;
    let i = this.#waiting.length;
    while (i > 0 && (rank(this.#waiting[i - 1]!) > rank(job) || (rank(this.#waiting[i - 1]!) === rank(job) && this.#waiting[i - 1]!.seq > job.seq))) i--;
    this.#waiting.splice(i, 0, job);
    this.#pump();
  }

  #pump(): void {
    const handler = this.#handler;
    if (!handler || this.#closed || this.#paused) return;
    while (this.#running < handler.concurrency && this.#waiting.length > 0) {
      if (handler.limiter && !this.#mayStart(handler.limiter)) return;
      const job = this.#waiting.shift()!;
      this.#running++;
      const done = this.#run(job, handler).finally(() => {
        this.#running--;
        this.#active.delete(done);
        this.#pump();
      });
      this.#active.add(done);
    }
  }

  /** The in-process limiter: a sliding window of start times; a full window re-pumps when it frees. */
  #mayStart(limiter: { max: number; durationMs: number }): boolean {
    const now = Date.now();
    while (this.#starts.length > 0 && this.#starts[0]! <= now - limiter.durationMs) this.#starts.shift();
    if (this.#starts.length < limiter.max) {
      this.#starts.push(now);
      return true;
    }
    if (!this.#limitTimer) {
      this.#limitTimer = setTimeout(
        () => {
          this.#limitTimer = null;
          this.#pump();
        },
        this.#starts[0]! + limiter.durationMs - now,
      );
    }
    return false;
  }

  /** Keeps a finished job for getJob/retry, dropping the oldest past its removeOn* bound. */
  #keep(job: LocalJob, outcome: 'completed' | 'failed'): void {
    const setting = outcome === 'completed' ? job.opts.removeOnComplete : job.opts.removeOnFail;
    const bound = setting === true ? 0 : typeof setting === 'number' ? setting : KEEP_FINISHED;
    const kept = this.#done[outcome];
    kept.set(job.id, job);
    for (const id of kept.keys()) {
      if (kept.size <= bound) break;
      kept.delete(id);
    }
  }

  async #run(job: LocalJob, handler: LocalHandler): Promise<void> {
    job.attempt++;
    job.state = 'active';
    job.started ??= Date.now();
    const attempts = job.opts.attempts ?? 1;
    try {
      // Each attempt gets its own copy of the data, as a job read back from Redis would.
      const data = JSON.parse(job.json);
      const progress = async (value: number | Record<string, unknown>) => {
        job.progress = value;
        this.emit('progress', { jobId: job.id, progress: value });
      };
      const result = await runAttempt(
        handler.fn,
        { id: job.id, name: job.name, queue: this.name, data, attempt: job.attempt, progress },
        handler.timeoutMs,
        this.#abort.signal,
      );
      this.#completed++;
      this.#byId.delete(job.id);
      Object.assign(job, { state: 'completed', result, ended: Date.now() });
      this.#keep(job, 'completed');
      job.settle({ status: 'completed', result, attempts: job.attempt });
      this.emit('completed', { jobId: job.id, result });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      job.failedReason = error.message;
      if (job.attempt < attempts && !this.#closed) {
        this.#later(job, backoffDelayMs(job.opts.backoff, job.attempt));
        return;
      }
      this.#failed++;
      this.#byId.delete(job.id);
      Object.assign(job, { state: 'failed', ended: Date.now() });
      this.#keep(job, 'failed');
      this.emit('failed', { jobId: job.id, failedReason: error.message });
      this.#logger.warn(
        { queue: this.name, jobId: job.id, attempts: job.attempt, err: error.message },
        `[redkit] in-process job ${this.name}/${job.id} failed`,
      );
      job.settle({ status: 'failed', error, attempts: job.attempt });
    }
  }
}

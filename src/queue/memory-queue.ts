import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from '../config/types.js';
import { ClosedError } from '../errors.js';
import { backoffDelayMs, runAttempt } from './run-attempt.js';
import type { AddedJob, JobHandler, JobOptions, JobOutcome, QueueCounts } from './types.js';

interface LocalJob {
  id: string;
  name: string;
  json: string;
  opts: JobOptions;
  attempt: number;
  seq: number;
  settle: (outcome: JobOutcome) => void;
  finished: Promise<JobOutcome>;
}

/** The handler side of a local engine. */
export interface LocalHandler {
  fn: JobHandler<any, any>;
  concurrency: number;
  timeoutMs?: number;
}

/**
 * The in-process queue engine: the same job semantics as BullMQ (FIFO or priority, delay,
 * attempts with fixed/exponential backoff, concurrency, time limit) without Redis. It serves
 * standalone mode and the inline fallback. State lives in this process only.
 */
export class MemoryQueue {
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
  #abort = new AbortController();

  constructor(name: string, logger: Logger) {
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
    const finished = new Promise<JobOutcome>((resolve) => { settle = resolve; });
    const job: LocalJob = { id, name, json, opts, attempt: 0, seq: this.#seq++, settle, finished };
    this.#byId.set(id, job);
    if (opts.delayMs && opts.delayMs > 0) this.#later(job, opts.delayMs);
    else this.#enqueue(job);
    return { id, name, via: 'local', finished };
  }

  /** Counts of this process's jobs (completed/failed since start). */
  counts(): QueueCounts {
    return { waiting: this.#waiting.length, active: this.#running, delayed: this.#delayed, completed: this.#completed, failed: this.#failed, source: 'local' };
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
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#delayed--;
      this.#enqueue(job);
    }, delayMs);
    this.#timers.add(timer);
  }

  #enqueue(job: LocalJob): void {
    // Priority first (1 is highest, unset last), then FIFO: the order BullMQ uses.
    const rank = (j: LocalJob) => j.opts.priority ?? Number.MAX_SAFE_INTEGER;
    let i = this.#waiting.length;
    while (i > 0 && (rank(this.#waiting[i - 1]!) > rank(job) || (rank(this.#waiting[i - 1]!) === rank(job) && this.#waiting[i - 1]!.seq > job.seq))) i--;
    this.#waiting.splice(i, 0, job);
    this.#pump();
  }

  #pump(): void {
    const handler = this.#handler;
    if (!handler || this.#closed) return;
    while (this.#running < handler.concurrency && this.#waiting.length > 0) {
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

  async #run(job: LocalJob, handler: LocalHandler): Promise<void> {
    job.attempt++;
    const attempts = job.opts.attempts ?? 1;
    try {
      // Each attempt gets its own copy of the data, as a job read back from Redis would.
      const data = JSON.parse(job.json);
      const result = await runAttempt(handler.fn, { id: job.id, name: job.name, queue: this.name, data, attempt: job.attempt, progress: async () => {} }, handler.timeoutMs, this.#abort.signal);
      this.#completed++;
      this.#byId.delete(job.id);
      job.settle({ status: 'completed', result, attempts: job.attempt });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (job.attempt < attempts && !this.#closed) {
        this.#later(job, backoffDelayMs(job.opts.backoff, job.attempt));
        return;
      }
      this.#failed++;
      this.#byId.delete(job.id);
      this.#logger.warn({ queue: this.name, jobId: job.id, attempts: job.attempt, err: error.message }, `[redkit] in-process job ${this.name}/${job.id} failed`);
      job.settle({ status: 'failed', error, attempts: job.attempt });
    }
  }
}

import { Queue as BullQueue, Worker as BullWorker, WaitingError, type Job, type JobsOptions } from 'bullmq';
import type { RedisClient } from '../connection/cluster.js';
import type { RedkitContext } from '../context.js';
import { ClosedError, RedisUnavailableError } from '../errors.js';
import { backoffDelay } from '../connection/backoff.js';
import { assumeRedis7 } from './bullmq-version.js';
import { backOffOnRefusal } from './refusal-backoff.js';
import { runAttempt } from './run-attempt.js';
import { WORKER_DEFAULTS, type JobHandler, type JobOptions, type QueueCounts, type WorkerOptions } from './types.js';

/** How long a worker's close may take once its jobs are done (Redis down: BullMQ would wait forever). */
const GRACE_MS = 2000;
/** Bound on handing one unfinished job back to the queue at close (the worker's client has no command timeout). */
const HAND_BACK_MS = 2000;

/** Resolves true when `work` settled within `ms`, false otherwise (the timer never outlives it). */
function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A job this worker is running, and how to stop it at a close that ran out of time. */
interface RunningJob {
  job: Job;
  token: string | undefined;
  /** Aborts the handler's signal. */
  stop: AbortController;
  /** Settles BullMQ's processor call with WaitingError: the job was handed back, not failed. */
  handBack: () => void;
}

/**
 * BullMQ's key prefix for this toolkit: `<prefix>:queue`, so environments sharing a Redis never meet.
 *
 * Slot-safe (Redis Cluster, or an endpoint that enforces slots) it is `{<prefix>:queue}`: BullMQ's
 * scripts touch several keys of a queue (and a flow touches keys of several queues), so every queue
 * key must hash to one slot. One tag for all queues keeps flows possible; the cost is that all
 * queues of a toolkit live on one shard. Otherwise the untagged layout stays, so existing
 * deployments find their jobs. Read when a queue is made: one made before `'auto'` detected slots
 * keeps the untagged prefix (the detection warning says so).
 */
export function bullPrefix(ctx: RedkitContext): string {
  const prefix = ctx.keys.key('queue');
  return ctx.connection.slotSafe ? `{${prefix}}` : prefix;
}

/** Maps redkit job options to BullMQ's, with bounded retention by default. */
export function toBullOptions(opts: JobOptions): JobsOptions {
  const keep = (v: number | boolean | undefined, dflt: number) => (v === undefined ? { count: dflt } : v === true ? true : v === false ? false : { count: v });
  // Only the options that are set: BullMQ copies and filters every key it is given, per job.
  const out: JobsOptions = { removeOnComplete: keep(opts.removeOnComplete, 1000), removeOnFail: keep(opts.removeOnFail, 5000) };
  if (opts.jobId !== undefined) out.jobId = opts.jobId;
  if (opts.attempts !== undefined) out.attempts = opts.attempts;
  if (opts.backoff) out.backoff = { type: opts.backoff.type, delay: opts.backoff.delayMs };
  if (opts.delayMs !== undefined) out.delay = opts.delayMs;
  if (opts.priority !== undefined) out.priority = opts.priority;
  return out;
}

/**
 * The producer side on BullMQ. The BullMQ `Queue` is created on first use, only when the
 * connection is up (BullMQ waits for Redis when a Queue is created), on a fail-fast client
 * (no offline queue, one retry) so that an `add` during an outage errors instead of waiting.
 */
export class RedisQueue {
  readonly name: string;
  readonly #ctx: RedkitContext;
  readonly #producer: () => RedisClient;
  readonly #addTimeoutMs: number;
  #queue: BullQueue | null = null;

  constructor(ctx: RedkitContext, name: string, producer: () => RedisClient, addTimeoutMs: number) {
    this.#ctx = ctx;
    this.name = name;
    this.#producer = producer;
    this.#addTimeoutMs = addTimeoutMs;
  }

  /** The BullMQ Queue, created on first use (the escape hatch and the admin calls use it). @internal */
  bull(): BullQueue {
    if (!this.#queue) {
      // skipVersionCheck: BullMQ's check runs INFO, refused to a least-privilege ACL user (see the worker).
      this.#queue = new BullQueue(this.name, { connection: this.#producer(), prefix: bullPrefix(this.#ctx), skipVersionCheck: true });
      this.#queue.on('error', (err: Error) => this.#ctx.logger.debug({ queue: this.name, err: err.message }, '[redkit] BullMQ queue error'));
    }
    return this.#queue;
  }

  /** Stores one job; throws RedisUnavailableError when Redis did not confirm within the bound. */
  add(name: string, data: unknown, opts: JobOptions): Promise<string> {
    // A ready client (the usual case) skips the wait for 'ready': a promise less per job.
    const send = () => this.bull().add(name, data, toBullOptions(opts));
    const work = this.#producer().status === 'ready' ? Promise.resolve().then(send) : this.#ready().then(send);
    return this.bounded(work).then((job) => job.id!);
  }

  /**
   * The producer client reconnects on its own schedule: right after the shared connection is
   * back it may still be connecting, and without an offline queue a command would fail at once.
   */
  async #ready(): Promise<void> {
    const client = this.#producer();
    if (client.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        client.off('ready', done);
        client.off('end', done);
        resolve();
      };
      client.once('ready', done);
      client.once('end', done);
    });
  }

  /** Stores several jobs atomically (one MULTI). */
  async addBulk(jobs: Array<{ name: string; data: unknown; opts: JobOptions }>): Promise<string[]> {
    const added = await this.bounded(
      this.#ready().then(() => this.bull().addBulk(jobs.map((j) => ({ name: j.name, data: j.data, opts: toBullOptions(j.opts) })))),
    );
    return added.map((j) => j.id!);
  }

  /** BullMQ's counts (waiting includes prioritized and paused jobs). */
  async counts(): Promise<QueueCounts> {
    const c = await this.bounded(this.bull().getJobCounts('wait', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'waiting-children'));
    return {
      waiting: (c.wait ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
      source: 'redis',
    };
  }

  /** Closes the BullMQ Queue (the shared producer client is closed by the connection). */
  async close(): Promise<void> {
    await this.#queue?.close().catch(() => undefined);
    this.#queue = null;
  }

  /**
   * Bounds a BullMQ call: its connection wrapper waits for 'ready' without a limit, and a
   * paused Redis answers nothing; either way the caller must get an answer in time. Errors
   * come out typed (RedisUnavailableError, or the RedkitError of a refused command). @internal
   */
  bounded<T>(work: Promise<T>): Promise<T> {
    // One promise and one timer per call, settled by whichever comes first (Promise.race in an
    // async function cost three promises more per job, measured on bench/queue add).
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RedisUnavailableError(`queue "${this.name}": Redis did not answer within addTimeoutMs=${this.#addTimeoutMs}`, 'TIMEOUT')),
        this.#addTimeoutMs,
      );
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(this.#ctx.connection.toUnavailable(err));
        },
      );
    });
  }
}

/**
 * A BullMQ Worker on its own client (`maxRetriesPerRequest: null`: a worker waits out an outage
 * instead of failing); BullMQ duplicates it for its blocking connection. The handler runs
 * through the same `runAttempt` as the in-process engine.
 */
export class RedisWorker {
  readonly #worker: BullWorker;
  readonly #client: RedisClient;
  readonly #running = new Map<Promise<unknown>, RunningJob>();
  readonly #ctx: RedkitContext;
  readonly #name: string;
  readonly #closeTimeoutMs: number;
  #stopping = false;
  #handingBack = false;
  /** Set while a closing drain waits to see whether BullMQ starts one more job. */
  #onStart: (() => void) | null = null;

  constructor(ctx: RedkitContext, name: string, handler: JobHandler<any, any>, opts: WorkerOptions) {
    this.#ctx = ctx;
    this.#name = name;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? WORKER_DEFAULTS.closeTimeoutMs;
    this.#client = ctx.connection.dedicatedClient({
      purpose: `queue-worker:${name}`,
      overrides: {
        // No command timeout: BullMQ issues blocking BZPOPMIN calls on the duplicate of this client.
        maxRetriesPerRequest: null,
        enableOfflineQueue: true,
        commandTimeout: undefined,
        // Not lazy: BullMQ duplicates this client for its blocking connection and calls connect()
        // on a lazy duplicate only once; if Redis is not up yet that first failure is final and
        // the worker never takes a job. A non-lazy duplicate connects, and reconnects, by itself.
        lazyConnect: false,
        // BullMQ's duplicate inherits this: once the worker closes, its clients stop reconnecting,
        // which is what lets BullMQ's close finish while Redis is down.
        retryStrategy: (attempt: number) => (this.#stopping ? null : backoffDelay(attempt)),
      },
    });
    this.#worker = new BullWorker(name, (job, token, signal) => this.#run(job, token, signal, handler, opts.timeoutMs), {
      connection: this.#client,
      prefix: bullPrefix(ctx),
      // BullMQ's version check runs INFO (@dangerous: refused to a least-privilege ACL user, and
      // the worker then retried without end); redkit needs Redis ≥ 7 anyway (redkit doctor checks).
      skipVersionCheck: true,
      concurrency: opts.concurrency ?? 1,
      lockDuration: opts.lockDurationMs ?? WORKER_DEFAULTS.lockDurationMs,
      stalledInterval: opts.stalledIntervalMs ?? WORKER_DEFAULTS.stalledIntervalMs,
      maxStalledCount: opts.maxStalledCount ?? WORKER_DEFAULTS.maxStalledCount,
      // Seconds for BullMQ; a fraction is fine on Redis ≥ 6 (see assumeRedis7).
      drainDelay: (opts.drainDelayMs ?? WORKER_DEFAULTS.drainDelayMs) / 1000,
      // BullMQ's pause after a connection error in its main loop (default 15 s) also delays close().
      runRetryDelay: 1000,
      ...(opts.limiter ? { limiter: { max: opts.limiter.max, duration: opts.limiter.durationMs } } : {}),
    });
    assumeRedis7(this.#worker);
    this.#worker.on(
      'error',
      backOffOnRefusal(this.#worker, ctx, name, () => this.#stopping),
    );
    this.#worker.on('failed', (job, err) =>
      ctx.logger.warn({ queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, `[redkit] job ${name}/${job?.id} failed`),
    );
  }

  /** The BullMQ Worker (the escape hatch `worker.bullmq`). */
  get bull(): BullWorker {
    return this.#worker;
  }

  /** Resolves when the worker is connected and taking jobs. */
  waitUntilReady(): Promise<unknown> {
    return this.#worker.waitUntilReady();
  }

  #run(job: Job, token: string | undefined, signal: AbortSignal | undefined, handler: JobHandler<any, any>, timeoutMs: number | undefined): Promise<unknown> {
    const stop = new AbortController();
    let handBack!: () => void;
    const handedBack = new Promise<never>((_, reject) => {
      handBack = () => reject(new WaitingError(`handed back to the queue by a closing worker`));
    });
    const attempt = runAttempt(
      handler,
      {
        id: job.id!,
        name: job.name,
        queue: this.#name,
        data: job.data,
        attempt: job.attemptsMade + 1,
        progress: async (value) => {
          await job.updateProgress(value);
        },
      },
      timeoutMs,
      stop.signal,
    );
    // BullMQ's own signal (a cancelled job) aborts the same controller. Not AbortSignal.any():
    // on Node 20 its result could be collected before it fired, and the handler never heard.
    const forward = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    // A handler that ignores its signal cannot hold up the close: BullMQ is answered at once.
    const run = Promise.race([attempt, handedBack]);
    const entry = { job, token, stop, handBack };
    this.#running.set(run, entry);
    this.#onStart?.();
    // Fetched just before the close and started after its time ran out: straight back.
    if (this.#handingBack) void this.#handBack(entry, true);
    const done = () => {
      this.#running.delete(run);
      signal?.removeEventListener('abort', forward);
    };
    run.then(done, done);
    return run;
  }

  /**
   * Waits up to closeTimeoutMs for the running jobs — with `closing` (BullMQ's close, Redis up)
   * also for jobs BullMQ fetched but had not started yet. Jobs still running then are handed
   * back to the queue for another worker (Redis up: at once; Redis down: their locks lapse and
   * the stalled-job check re-runs them) and their signals abort.
   */
  async #drain(closing: Promise<unknown> | null): Promise<void> {
    const deadline = Date.now() + this.#closeTimeoutMs;
    for (;;) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) break;
      if (this.#running.size > 0) {
        if (!(await within(Promise.allSettled([...this.#running.keys()]), leftMs))) break;
        continue;
      }
      if (!closing) return;
      // Nothing running, but BullMQ may yet start a job it fetched just before the close: its
      // close finishing says it will not. A paused Redis never lets it finish: GRACE_MS then.
      const startedOrClosed = new Promise<void>((resolve) => {
        this.#onStart = resolve;
        void closing.then(() => resolve());
      });
      await within(startedOrClosed, Math.min(leftMs, GRACE_MS));
      this.#onStart = null;
      if (this.#running.size === 0) return;
    }
    this.#handingBack = true;
    const left = [...this.#running.values()];
    if (left.length === 0) return;
    this.#ctx.logger.warn(
      { queue: this.#name, jobs: left.map((r) => r.job.id), closeTimeoutMs: this.#closeTimeoutMs },
      `[redkit] worker "${this.#name}" closing: ${left.length} job(s) still running after closeTimeoutMs=${this.#closeTimeoutMs}; handing them back to the queue`,
    );
    await Promise.all(left.map((r) => this.#handBack(r, closing !== null)));
  }

  async #handBack(r: RunningJob, toQueue: boolean): Promise<void> {
    // BullMQ hears "handed back" first: a handler that then rejects on its aborted signal
    // must not make BullMQ record a failed attempt.
    r.handBack();
    if (toQueue && r.token) {
      const moved = r.job.moveToWait(r.token).catch((err: Error) => {
        this.#ctx.logger.debug({ queue: this.#name, jobId: r.job.id, err: err.message }, '[redkit] hand-back failed; the stalled-job check re-runs the job');
      });
      await within(moved, HAND_BACK_MS);
    }
    r.stop.abort(new ClosedError(`the worker of queue "${this.#name}"`));
  }

  /**
   * Waits for running jobs up to closeTimeoutMs, hands back the ones still running (or aborts
   * them at once with `force`), then closes BullMQ and this worker's client. BullMQ's own close
   * waits for Redis without a limit (its clients never give up), so once the jobs are done it
   * gets `GRACE_MS` to finish, and is disconnected after that.
   */
  async close(force = false): Promise<void> {
    this.#stopping = true;
    let drained = false;
    if (this.#client.status !== 'ready') {
      if (!force) await this.#drain(null);
      drained = true;
      // Redis down: let the clients end at their next reconnect attempt (≤ 1 s) before BullMQ
      // disconnects them — ioredis never ends a client disconnected while it waits to reconnect,
      // and BullMQ's close would wait for that end forever.
      // BullMQ's duplicate cannot be watched from here; the longest backoff delay (1 s) bounds it.
      await new Promise((r) => setTimeout(r, 1100));
    }
    const closing = this.#worker.close(force).catch(() => undefined);
    if (!force && !drained) await this.#drain(closing);
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      closing.then(() => true),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    // Bounded: this client has no command timeout, and a paused Redis never answers QUIT.
    if (closed && this.#client.status === 'ready') await within(this.#client.quit(), GRACE_MS);
    this.#client.disconnect(false);
    if (!closed) {
      // BullMQ's close stops its stalled-jobs checker and lock extender only once Redis answered;
      // both re-arm ref'd timers, so with Redis gone they kept the process alive (seen in
      // test/nestjs/lifecycle under load). Stop them here (bullmq 6.7 Worker internals, guarded).
      const internals = this.#worker as unknown as { stalledCheckStopper?: () => void; lockManager?: { close?(): Promise<void> } };
      internals.stalledCheckStopper?.();
      void internals.lockManager?.close?.()?.catch(() => undefined);
      // The clients end at their next reconnect attempt and BullMQ's close then completes;
      // bounded by one backoff delay.
      await Promise.race([
        closing,
        new Promise((r) => {
          timer = setTimeout(r, GRACE_MS);
        }),
      ]);
    }
    clearTimeout(timer);
  }
}

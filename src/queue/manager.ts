import type { Worker as BullWorker } from 'bullmq';
import type { RedisClient } from '../connection/cluster.js';
import type { RedkitContext } from '../context.js';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { assertName } from '../keys.js';
import { startHeartbeat } from './heartbeat.js';
import { MemoryQueue } from './memory-queue.js';
import { Queue, jobOptions } from './queue.js';
import { RedisWorker } from './redis-queue.js';
import { QUEUE_OPTION_KEYS, WORKER_DEFAULTS, WORKER_OPTION_KEYS, type JobHandler, type QueueCounts, type QueueOptions, type WorkerOptions } from './types.js';
import { queueMetrics } from '../metrics/instruments.js';
import { assertInt, assertKnownKeys } from './validate.js';

/** A running worker: `close()` lets running jobs finish, bounded by closeTimeoutMs. */
export interface QueueWorker {
  readonly queue: string;
  /**
   * The BullMQ Worker on Redis, for what redkit does not wrap; null in standalone mode. Its
   * events and methods behave as BullMQ's (no redkit fallback or typed errors).
   */
  readonly bullmq: BullWorker | null;
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
  #producer: RedisClient | null = null;
  #closed = false;

  readonly #metrics: ReturnType<typeof queueMetrics>;

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    // Depth per queue and state, read when scraped (queues Redis cannot count now are left out).
    this.#metrics = queueMetrics(ctx.metrics, async () => {
      const out: Record<string, object> = {};
      // Job states only: live workers and the paused flag are not job counts.
      await Promise.all(
        this.names().map((name) =>
          this.queue(name)
            .counts()
            .then(
              ({ workers: _w, paused: _p, ...c }) => {
                out[name] = c;
              },
              () => undefined,
            ),
        ),
      );
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
    if (opts.inlineHandler !== undefined && typeof opts.inlineHandler !== 'function')
      throw new InvalidArgumentError('queue options.inlineHandler', 'inlineHandler must be a function');
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
    assertInt(opts.drainDelayMs, 'worker options.drainDelayMs', 100);
    if (opts.limiter !== undefined) {
      assertKnownKeys(opts.limiter, ['max', 'durationMs'], 'worker options.limiter');
      assertInt(opts.limiter.max, 'worker options.limiter.max', 1);
      assertInt(opts.limiter.durationMs, 'worker options.limiter.durationMs', 1);
      if (opts.limiter.max === undefined || opts.limiter.durationMs === undefined)
        throw new InvalidArgumentError('worker options.limiter', 'limiter takes { max, durationMs }');
    }
    assertInt(opts.closeTimeoutMs, 'worker options.closeTimeoutMs', 0);
    const closeTimeoutMs = opts.closeTimeoutMs ?? WORKER_DEFAULTS.closeTimeoutMs;
    handler = this.#metrics.counted(name, handler);
    const local = this.local(name);
    const localHandler = { fn: handler as JobHandler<any, any>, concurrency: opts.concurrency ?? 1, timeoutMs: opts.timeoutMs, limiter: opts.limiter };
    local.setHandler(localHandler);
    const redis = this.#ctx.config.mode === 'standalone' ? null : new RedisWorker(this.#ctx, name, handler, opts);
    // Counted by stats on every process (see heartbeat.ts: CLIENT LIST is refused to least privilege).
    const heartbeat = redis ? startHeartbeat(this.#ctx, name) : null;
    const worker: QueueWorker = {
      queue: name,
      bullmq: redis?.bull ?? null,
      ready: async () => {
        await redis?.waitUntilReady();
      },
      close: async (force = false) => {
        this.#workers.delete(worker);
        this.#closeTimeouts.delete(worker);
        local.clearHandler(handler);
        // Inline runs cannot be handed back (they were never in Redis): they get the same bound.
        let timer: NodeJS.Timeout | undefined;
        const idle = Promise.race([
          local.idle(),
          new Promise((r) => {
            timer = setTimeout(r, closeTimeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        await Promise.all([redis?.close(force), idle, heartbeat?.stop()]);
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
    await Promise.all(
      names.map(async (name) => {
        const queue = this.queue(name);
        try {
          out[name] = { counts: await queue.counts(), local: queue.localCounts() };
        } catch (err) {
          out[name] = { error: (err as Error).message, local: queue.localCounts() };
        }
      }),
    );
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
  #producerClient(): RedisClient {
    if (!this.#producer) {
      // No replay after a reconnect: a call that already failed (timed out on a paused Redis) must
      // not run later on a restarted one — a replayed pause() left the queue paused for good.
      this.#producer = this.#ctx.connection.dedicatedClient({
        purpose: 'queue-producer',
        overrides: { enableOfflineQueue: false, maxRetriesPerRequest: 1, autoResendUnfulfilledCommands: false },
      });
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

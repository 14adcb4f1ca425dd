import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { RedkitContext } from '../context.js';
import { InvalidArgumentError, JobExistsError, JobNotFoundError, RedisUnavailableError } from '../errors.js';
import { assertName } from '../keys.js';
import { jobMetrics } from '../metrics/instruments.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { toMs, type Duration } from '../duration.js';
import { assertOptions } from '../options.js';
import { assertJobId, checkJobData } from '../validate/job-data.js';
import { assertInt } from '../validate/numbers.js';
import { MemoryJobStore } from './memory-job-store.js';
import { eventOf, jobKeys, RedisJobStore } from './redis-job-store.js';
import { FINISHED, type CreateJobInput, type JobBackend, type JobEvent, type JobPatch, type JobRecord, type JobStatus } from './types.js';

/** Options of the job store. */
export interface JobStoreOptions {
  /** Lifetime of a record after its last change: ms or a duration string (`'2h'`), whole seconds, at least 1 s. Default `'2h'` (as the seeds). */
  ttl?: Duration;
  /** @deprecated The same in seconds, the one seconds option of the API: use `ttl` (bare numbers are ms everywhere else). */
  ttlSec?: number;
  /** Largest accepted `input`/`result`, as JSON bytes. Default 512 KiB. */
  maxPayloadBytes?: number;
}

const STATUSES: readonly JobStatus[] = ['queued', 'submitted', 'running', 'succeeded', 'failed', 'cancelled'];
/** How often records kept during a refusal (OOM, READONLY…) are offered back to Redis (ms). */
const FLUSH_RETRY_MS = 2000;
const PATCH_KEYS = ['status', 'progress', 'externalId', 'attempts', 'result', 'error'] as const;

/**
 * Durable job records: `<prefix>:job:{id}` hashes with a TTL, validated status changes, an index
 * of unfinished jobs and change notifications over pub/sub. Standalone: in memory with the same
 * rules. Degraded (Redis down): writes are kept in memory with a warning and written back when
 * Redis returns — jobs keep running (seed 001). Fallback lives in `#apply`, nowhere else.
 */
export class JobStore {
  /** Record lifetime after the last change, in seconds. */
  readonly ttlSec: number;
  readonly #ctx: RedkitContext;
  readonly #redis: JobBackend | null;
  /** Standalone: the store. With Redis: copies of the unfinished records this process wrote, and the write-back buffer. */
  readonly #memory = new MemoryJobStore();
  readonly #dirty = new Set<string>();
  readonly #events = new EventEmitter();
  readonly #maxPayloadBytes: number;
  readonly #metrics: ReturnType<typeof jobMetrics>;
  #warned = false;
  #flushing: Promise<void> | null = null;
  #flushTimer: NodeJS.Timeout | null = null;
  readonly #onConnected = () => void this.flush();
  /** Per-record and retry warnings repeat during a long outage: a few lines a minute per topic. */
  readonly #warn: RateLimitedLogFn;

  constructor(ctx: RedkitContext, opts: JobStoreOptions = {}) {
    assertOptions(opts, ['ttl', 'ttlSec', 'maxPayloadBytes'], 'job store options');
    assertInt(opts.ttlSec, 'job store options.ttlSec', 1);
    if (opts.ttl !== undefined && opts.ttlSec !== undefined)
      throw new InvalidArgumentError('job store options.ttl', 'job store options: give ttl or its deprecated alias ttlSec, not both');
    assertInt(opts.maxPayloadBytes, 'job store options.maxPayloadBytes', 1);
    this.#ctx = ctx;
    this.#warn = rateLimitedLog(ctx.logger, 'warn', { burst: 3 });
    // Records expire in whole seconds (EXPIRE); a ttl in between rounds up.
    this.ttlSec = opts.ttl !== undefined ? Math.ceil(toMs(opts.ttl, 'job store options.ttl', { min: 1000 }) / 1000) : (opts.ttlSec ?? 7200);
    this.#maxPayloadBytes = opts.maxPayloadBytes ?? 512 * 1024;
    this.#redis = ctx.config.mode === 'standalone' ? null : new RedisJobStore(ctx);
    this.#events.setMaxListeners(0);
    this.#metrics = jobMetrics(ctx.metrics);
    if (this.#redis) ctx.connection.on('connected', this.#onConnected);
  }

  /**
   * Creates a record in status `queued`.
   * @throws InvalidArgumentError (kind, id), JobDataError (input), JobExistsError.
   */
  async create(input: CreateJobInput): Promise<JobRecord> {
    assertOptions(input, ['id', 'kind', 'input'], 'job');
    assertName(input?.kind, 'job.kind');
    if (input.id !== undefined) assertJobId(input.id, 'job.id');
    if (input.input !== undefined) checkJobData(input.input, this.#maxPayloadBytes);
    const now = Date.now();
    const record: JobRecord = {
      id: input.id ?? randomUUID(),
      kind: input.kind,
      status: 'queued',
      progress: 0,
      externalId: null,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    };
    if (input.input !== undefined) record.input = input.input;
    const created = await this.#apply(
      record.id,
      (b) => b.create(record, this.ttlSec),
      () => this.#memory.create(record, this.ttlSec),
    );
    if (!created) throw new JobExistsError(record.id);
    this.#metrics.transition(record.id, record.kind, record.status);
    if (!this.#redis || this.#dirty.has(record.id)) this.#events.emit('change', eventOf(record));
    else await this.#memory.restore(record, this.ttlSec);
    return record;
  }

  /** The record, or null when missing or expired. @throws RedisUnavailableError when Redis is down and this process holds no copy. */
  async get(id: string): Promise<JobRecord | null> {
    assertJobId(id, 'id');
    return this.#apply(
      id,
      (b) => b.get(id),
      () => this.#memory.get(id),
      true,
    );
  }

  /**
   * Applies `patch` atomically; status changes follow queued → submitted → running → finished,
   * and finished records never change. Refreshes the TTL.
   * @throws JobNotFoundError, JobTransitionError, InvalidArgumentError, JobDataError (result).
   */
  async update(id: string, patch: JobPatch): Promise<JobRecord> {
    assertJobId(id, 'id');
    assertOptions(patch, PATCH_KEYS, 'patch');
    if (patch.status !== undefined && !STATUSES.includes(patch.status)) {
      throw new InvalidArgumentError('patch.status', `patch.status must be one of ${STATUSES.join(', ')} (got ${JSON.stringify(patch.status)})`);
    }
    if (patch.progress !== undefined && (typeof patch.progress !== 'number' || !(patch.progress >= 0 && patch.progress <= 100))) {
      throw new InvalidArgumentError('patch.progress', `patch.progress must be a number from 0 to 100 (got ${JSON.stringify(patch.progress)})`);
    }
    assertInt(patch.attempts, 'patch.attempts', 0);
    if (patch.externalId !== undefined) assertName(patch.externalId, 'patch.externalId');
    if (patch.error !== undefined && typeof patch.error !== 'string')
      throw new InvalidArgumentError('patch.error', 'patch.error must be a string (an error message)');
    if (patch.result !== undefined) checkJobData(patch.result, this.#maxPayloadBytes);
    const now = Date.now();
    const record = await this.#apply(
      id,
      (b) => b.update(id, patch, now, this.ttlSec),
      () => this.#memory.update(id, patch, now, this.ttlSec),
    );
    if (!record) throw new JobNotFoundError(id);
    if (patch.status !== undefined) this.#metrics.transition(id, record.kind, record.status);
    if (this.#redis && !this.#dirty.has(id)) {
      if (FINISHED.has(record.status)) this.#memory.delete(id);
      else await this.#memory.restore(record, this.ttlSec);
    }
    return record;
  }

  /** Unfinished records (optionally of one kind), oldest first; the index drops expired and finished entries as it goes. */
  async listUnfinished(kind?: string): Promise<JobRecord[]> {
    const all =
      this.#redis && this.#ctx.connection.isReady
        ? await this.#redis.listUnfinished().catch((err) => {
            if (err instanceof RedisUnavailableError) return this.#memory.listUnfinished();
            throw err;
          })
        : await this.#memory.listUnfinished();
    return all.filter((r) => kind === undefined || r.kind === kind).sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * Calls `handler` on every create and update, from every instance (Redis pub/sub; at most
   * once — after a reconnect, re-read what matters). Returns the unsubscribe function.
   */
  async subscribe(handler: (event: JobEvent) => void): Promise<() => Promise<void>> {
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'subscribe(handler): handler must be a function');
    this.#events.on('change', handler);
    let remote: (() => Promise<void>) | null = null;
    if (this.#redis) {
      const subscribing = this.#ctx.connection.subscriber().subscribe(jobKeys(this.#ctx).channel, (message) => {
        try {
          handler(JSON.parse(message) as JobEvent);
        } catch {
          // A malformed message (another writer on the channel) is not this subscriber's failure.
        }
      });
      // While Redis is down the subscription completes on reconnect; do not wait for it here.
      if (this.#ctx.connection.isReady) remote = await subscribing;
      else
        void subscribing.then(
          (off) => {
            remote = off;
          },
          () => undefined,
        );
    }
    return async () => {
      this.#events.off('change', handler);
      await remote?.();
    };
  }

  /** Writes records kept during an outage back to Redis (runs by itself on reconnect). */
  flush(): Promise<void> {
    this.#flushing ??= (async () => {
      try {
        for (const id of [...this.#dirty]) {
          if (!this.#redis || !this.#ctx.connection.isReady) return;
          const record = await this.#memory.get(id);
          if (record) {
            const written = await this.#redis.restore(record, this.ttlSec);
            if (!written) this.#warn('restore-conflict', { jobId: id }, `[redkit] job ${id} changed in Redis during the outage: kept the Redis copy`);
          }
          this.#dirty.delete(id);
          if (record && FINISHED.has(record.status)) this.#memory.delete(id);
        }
        if (this.#dirty.size === 0 && this.#warned) {
          this.#warned = false;
          this.#ctx.logger.info({}, '[redkit] job persistence resumed: records kept during the outage are written back');
        }
      } catch (err) {
        // Still refused (OOM…) while the pause warning stands: the retry timer goes on quietly.
        const obj = { err: String((err as Error)?.message ?? err), pending: this.#dirty.size };
        const msg = '[redkit] writing job records back to Redis failed; will retry';
        if (err instanceof RedisUnavailableError && this.#warned) this.#ctx.logger.debug(obj, msg);
        else this.#warn('flush-failed', obj, msg);
        // No second 'connected' may come: a cluster is connected while one master answers, and the
        // first write-back can meet a shard still failing over (CLUSTERDOWN, a dead node's slots).
        this.#scheduleFlush();
      } finally {
        this.#flushing = null;
      }
    })();
    return this.#flushing;
  }

  /** How many records wait to be written back to Redis. */
  get pendingWrites(): number {
    return this.#dirty.size;
  }

  #scheduleFlush(): void {
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null;
      if (this.#dirty.size === 0) return;
      void this.flush().then(() => {
        if (this.#dirty.size > 0) this.#scheduleFlush();
      });
    }, FLUSH_RETRY_MS);
    this.#flushTimer.unref();
  }

  /** Stops listening for reconnects. */
  close(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    this.#ctx.connection.off('connected', this.#onConnected);
    this.#events.removeAllListeners();
  }

  /**
   * Runs a store operation on Redis when it is usable, else on the in-memory copy (degraded:
   * persistence paused with one warning per outage, written back by `flush`). A record with
   * writes still waiting to go back stays in memory until then, so its changes keep their order.
   */
  async #apply<T>(id: string, onRedis: (b: JobBackend) => Promise<T>, onMemory: () => Promise<T>, read = false): Promise<T> {
    if (!this.#redis) return this.#notify(await onMemory());
    if (this.#ctx.connection.isReady && this.#dirty.size > 0) void this.flush();
    let refused: RedisUnavailableError | null = null;
    if (this.#ctx.connection.isReady && !this.#dirty.has(id)) {
      try {
        return await onRedis(this.#redis);
      } catch (err) {
        // Also a refusal of a server that is up (OOM, READONLY, NOPERM: reply-errors.ts).
        if (!(err instanceof RedisUnavailableError)) throw err;
        refused = err;
      }
    }
    if (read) {
      const local = await this.#memory.get(id);
      if (local) return local as T;
      throw this.#ctx.connection.unavailable();
    }
    if (!this.#warned) {
      this.#warned = true;
      this.#ctx.logger.warn(
        { reason: refused?.reason ?? this.#ctx.connection.lastError?.reason, ...(refused ? { err: refused.message } : {}) },
        '[redkit] Redis not available, job persistence paused: jobs keep running, records are written back when Redis returns',
      );
    }
    const out = await onMemory();
    if (out === null) throw refused ?? this.#ctx.connection.unavailable();
    this.#dirty.add(id);
    // A refusing server stays connected, so no reconnect will trigger the write-back: retry it.
    if (refused) this.#scheduleFlush();
    return this.#notify(out);
  }

  #notify<T>(out: T): T {
    if (out && typeof out === 'object' && 'status' in (out as object)) this.#events.emit('change', eventOf(out as unknown as JobRecord));
    return out;
  }
}

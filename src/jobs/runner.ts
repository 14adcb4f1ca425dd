import { EventEmitter } from 'node:events';
import type { RedkitContext } from '../context.js';
import { ClosedError, InvalidArgumentError, JobNotFoundError, JobTimeoutError, JobTransitionError, RedisUnavailableError } from '../errors.js';
import { assertName } from '../keys.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { toMs, type Duration } from '../duration.js';
import { assertOptions } from '../options.js';
import { assertInt } from '../validate/numbers.js';
import type { JobLocks } from './job-lock.js';
import type { JobStore } from './job-store.js';
import { FINISHED, type ExternalJobAdapter, type JobPatch, type JobRecord } from './types.js';

/** Options of `kit.jobs.runner(...)`. */
export interface JobRunnerOptions<I = unknown> {
  /** The kind of job this runner owns (records of other kinds are left alone). */
  kind: string;
  adapter: ExternalJobAdapter<I>;
  /** How often each tracked job's status is asked from the adapter: ms or a duration string (`'2s'`), at least 10 ms. Default 1000. */
  pollIntervalMs?: Duration;
  /** Lease of the per-job lock: ms or a duration string, at least 100 ms; renewed every third of it. A crashed instance's jobs are taken over after it. Default 30000. */
  lockTtlMs?: Duration;
  /** After the first `recover()`, look again for unfinished jobs nobody tracks this often: ms or a duration string (0: never). Default `lockTtlMs`. */
  recoverEveryMs?: Duration;
  /** An external job the adapter reports `unknown` this many polls in a row is failed. Default 3. */
  maxUnknownPolls?: number;
  /** The store to use (default `kit.jobs.store`). */
  store?: JobStore;
}

/** What `recover()` did. */
export interface RecoverReport {
  /** Jobs this instance now tracks (resumed, or submitted because they never were). */
  resumed: string[];
  /** Jobs another live instance tracks (their lock is held). */
  busy: string[];
  /** Jobs failed because their submission outcome could not be known (adapter without `find`). */
  failed: string[];
}

interface Tracked {
  id: string;
  token: string | null;
  externalId: string;
  status: JobRecord['status'];
  progress: number;
  unknownPolls: number;
}

/**
 * Drives long-running external jobs through an adapter and persists every transition, so that
 * a restarted (or another) instance finishes tracking them: `recover()` takes each unfinished
 * job under a per-job lock — exactly one instance tracks it — and a job is never submitted
 * twice: the attempt is recorded before submitting, and an uncertain one is resolved with the
 * adapter's `find` instead of resubmitting. Events: `tracking` (id, 'started' | 'recovered'),
 * `finished` (record), `lost` (id: the lock went to another instance).
 */
export class JobRunner<I = unknown> extends EventEmitter {
  readonly kind: string;
  readonly #ctx: RedkitContext;
  readonly #store: JobStore;
  readonly #locks: JobLocks;
  readonly #adapter: ExternalJobAdapter<I>;
  readonly #pollMs: number;
  readonly #leaseMs: number;
  readonly #recoverMs: number;
  readonly #maxUnknown: number;
  readonly #tracked = new Map<string, Tracked>();
  #pollTimer: NodeJS.Timeout | null = null;
  #renewTimer: NodeJS.Timeout | null = null;
  #recoverTimer: NodeJS.Timeout | null = null;
  #polling = false;
  #recovering: Promise<RecoverReport> | null = null;
  #closed = false;
  /** Recovery and lost-lock warnings repeat per job: a few lines a minute per topic. */
  readonly #warn: RateLimitedLogFn;

  /** Use `kit.jobs.runner(opts)`. */
  constructor(ctx: RedkitContext, store: JobStore, locks: JobLocks, opts: JobRunnerOptions<I>) {
    super();
    assertOptions(opts, ['kind', 'adapter', 'pollIntervalMs', 'lockTtlMs', 'recoverEveryMs', 'maxUnknownPolls', 'store'], 'runner options');
    assertName(opts.kind, 'runner options.kind');
    const a = opts.adapter as Partial<ExternalJobAdapter<I>> | undefined;
    if (!a || typeof a.submit !== 'function' || typeof a.status !== 'function' || typeof a.cancel !== 'function') {
      throw new InvalidArgumentError('runner options.adapter', 'adapter must implement submit(job), status(externalId) and cancel(externalId)');
    }
    const pollMs = toMs(opts.pollIntervalMs ?? 1000, 'runner options.pollIntervalMs', { min: 10 });
    const leaseMs = toMs(opts.lockTtlMs ?? 30_000, 'runner options.lockTtlMs', { min: 100 });
    const recoverMs = opts.recoverEveryMs === undefined ? leaseMs : toMs(opts.recoverEveryMs, 'runner options.recoverEveryMs');
    assertInt(opts.maxUnknownPolls, 'runner options.maxUnknownPolls', 1);
    this.#ctx = ctx;
    this.#warn = rateLimitedLog(ctx.logger, 'warn', { burst: 3 });
    this.#store = store;
    this.#locks = locks;
    this.kind = opts.kind;
    this.#adapter = opts.adapter;
    this.#pollMs = pollMs;
    this.#leaseMs = leaseMs;
    this.#recoverMs = recoverMs;
    this.#maxUnknown = opts.maxUnknownPolls ?? 3;
  }

  /** Ids of the jobs this instance tracks now. */
  tracking(): string[] {
    return [...this.#tracked.keys()];
  }

  /**
   * Creates the record, submits the job and tracks it to the end; resolves with the record once
   * submitted. A refused submission is recorded as `failed` and rethrown.
   * @throws InvalidArgumentError, JobDataError, JobExistsError, ExternalJobError.
   */
  async start(input: I, opts: { id?: string } = {}): Promise<JobRecord> {
    this.#assertOpen();
    const record = await this.#store.create({ id: opts.id, kind: this.kind, input });
    let token: string | null = null;
    try {
      token = await this.#locks.acquire(record.id, this.#leaseMs);
      if (token === null) throw new JobTransitionError(record.id, record.status, 'submitted');
    } catch (err) {
      // Degraded: no lock to take, but this instance just created the job, so nobody else has it.
      if (!(err instanceof RedisUnavailableError)) throw err;
    }
    return this.#submit(record, token, 'started', true);
  }

  /**
   * Takes over every unfinished job of this kind that no live instance tracks (their lock is
   * free): resumes polling, or submits jobs that never were. Safe to run on several instances at
   * once. Afterwards, repeats itself every `recoverEveryMs`.
   * @throws RedisUnavailableError when Redis is down (recovery needs the locks).
   */
  recover(): Promise<RecoverReport> {
    this.#assertOpen();
    this.#recovering ??= this.#recover().finally(() => {
      this.#recovering = null;
    });
    if (!this.#recoverTimer && this.#recoverMs > 0) {
      this.#recoverTimer = setInterval(() => {
        if (this.#ctx.connection.isReady || this.#ctx.config.mode === 'standalone') {
          this.recover().catch((err) => this.#ctx.logger.debug({ err: String(err?.message ?? err) }, '[redkit] job recovery sweep failed'));
        }
      }, this.#recoverMs);
      this.#recoverTimer.unref();
    }
    return this.#recovering;
  }

  async #recover(): Promise<RecoverReport> {
    const report: RecoverReport = { resumed: [], busy: [], failed: [] };
    for (const listed of await this.#store.listUnfinished(this.kind)) {
      if (this.#closed) break;
      if (this.#tracked.has(listed.id)) continue;
      const token = await this.#locks.acquire(listed.id, this.#leaseMs);
      if (!token) {
        report.busy.push(listed.id);
        continue;
      }
      try {
        // Re-read under the lock: the previous holder may have moved it on meanwhile.
        const record = await this.#store.get(listed.id);
        if (!record || FINISHED.has(record.status)) {
          await this.#release(listed.id, token);
          continue;
        }
        if (record.externalId) {
          this.#track(record, token, 'recovered');
        } else if (record.attempts > 0) {
          // Killed between starting a submission and recording its id: did it go through?
          const externalId = this.#adapter.find ? await this.#adapter.find({ id: record.id, kind: record.kind, input: record.input as I }) : undefined;
          if (externalId) {
            this.#track(await this.#store.update(record.id, { status: 'submitted', externalId }), token, 'recovered');
          } else if (externalId === null) {
            await this.#submit(record, token, 'recovered', false);
          } else {
            await this.#finish(record.id, token, {
              status: 'failed',
              error: 'submission outcome unknown after a restart and the adapter has no find(): not resubmitted to avoid running it twice',
            });
            report.failed.push(record.id);
            continue;
          }
        } else {
          await this.#submit(record, token, 'recovered', false);
        }
        report.resumed.push(record.id);
      } catch (err) {
        if (!this.#tracked.has(listed.id)) await this.#release(listed.id, token);
        this.#warn('recover-failed', { jobId: listed.id, err: String((err as Error)?.message ?? err) }, `[redkit] could not recover job ${listed.id}`);
      }
    }
    return report;
  }

  /**
   * Cancels a job: asks the external system, records `cancelled`, stops tracking it.
   * @throws JobNotFoundError; a finished job is returned as it is.
   */
  async cancel(id: string): Promise<JobRecord> {
    const record = await this.#store.get(id);
    if (!record) throw new JobNotFoundError(id);
    if (FINISHED.has(record.status)) return record;
    if (record.externalId) await this.#adapter.cancel(record.externalId);
    const tracked = this.#tracked.get(id);
    this.#tracked.delete(id);
    const updated = await this.#store.update(id, { status: 'cancelled' });
    if (tracked?.token) await this.#release(id, tracked.token);
    this.emit('finished', updated);
    return updated;
  }

  /** Resolves with the record once it is finished (from any instance); JobTimeoutError after `timeoutMs`. */
  async wait(id: string, timeoutMs: number): Promise<JobRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await this.#store.get(id);
      if (!record) throw new JobNotFoundError(id);
      if (FINISHED.has(record.status)) return record;
      if (Date.now() > deadline)
        throw new JobTimeoutError(`job ${id} (still ${record.status})`, timeoutMs, 'wait longer, or subscribe to the store for its change');
      await new Promise((r) => setTimeout(r, Math.min(100, this.#pollMs)));
    }
  }

  /** Stops tracking (the jobs go on externally) and releases the locks so that another instance takes them over at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of [this.#pollTimer, this.#renewTimer]) if (t) clearInterval(t);
    if (this.#recoverTimer) clearInterval(this.#recoverTimer);
    await this.#recovering?.catch(() => undefined);
    const held = [...this.#tracked.values()];
    this.#tracked.clear();
    await Promise.all(held.map((t) => (t.token ? this.#release(t.id, t.token) : undefined)));
  }

  async #submit(record: JobRecord, token: string | null, how: 'started' | 'recovered', rethrow: boolean): Promise<JobRecord> {
    // Recorded before submitting: after a crash, attempts > 0 without an external id means "maybe submitted".
    const marked = await this.#store.update(record.id, { attempts: record.attempts + 1 });
    let externalId: string;
    try {
      externalId = await this.#adapter.submit({ id: record.id, kind: record.kind, input: record.input as I });
    } catch (err) {
      const failed = await this.#finish(record.id, token, { status: 'failed', error: String((err as Error)?.message ?? err) });
      if (rethrow) throw err;
      return failed ?? marked;
    }
    const submitted = await this.#store.update(record.id, { status: 'submitted', externalId });
    this.#track(submitted, token, how);
    return submitted;
  }

  #track(record: JobRecord, token: string | null, how: 'started' | 'recovered'): void {
    if (this.#closed) {
      if (token) void this.#release(record.id, token);
      return;
    }
    this.#tracked.set(record.id, { id: record.id, token, externalId: record.externalId!, status: record.status, progress: record.progress, unknownPolls: 0 });
    this.emit('tracking', record.id, how);
    this.#pollTimer ??= setInterval(() => void this.#pollAll(), this.#pollMs);
    this.#renewTimer ??= setInterval(() => void this.#renewAll(), Math.max(50, Math.floor(this.#leaseMs / 3)));
  }

  async #pollAll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      await Promise.all([...this.#tracked.values()].map((t) => this.#poll(t)));
    } finally {
      this.#polling = false;
      if (this.#tracked.size === 0) this.#idle();
    }
  }

  async #poll(t: Tracked): Promise<void> {
    try {
      const s = await this.#adapter.status(t.externalId);
      if (this.#tracked.get(t.id) !== t) return;
      if (s.state === 'unknown') {
        if (++t.unknownPolls >= this.#maxUnknown)
          await this.#finish(t.id, t.token, { status: 'failed', error: `the external system has no job ${t.externalId} (lost)` });
        return;
      }
      t.unknownPolls = 0;
      if (s.state === 'succeeded') await this.#finish(t.id, t.token, { status: 'succeeded', progress: 100, result: s.result ?? null });
      else if (s.state === 'failed') await this.#finish(t.id, t.token, { status: 'failed', error: s.error ?? 'failed in the external system' });
      else if (s.state === 'cancelled') await this.#finish(t.id, t.token, { status: 'cancelled' });
      else {
        const status = s.state === 'running' ? 'running' : t.status;
        const progress = s.progress ?? t.progress;
        if (status !== t.status || progress !== t.progress) {
          await this.#store.update(t.id, { status, progress });
          t.status = status;
          t.progress = progress;
        }
      }
    } catch (err) {
      if (err instanceof JobTransitionError || err instanceof JobNotFoundError) {
        // Finished elsewhere (cancelled by another instance) or expired: nothing left to track.
        this.#tracked.delete(t.id);
        if (t.token) await this.#release(t.id, t.token);
        return;
      }
      this.#ctx.logger.debug({ jobId: t.id, err: String((err as Error)?.message ?? err) }, '[redkit] job status poll failed; retrying');
    }
  }

  async #renewAll(): Promise<void> {
    await Promise.all(
      [...this.#tracked.values()].map(async (t) => {
        try {
          if (!t.token) {
            // Started while Redis was down: take its lock now that Redis answers, so no other
            // instance's recovery picks the job up as abandoned.
            const token = await this.#locks.acquire(t.id, this.#leaseMs);
            if (token && this.#tracked.get(t.id) === t) t.token = token;
            else if (token) await this.#release(t.id, token);
            else if (this.#tracked.get(t.id) === t) {
              this.#tracked.delete(t.id);
              this.emit('lost', t.id);
            }
            return;
          }
          if (await this.#locks.extend(t.id, t.token, this.#leaseMs)) return;
          // The lease lapsed (a stall longer than it): if nobody took the lock meanwhile, take it back.
          const again = await this.#locks.acquire(t.id, this.#leaseMs);
          if (again && this.#tracked.get(t.id) === t) {
            t.token = again;
            return;
          }
          if (again) await this.#release(t.id, again);
          if (this.#tracked.get(t.id) === t) {
            this.#tracked.delete(t.id);
            this.#warn('lost-lock', { jobId: t.id }, `[redkit] lost the lock of job ${t.id} (another instance took it over): no longer tracking it here`);
            this.emit('lost', t.id);
          }
        } catch {
          // Redis down: keep tracking (degraded); the lease is renewed once it is back.
        }
      }),
    );
  }

  async #finish(id: string, token: string | null, patch: JobPatch): Promise<JobRecord | null> {
    this.#tracked.delete(id);
    let record: JobRecord | null = null;
    try {
      record = await this.#store.update(id, patch);
      this.emit('finished', record);
    } finally {
      if (token) await this.#release(id, token);
    }
    return record;
  }

  async #release(id: string, token: string): Promise<void> {
    await this.#locks.release(id, token).catch(() => undefined);
  }

  #idle(): void {
    for (const t of [this.#pollTimer, this.#renewTimer]) if (t) clearInterval(t);
    this.#pollTimer = null;
    this.#renewTimer = null;
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError(`job runner "${this.kind}"`);
  }
}

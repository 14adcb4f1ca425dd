import { randomBytes } from 'node:crypto';
import type { RedkitContext } from '../context.js';
import { ClosedError, InvalidArgumentError, LockBusyError, RedisPermissionError, RedisUnavailableError } from '../errors.js';
import type { Duration } from '../duration.js';
import { assertName } from '../keys.js';
import { assertOptions } from '../options.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import type { AcquireReply, LockBackend, LockRef } from './backend.js';
import { assertMs, HeldLock, type Lock } from './held-lock.js';
import { MemoryLockBackend } from './memory-lock.js';
import { RedisLockBackend } from './redis-lock.js';
import { Semaphore } from './semaphore.js';
import { operationLabel, traced } from '../metrics/spans.js';
import { lockMetrics, type LockRefusal } from '../metrics/instruments.js';

/** The `redkit:operation` label of `kit.lock.acquire` (its scripts are labelled by the connection). */
const LOCK_ACQUIRE = operationLabel('lock', 'acquire');

export type { LockBackend, LockRef, AcquireReply, HolderInfo } from './backend.js';
export { driftMarginMs, type Lock } from './held-lock.js';
export { Semaphore } from './semaphore.js';

/** Default lease of a lock when `ttl` is not given (ms). */
export const DEFAULT_LOCK_TTL_MS = 10_000;

/** Options of `acquire` / `using`. */
export interface LockOptions {
  /** Lease: ms or a duration string (`'30s'`); the lock frees itself after it unless extended. Default 10 000. */
  ttl?: Duration;
  /** How long to wait for the lock: ms or a duration string; 0 (default) fails at once with LockBusyError. */
  wait?: Duration;
  /** Aborts a waiting acquire (LockBusyError with reason `aborted`). */
  signal?: AbortSignal;
  /**
   * When Redis is configured but unavailable: `none` (default) throws RedisUnavailableError;
   * `local` grants an in-process lock instead (`lock.local` is true: it excludes this process only).
   */
  fallback?: 'none' | 'local';
  /** No grant for this long after Redis restarts (ms or a duration string); default the ttl. Set it to your largest TTL if TTLs of a name vary. */
  restartGuard?: Duration;
}

/** Known keys of LockOptions (and the internal tokenPrefix of leader leases), for assertOptions. */
const LOCK_OPTION_KEYS = ['ttl', 'wait', 'signal', 'fallback', 'restartGuard', 'tokenPrefix'] as const;

// Tokens only have to be unique: a random per-process part and a counter (no syscall per lock).
const PROCESS_TOKEN = randomBytes(12).toString('base64url');
let tokenCounter = 0;
function token(prefix = ''): string {
  return `${prefix}${PROCESS_TOKEN}.${(tokenCounter++).toString(36)}`;
}

/** How a waited acquire ended without a grant, for metrics: its wait ran out, was aborted, or Redis failed. */
function refusal(err: unknown): LockRefusal {
  if (err instanceof LockBusyError) return err.reason === 'busy' ? 'timeout' : err.reason === 'restart-guard' ? 'guard' : 'aborted';
  return err instanceof RedisUnavailableError ? 'unavailable' : 'aborted';
}

/**
 * `kit.lock`: locks and semaphores with fencing tokens, fair FIFO hand-off and bounded waits.
 * Redis-backed when Redis is configured, in-process in standalone mode.
 */
export class LockManager {
  readonly #metrics: ReturnType<typeof lockMetrics>;
  readonly #backend: LockBackend;
  #local: MemoryLockBackend | null = null;
  readonly #held = new Set<HeldLock>();
  readonly #waiting = new Set<AbortController>();
  #closed = false;
  readonly #warn: RateLimitedLogFn;

  /** Use `kit.lock`; `backend` overrides the store (tests, a user's own client). */
  constructor(ctx: RedkitContext, backend?: LockBackend) {
    this.#metrics = lockMetrics(ctx.metrics);
    this.#warn = rateLimitedLog(ctx.logger, 'warn', { burst: 3 });
    this.#backend = backend ?? (ctx.config.mode === 'standalone' ? new MemoryLockBackend() : new RedisLockBackend(ctx));
  }

  /** The store in use (`redis` or `memory`). */
  get backend(): LockBackend {
    return this.#backend;
  }

  /**
   * Acquires the lock `name`. Without `wait` it fails at once when held; with `wait` (ms) the
   * caller queues FIFO and is woken when a holder releases.
   * @throws LockBusyError, RedisUnavailableError (Redis configured but down), InvalidArgumentError
   */
  acquire(name: string, options: LockOptions = {}): Promise<Lock> {
    assertName(name, 'name');
    return traced(LOCK_ACQUIRE, () => this.acquireRef({ kind: 'lock', name, limit: 1 }, options));
  }

  /**
   * Runs `fn(signal, lock)` holding the lock: extends it every ttl/3 while `fn` runs, aborts
   * `signal` when the lock is lost, and always releases. Resolves with `fn`'s result.
   */
  using<T>(name: string, fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    assertName(name, 'name');
    return this.usingRef({ kind: 'lock', name, limit: 1 }, fn, options);
  }

  /** A semaphore of `limit` slots (integer ≥ 1) named `name`; all users of a name must agree on `limit`. */
  semaphore(name: string, limit: number): Semaphore {
    assertName(name, 'name');
    if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError('limit', `limit must be an integer ≥ 1 (got ${String(limit)})`);
    return new Semaphore(this, name, limit);
  }

  /** @internal Live holders of a ref. */
  holdersOf(ref: LockRef) {
    return this.#backend.holders(ref);
  }

  /** @internal The shared acquire of locks, semaphore slots and leader leases. */
  acquireRef(ref: LockRef, options: LockOptions & { tokenPrefix?: string } = {}): Promise<Lock> {
    // Not async: the uncontended acquire is the hot path, and each async frame is a promise more.
    if (this.#closed) return Promise.reject(new ClosedError('kit.lock'));
    let ttlMs: number, waitMs: number, guardMs: number;
    try {
      assertOptions(options, LOCK_OPTION_KEYS, 'lock options');
      ttlMs = assertMs(options.ttl ?? DEFAULT_LOCK_TTL_MS, 'ttl', false);
      waitMs = assertMs(options.wait ?? 0, 'wait', true);
      guardMs = assertMs(options.restartGuard ?? ttlMs, 'restartGuard', true);
      if (options.fallback !== undefined && options.fallback !== 'none' && options.fallback !== 'local') {
        throw new InvalidArgumentError('fallback', `fallback must be 'none' or 'local' (got ${String(options.fallback)})`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const acquired = this.#acquireOn(this.#backend, ref, ttlMs, waitMs, guardMs, options);
    if (options.fallback !== 'local') return acquired;
    return acquired.catch(async (err: unknown) => {
      // A permission refusal is a misconfiguration, not an outage: local grants would hide it.
      if (!(err instanceof RedisUnavailableError) || err instanceof RedisPermissionError) throw err;
      this.#local ??= new MemoryLockBackend();
      const lock = await this.#acquireOn(this.#local, ref, ttlMs, waitMs, guardMs, options);
      return (lock as HeldLock).markLocal();
    });
  }

  readonly #forgetHeld = (lock: HeldLock) => {
    this.#held.delete(lock);
  };
  readonly #warnNotHeld = (lock: HeldLock) => {
    // One topic for every lock: a loop that always overruns its ttl must not flood the log.
    this.#warn(
      'late-release',
      { lock: lock.name, fence: lock.fence, ttlMs: lock.ttlMs },
      '[redkit] lock released after its lease ran out: the critical section outlived the ttl (use a longer ttl or kit.lock.using())',
    );
  };

  readonly #countLost = (lock: HeldLock) => {
    this.#metrics.lost(lock.kind, lock.name);
  };

  #grant(backend: LockBackend, ref: LockRef, tok: string, fence: number, sentAt: number, ttlMs: number, started: number, handoff = false): HeldLock {
    const lock = new HeldLock(backend, ref, tok, fence, sentAt, ttlMs, this.#forgetHeld);
    lock.onNotHeld = this.#warnNotHeld;
    lock.onLost = this.#countLost;
    this.#metrics.acquired(ref.kind, ref.name, Date.now() - started, handoff);
    this.#held.add(lock);
    return lock;
  }

  #acquireOn(
    backend: LockBackend,
    ref: LockRef,
    ttlMs: number,
    waitMs: number,
    guardMs: number,
    options: LockOptions & { tokenPrefix?: string },
  ): Promise<Lock> {
    const tok = token(options.tokenPrefix);
    const started = Date.now();
    if (options.signal?.aborted) return Promise.reject(new LockBusyError(ref.name, 'aborted', 0, 0));
    // Fast path: one round trip when the lock is free or nobody waits.
    return backend.acquire(ref, tok, ttlMs, 0, guardMs).then(
      (reply) => {
        if (reply.status === 'granted') return this.#grant(backend, ref, tok, reply.fence, started, ttlMs, started);
        if (waitMs === 0) {
          this.#metrics.refused(ref.kind, ref.name, reply.status === 'guard' ? 'guard' : 'busy', Date.now() - started);
          throw new LockBusyError(ref.name, reply.status === 'guard' ? 'restart-guard' : 'busy', reply.retryMs, Date.now() - started);
        }
        return this.#wait(backend, ref, tok, ttlMs, waitMs, guardMs, options, started, reply);
      },
      (err: unknown) => {
        if (err instanceof RedisUnavailableError) {
          this.#metrics.refused(ref.kind, ref.name, 'unavailable', Date.now() - started);
          this.#forget(backend, ref, tok, ttlMs);
        }
        throw err;
      },
    );
  }

  /** Queues for a name that the first attempt found taken, until granted, `wait` ends or the caller aborts. */
  async #wait(
    backend: LockBackend,
    ref: LockRef,
    tok: string,
    ttlMs: number,
    waitMs: number,
    guardMs: number,
    options: LockOptions,
    started: number,
    first: AcquireReply,
  ): Promise<Lock> {
    const deadline = started + waitMs;
    const grant = (fence: number, sentAt: number, handoff = false) => this.#grant(backend, ref, tok, fence, sentAt, ttlMs, started, handoff);
    let reply = first;
    let sentAt: number;

    // Waiting: subscribe first so that no hand-off is missed, then queue and sleep until woken.
    const waiter = new AbortController();
    this.#waiting.add(waiter);
    let wake: (() => void) | null = null;
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    // A slot handed to us arrives with its fence. The hand-off happened after our first queueing
    // call was sent, so that send time is a safe start of the lease: take it without another
    // round trip while it leaves most of the TTL, else claim it (the acquire below restarts the lease).
    let handed: number | null = null;
    let queuedSentAt = 0;
    const unwatch = await backend.watch(ref, (t, fence) => {
      if (t !== tok) return;
      handed = fence;
      poke();
    });
    const unresync = backend.onResync(poke);
    const onAbort = () => poke();
    options.signal?.addEventListener('abort', onAbort);
    waiter.signal.addEventListener('abort', onAbort);
    let queued = false;
    try {
      for (;;) {
        const remaining = deadline - Date.now();
        if (handed !== null) {
          if (queuedSentAt > 0 && Date.now() - queuedSentAt < ttlMs / 2) return grant(handed, queuedSentAt, true);
          handed = null; // too late to trust the send time: the acquire below claims it
        }
        if (options.signal?.aborted || waiter.signal.aborted) throw new LockBusyError(ref.name, 'aborted', 0, Date.now() - started);
        // close() aborts the waiters it knows; one that queued while close() ran stops here.
        if (this.#closed) throw new ClosedError('kit.lock');
        if (remaining <= 0)
          throw new LockBusyError(ref.name, reply.status === 'guard' ? 'restart-guard' : 'busy', 'retryMs' in reply ? reply.retryMs : 0, Date.now() - started);
        sentAt = Date.now();
        reply = await backend.acquire(ref, tok, ttlMs, remaining, guardMs);
        if (reply.status === 'granted') return grant(reply.fence, sentAt);
        if (reply.status === 'queued' && !queued) {
          queued = true;
          queuedSentAt = sentAt;
        }
        if (handed !== null) continue;
        // Hand-offs arrive as wake-ups; the timed re-check covers a holder that died (its lease
        // runs out without a release) and a missed message.
        const sleepMs = Math.max(1, Math.min(reply.retryMs, deadline - Date.now()));
        await new Promise<void>((resolve) => {
          // Not unref'd: a caller awaiting a lock must keep the process alive (bounded by wait).
          const timer = setTimeout(() => {
            wake = null;
            resolve();
          }, sleepMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } catch (err) {
      this.#metrics.refused(ref.kind, ref.name, refusal(err), Date.now() - started);
      if (err instanceof RedisUnavailableError) this.#forget(backend, ref, tok, ttlMs);
      else if (queued) await backend.cancel(ref, tok).catch(() => undefined);
      throw err;
    } finally {
      wake = null;
      options.signal?.removeEventListener('abort', onAbort);
      this.#waiting.delete(waiter);
      unresync();
      unwatch();
    }
  }

  /**
   * After a timed-out call the script may still have run (a paused Redis answers later): the
   * slot would then belong to nobody until its TTL. Withdraw the token in the background, retrying
   * while Redis is away, for as long as such a slot could live.
   */
  #forget(backend: LockBackend, ref: LockRef, tok: string, ttlMs: number): void {
    const until = Date.now() + ttlMs;
    const attempt = () => {
      if (this.#closed || Date.now() > until) return;
      backend.cancel(ref, tok).catch(() => {
        setTimeout(attempt, 100).unref();
      });
    };
    attempt();
  }

  /** @internal `using` for any ref. */
  async usingRef<T>(ref: LockRef, fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    const lock = (await this.acquireRef(ref, options)) as HeldLock;
    const period = Math.max(1, Math.floor(lock.ttlMs / 3));
    let extending = false;
    const timer = setInterval(() => {
      if (extending || lock.signal.aborted) return;
      extending = true;
      // A failed extension for "not held" aborts the signal; an unreachable Redis is retried
      // next period until the local lease runs out, which aborts it too.
      lock
        .extend()
        .catch(() => undefined)
        .finally(() => {
          extending = false;
        });
    }, period);
    timer.unref();
    try {
      return await fn(lock.signal, lock);
    } finally {
      clearInterval(timer);
      await lock.release().catch(() => false);
    }
  }

  /** Releases every held lock (best effort, bounded by the command timeout) and stops waiters. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiting) w.abort();
    await Promise.all([...this.#held].map((lock) => lock.release().catch(() => false)));
    await this.#backend.close();
    await this.#local?.close();
  }
}

export { MemoryLockBackend } from './memory-lock.js';
export { RedisLockBackend } from './redis-lock.js';

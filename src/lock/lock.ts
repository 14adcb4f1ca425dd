import { randomBytes } from 'node:crypto';
import type { RedkitContext } from '../context.js';
import { ClosedError, InvalidArgumentError, LockBusyError, LockNotHeldError, RedisPermissionError, RedisUnavailableError } from '../errors.js';
import { toMs, type Duration } from '../duration.js';
import { assertName } from '../keys.js';
import { assertOptions } from '../options.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import type { AcquireReply, LockBackend, LockRef } from './backend.js';
import { MemoryLockBackend } from './memory-lock.js';
import { RedisLockBackend } from './redis-lock.js';
import { operationLabel, traced } from '../metrics/spans.js';
import { lockMetrics, type LockRefusal } from '../metrics/instruments.js';

/** The `redkit:operation` label of `kit.lock.acquire` (its scripts are labelled by the connection). */
const LOCK_ACQUIRE = operationLabel('lock', 'acquire');

export type { LockBackend, LockRef, AcquireReply, HolderInfo } from './backend.js';

/** Default lease of a lock when `ttl` is not given (ms). */
export const DEFAULT_LOCK_TTL_MS = 10_000;

/**
 * The clock-drift margin (ms) subtracted from a lease before this process stops trusting it:
 * 1 % of the TTL plus 2 ms, the figure the Redis distributed-lock page uses.
 */
export function driftMarginMs(ttlMs: number): number {
  return Math.ceil(ttlMs * 0.01) + 2;
}

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

/** A held lock (or semaphore slot). */
export interface Lock {
  /** The lock's name. */
  readonly name: string;
  /** Strictly increasing for every grant of this name, across restarts of Redis: pass it to the resource you protect. */
  readonly fence: number;
  /** Local time (ms since epoch) after which this holder no longer trusts the lease (drift margin applied). */
  readonly expiresAt: number;
  /** Fires when the lock is lost: its lease ran out, an extension failed, or it was released. */
  readonly signal: AbortSignal;
  /** True when granted by the in-process fallback: it excludes this process only. */
  readonly local: boolean;
  /** True while the lease is valid by the local clock; checking it revokes a lease that ran out (even after a pause). */
  readonly held: boolean;
  /** Extends the lease to `ttl` (ms or a duration string) from now (default: the acquire ttl). @throws LockNotHeldError, RedisUnavailableError */
  extend(ttl?: Duration): Promise<void>;
  /**
   * Releases the lock; resolves false (and changes nothing) when it was no longer held.
   * @throws RedisUnavailableError at once while Redis is unreachable: the lock is dropped locally and its lease runs out on Redis.
   */
  release(): Promise<boolean>;
}

/** Known keys of LockOptions (and the internal tokenPrefix of leader leases), for assertOptions. */
const LOCK_OPTION_KEYS = ['ttl', 'wait', 'signal', 'fallback', 'restartGuard', 'tokenPrefix'] as const;

function assertMs(value: unknown, argument: string, allowZero: boolean): number {
  // A duration string carries its unit; a number is ms and keeps the checks (and rounding) below.
  if (typeof value === 'string') value = toMs(value, argument);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidArgumentError(argument, `${argument} must be a finite number of milliseconds ${allowZero ? '≥ 0' : '> 0'} (got ${String(value)})`);
  }
  return Math.ceil(value);
}

// Tokens only have to be unique: a random per-process part and a counter (no syscall per lock).
const PROCESS_TOKEN = randomBytes(12).toString('base64url');
let tokenCounter = 0;
function token(prefix = ''): string {
  return `${prefix}${PROCESS_TOKEN}.${(tokenCounter++).toString(36)}`;
}

// The abort reason of a released lock is an expected outcome on a hot path: built without a stack trace.
function releasedReason(name: string): LockNotHeldError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new LockNotHeldError(name, 'it was released');
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** How a waited acquire ended without a grant, for metrics: its wait ran out, was aborted, or Redis failed. */
function refusal(err: unknown): LockRefusal {
  if (err instanceof LockBusyError) return err.reason === 'busy' ? 'timeout' : err.reason === 'restart-guard' ? 'guard' : 'aborted';
  return err instanceof RedisUnavailableError ? 'unavailable' : 'aborted';
}

class HeldLock implements Lock {
  readonly name: string;
  readonly local: boolean;
  #fence: number;
  #expiresAt: number;
  #ttlMs: number;
  // The signal, its timer and the abort reason are made only once someone asks for the signal:
  // most locks are released without it, and an AbortController per lock was a fifth of the
  // process's time in bench/lock. `held` and `#lost` keep the state without them.
  #controller: AbortController | null = null;
  #lost = false;
  #lostReason: unknown = undefined;
  readonly #backend: LockBackend;
  readonly #ref: LockRef;
  readonly #token: string;
  readonly #onDone: (lock: HeldLock) => void;
  #timer: NodeJS.Timeout | null = null;
  #released = false;
  /** @internal Called when release() finds the lock no longer held. */
  onNotHeld: ((lock: HeldLock) => void) | null = null;
  /** @internal Called once when the lease is lost (not released). */
  onLost: ((lock: HeldLock) => void) | null = null;

  constructor(backend: LockBackend, ref: LockRef, tok: string, fence: number, sentAt: number, ttlMs: number, onDone: (lock: HeldLock) => void) {
    this.name = ref.name;
    this.local = false;
    this.#backend = backend;
    this.#ref = ref;
    this.#token = tok;
    this.#fence = fence;
    this.#ttlMs = ttlMs;
    this.#onDone = onDone;
    this.#expiresAt = sentAt + ttlMs - driftMarginMs(ttlMs);
  }

  /** @internal */
  markLocal(): this {
    (this as { local: boolean }).local = true;
    return this;
  }

  /** @internal What was acquired (`lock`, `sem` or `leader`), for metrics. */
  get kind(): LockRef['kind'] {
    return this.#ref.kind;
  }
  get fence(): number {
    return this.#fence;
  }
  get expiresAt(): number {
    return this.#expiresAt;
  }
  get token(): string {
    return this.#token;
  }
  get ttlMs(): number {
    return this.#ttlMs;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#lost) this.#controller.abort(this.#reason());
      else if (this.held) this.#arm();
    }
    return this.#controller.signal;
  }

  get held(): boolean {
    if (this.#lost) return false;
    if (Date.now() >= this.#expiresAt) {
      this.lose(new LockNotHeldError(this.name, 'its lease ran out'));
      return false;
    }
    return true;
  }

  // The lease is distrusted locally at expiresAt: the timer makes that an abort event.
  #arm(): void {
    if (!this.#controller) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => {
        void this.held;
      },
      Math.max(0, this.#expiresAt - Date.now()),
    );
    this.#timer.unref();
  }

  #reason(): unknown {
    this.#lostReason ??= releasedReason(this.name);
    return this.#lostReason;
  }

  /** @internal Marks the lock lost and fires the signal; no reason: it was released. */
  lose(reason?: unknown): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#lost) {
      this.#lost = true;
      this.#lostReason = reason;
      this.#controller?.abort(this.#reason());
      if (reason !== undefined) this.onLost?.(this);
    }
    this.#onDone(this);
  }

  async extend(ttl?: Duration): Promise<void> {
    const ttlMs = ttl === undefined ? this.#ttlMs : assertMs(ttl, 'ttl', false);
    if (this.#released) throw new LockNotHeldError(this.name, 'it was released');
    if (!this.held) throw new LockNotHeldError(this.name, 'its lease ran out');
    const sentAt = Date.now();
    const fence = await this.#backend.extend(this.#ref, this.#token, ttlMs);
    if (fence === null) {
      const err = new LockNotHeldError(this.name);
      this.lose(err);
      throw err;
    }
    if (this.#lost) throw new LockNotHeldError(this.name, 'its lease ran out while extending');
    this.#ttlMs = ttlMs;
    this.#expiresAt = sentAt + ttlMs - driftMarginMs(ttlMs);
    this.#arm();
  }

  release(): Promise<boolean> {
    if (this.#released) return Promise.resolve(false);
    this.#released = true;
    const wasValid = this.held;
    this.lose();
    return this.#backend.release(this.#ref, this.#token).then((released) => {
      // The critical section outlived the lease: worth a line in the log, not an exception.
      if (!released || !wasValid) this.onNotHeld?.(this);
      return released && wasValid;
    });
  }
}

/** A counting semaphore: at most `limit` holders at once, with the lock API. */
export class Semaphore {
  readonly name: string;
  readonly limit: number;
  readonly #manager: LockManager;

  /** Use `kit.lock.semaphore(name, limit)`. */
  constructor(manager: LockManager, name: string, limit: number) {
    this.#manager = manager;
    this.name = name;
    this.limit = limit;
  }

  /** Takes one of the `limit` slots; options as for `kit.lock.acquire`. */
  acquire(options: LockOptions = {}): Promise<Lock> {
    return this.#manager.acquireRef({ kind: 'sem', name: this.name, limit: this.limit }, options);
  }

  /** Runs `fn` holding a slot (extended automatically, always released). */
  using<T>(fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    return this.#manager.usingRef({ kind: 'sem', name: this.name, limit: this.limit }, fn, options);
  }

  /** How many slots are held now. */
  async count(): Promise<number> {
    return (await this.#manager.holdersOf({ kind: 'sem', name: this.name, limit: this.limit })).length;
  }
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

// A granted lease (HeldLock) and its local-clock bookkeeping, separate from LockManager's acquire and wait logic.
import { InvalidArgumentError, LockNotHeldError } from '../errors.js';
import { toMs, type Duration } from '../duration.js';
import type { LockBackend, LockRef } from './backend.js';

/**
 * The clock-drift margin (ms) subtracted from a lease before this process stops trusting it:
 * 1 % of the TTL plus 2 ms, the figure the Redis distributed-lock page uses.
 */
export function driftMarginMs(ttlMs: number): number {
  return Math.ceil(ttlMs * 0.01) + 2;
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

/** @internal Validates a duration option (ms or a duration string) and rounds it up to whole ms. */
export function assertMs(value: unknown, argument: string, allowZero: boolean): number {
  // A duration string carries its unit; a number is ms and keeps the checks (and rounding) below.
  if (typeof value === 'string') value = toMs(value, argument);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidArgumentError(argument, `${argument} must be a finite number of milliseconds ${allowZero ? '≥ 0' : '> 0'} (got ${String(value)})`);
  }
  return Math.ceil(value);
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

/** @internal The Lock handed out by LockManager: tracks the lease locally and fires `signal` when it is lost. */
export class HeldLock implements Lock {
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

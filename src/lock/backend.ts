/**
 * The interface the Redis and the in-memory lock stores implement. Both speak the same
 * protocol: a FIFO queue of waiters per name, slots handed to the oldest waiter on release, and
 * a wake-up to that waiter; the waiting itself lives once, in LockManager.
 */

/** Which lock a call is about: a lock (`limit` 1) or a semaphore, by user name. */
export interface LockRef {
  /** The user's name, for errors. */
  readonly name: string;
  /** Namespace inside the capability: `lock`, `sem` or `leader`. */
  readonly kind: 'lock' | 'sem' | 'leader';
  /** Slots: 1 for locks and leaders. */
  readonly limit: number;
}

/** What one acquire attempt got. `retryMs` says when to look again at the latest. */
export type AcquireReply = { status: 'granted'; fence: number } | { status: 'busy' | 'queued' | 'guard'; retryMs: number };

/** A live holder of a name. */
export interface HolderInfo {
  token: string;
  fence: number;
  remainingMs: number;
}

/** A lock store: Redis (shared by every instance) or memory (this process). */
export interface LockBackend {
  readonly kind: 'redis' | 'memory';
  /** One attempt; queues `token` as a waiter when `waitMs` > 0 and the slots are taken. */
  acquire(ref: LockRef, token: string, ttlMs: number, waitMs: number, guardMs: number): Promise<AcquireReply>;
  /** Frees the token's slot and hands it on; false when the token held nothing (nothing is deleted then). */
  release(ref: LockRef, token: string): Promise<boolean>;
  /** Extends a live slot to `ttlMs` from now; returns its fence, or null when no longer held. */
  extend(ref: LockRef, token: string, ttlMs: number): Promise<number | null>;
  /** Withdraws a waiter; a slot handed to it meanwhile is released and passed on. */
  cancel(ref: LockRef, token: string): Promise<void>;
  /** The live holders, oldest grant first. */
  holders(ref: LockRef): Promise<HolderInfo[]>;
  /**
   * Calls `onWake(token, fence)` whenever a slot of `ref` is handed to a waiter. Resolves once
   * wake-ups are live (or after a bound: the waiter's timed re-check covers the gap). Returns a remover.
   */
  watch(ref: LockRef, onWake: (token: string, fence: number) => void): Promise<() => void>;
  /** Runs `fn` when wake-ups may have been missed (subscriber reconnected). Returns a remover. */
  onResync(fn: () => void): () => void;
  /** Stops timers and subscriptions. */
  close(): Promise<void>;
}

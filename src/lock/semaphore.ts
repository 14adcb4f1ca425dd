// The counting Semaphore facade over LockManager, separate because it only forwards to the manager's ref-based API.
import type { Lock } from './held-lock.js';
import type { LockManager, LockOptions } from './lock.js';

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

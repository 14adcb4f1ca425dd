import { TokenBucket } from './protocol.js';

/** What the flood guard decides about one incoming frame. */
export type FloodVerdict = 'accept' | 'reject' | 'close';

/**
 * A connection's rate limit plus the rule that closes a flooding connection. Frames beyond the
 * token bucket are rejected; a *flood episode* starts at the first rejection and ends only when
 * the bucket has refilled completely (the client paused long enough to pay its debt). A
 * connection is closed when one episode lasts `graceMs` or collects `maxRejected` rejections:
 * so any sustained rate above the limit is closed (the bucket never refills), even one that
 * has every 50th frame accepted, while a client that bursts once and then slows down is not.
 */
export class FloodGuard {
  readonly #bucket: TokenBucket;
  readonly #burst: number;
  readonly #graceMs: number;
  readonly #maxRejected: number;
  #since: number | null = null;
  #rejected = 0;

  constructor(perSecond: number, burst: number, graceMs: number, maxRejected: number, now = performance.now()) {
    this.#bucket = new TokenBucket(perSecond, burst, now);
    this.#burst = burst;
    this.#graceMs = graceMs;
    this.#maxRejected = maxRejected;
  }

  /** Judges one frame arriving at `now` (ms, performance.now()). */
  check(now = performance.now()): FloodVerdict {
    if (this.#bucket.take(now)) {
      // Full again before this frame: the episode is over.
      if (this.#since !== null && this.#bucket.tokens >= this.#burst - 1) {
        this.#since = null;
        this.#rejected = 0;
      }
      return 'accept';
    }
    this.#since ??= now;
    this.#rejected++;
    return now - this.#since >= this.#graceMs || this.#rejected >= this.#maxRejected ? 'close' : 'reject';
  }
}

/**
 * Accepted frames wait here and are handled round-robin across connections, at most `perTurn`
 * per event-loop turn (the rest after `setImmediate`). Many connections using their burst at
 * once then cannot hold the loop: other sockets' reads, timers and Redis replies run between
 * turns, and a quiet connection's frame is handled after at most one frame of each busy one.
 */
export class FairQueue<C extends object, M> {
  readonly #perTurn: number;
  readonly #handle: (conn: C, message: M) => void;
  readonly #inbox = new Map<C, M[]>();
  #scheduled: NodeJS.Immediate | null = null;

  constructor(perTurn: number, handle: (conn: C, message: M) => void) {
    this.#perTurn = perTurn;
    this.#handle = handle;
  }

  push(conn: C, message: M): void {
    const queue = this.#inbox.get(conn);
    if (queue) queue.push(message);
    else this.#inbox.set(conn, [message]);
    this.#scheduled ??= setImmediate(() => this.#drain());
  }

  /** Forgets a connection's waiting frames (it closed). */
  drop(conn: C): void {
    this.#inbox.delete(conn);
  }

  /** Frames waiting, across connections. */
  get size(): number {
    let n = 0;
    for (const q of this.#inbox.values()) n += q.length;
    return n;
  }

  /** Stops the pending turn and forgets everything. */
  clear(): void {
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    this.#inbox.clear();
  }

  #drain(): void {
    this.#scheduled = null;
    let budget = this.#perTurn;
    while (budget > 0 && this.#inbox.size > 0) {
      // One frame per connection per round; a Map iterates in insertion order, so a connection
      // that still has frames is moved to the back.
      for (const [conn, queue] of this.#inbox) {
        if (budget-- <= 0) break;
        const message = queue.shift()!;
        this.#inbox.delete(conn);
        if (queue.length > 0) this.#inbox.set(conn, queue);
        try {
          this.#handle(conn, message);
        } catch {
          // A handler must not throw (the gateway's does not); one that does must not stall the rest.
        }
      }
    }
    if (this.#inbox.size > 0) this.#scheduled = setImmediate(() => this.#drain());
  }
}

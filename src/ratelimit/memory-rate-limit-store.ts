import { LRUCache } from 'lru-cache';
import { assertOptions } from '../options.js';
import type { RateLimitDecision, RateLimitPolicy, RateLimitStore } from './types.js';

/** Options of the in-memory store. */
export interface MemoryRateLimitStoreOptions {
  /** Clock in ms; default `Date.now` (tests inject one). */
  now?: () => number;
  /** Most keys kept; past it the least recently used key is dropped. Default 100 000 (index allocated up front). */
  maxKeys?: number;
  /** Period of the sweep of expired keys in ms; default 30 000. */
  sweepMs?: number;
}

interface FixedEntry {
  kind: 'fixed-window';
  used: number;
  reset: number;
  blocked: number;
  expiresAt: number;
}
interface SlidingEntry {
  kind: 'sliding-window';
  log: Array<[at: number, cost: number]>;
  used: number;
  blocked: number;
  expiresAt: number;
}
interface BucketEntry {
  kind: 'token-bucket';
  tokens: number;
  ts: number;
  blocked: number;
  expiresAt: number;
}
type Entry = FixedEntry | SlidingEntry | BucketEntry;

/**
 * The in-memory store: standalone mode, and the per-instance limiter while Redis is down.
 * It mirrors the Lua scripts line for line so that both count the same way (the contract suite
 * runs the same tests on both).
 */
export class MemoryRateLimitStore implements RateLimitStore {
  // lru-cache, not a Map: a full Map swept all its keys on every new key and evicted with
  // keys().next() (7 ms per new key at 100 000 keys: a client rotating keys stalled everyone).
  #entries: LRUCache<string, Entry>;
  #now: () => number;
  #sweep: NodeJS.Timeout;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    assertOptions(options, ['now', 'maxKeys', 'sweepMs'], 'MemoryRateLimitStore options');
    this.#now = options.now ?? Date.now;
    this.#entries = new LRUCache<string, Entry>({ max: Math.max(1, options.maxKeys ?? 100_000) });
    this.#sweep = setInterval(() => this.sweep(), options.sweepMs ?? 30_000);
    this.#sweep.unref();
  }

  /** Number of keys held (expired ones included until swept). */
  get size(): number {
    return this.#entries.size;
  }

  async consume(key: string, policy: RateLimitPolicy, cost: number, peek: boolean): Promise<RateLimitDecision> {
    const id = `${policy.algorithm}\u0000${key}`;
    const now = this.#now();
    let entry = this.#entries.get(id);
    if (entry && entry.expiresAt <= now) {
      this.#entries.delete(id);
      entry = undefined;
    }
    if (entry && entry.blocked > now) {
      return { allowed: false, remaining: 0, resetMs: entry.blocked - now, retryAfterMs: entry.blocked - now };
    }
    switch (policy.algorithm) {
      case 'fixed-window':
        return this.#fixed(id, entry as FixedEntry | undefined, policy, cost, peek, now);
      case 'sliding-window':
        return this.#sliding(id, entry as SlidingEntry | undefined, policy, cost, peek, now);
      case 'token-bucket':
        return this.#bucket(id, entry as BucketEntry | undefined, policy, cost, peek, now);
    }
  }

  async reset(key: string, policy: RateLimitPolicy): Promise<void> {
    this.#entries.delete(`${policy.algorithm}\u0000${key}`);
  }

  /** Forgets every key (the local limiter starts afresh after each outage). */
  clear(): void {
    this.#entries.clear();
  }

  /** Drops expired keys; runs on a timer (a full store drops its least recently used key instead). */
  sweep(): void {
    const now = this.#now();
    const expired: string[] = [];
    for (const [id, entry] of this.#entries.entries()) if (entry.expiresAt <= now) expired.push(id);
    for (const id of expired) this.#entries.delete(id);
  }

  /** Stops the sweep timer and forgets every key. */
  close(): void {
    clearInterval(this.#sweep);
    this.#entries.clear();
  }

  #block(id: string, policy: RateLimitPolicy, now: number): RateLimitDecision {
    const entry: FixedEntry = { kind: 'fixed-window', used: 0, reset: 0, blocked: now + policy.blockMs, expiresAt: now + policy.blockMs };
    this.#set(id, entry);
    return { allowed: false, remaining: 0, resetMs: policy.blockMs, retryAfterMs: policy.blockMs };
  }

  #fixed(id: string, entry: FixedEntry | undefined, policy: RateLimitPolicy, cost: number, peek: boolean, now: number): RateLimitDecision {
    const { limit, windowMs } = policy;
    let used = entry?.kind === 'fixed-window' ? entry.used : 0;
    let reset = entry?.kind === 'fixed-window' ? entry.reset : 0;
    if (reset <= now) {
      used = 0;
      reset = now + windowMs;
    }
    if (used + cost <= limit) {
      if (!peek) {
        used += cost;
        this.#set(id, { kind: 'fixed-window', used, reset, blocked: 0, expiresAt: reset });
      }
      return { allowed: true, remaining: limit - used, resetMs: reset - now, retryAfterMs: 0 };
    }
    if (policy.blockMs > 0 && !peek) return this.#block(id, policy, now);
    return { allowed: false, remaining: limit - used, resetMs: reset - now, retryAfterMs: reset - now };
  }

  #sliding(id: string, entry: SlidingEntry | undefined, policy: RateLimitPolicy, cost: number, peek: boolean, now: number): RateLimitDecision {
    const { limit, windowMs } = policy;
    const log = entry?.kind === 'sliding-window' ? entry.log : [];
    let used = entry?.kind === 'sliding-window' ? entry.used : 0;
    const edge = now - windowMs;
    let gone = 0;
    while (gone < log.length && log[gone]![0] <= edge) used -= log[gone++]![1];
    if (gone > 0) log.splice(0, gone);
    if (log.length === 0) used = 0;
    else if (gone > 0 && entry) entry.used = used;
    const newest = log.length > 0 ? log[log.length - 1]![0] : undefined;
    if (used + cost <= limit) {
      if (peek) return { allowed: true, remaining: limit - used, resetMs: newest === undefined ? 0 : newest + windowMs - now, retryAfterMs: 0 };
      log.push([now, cost]);
      used += cost;
      this.#set(id, { kind: 'sliding-window', log, used, blocked: 0, expiresAt: now + windowMs });
      return { allowed: true, remaining: limit - used, resetMs: windowMs, retryAfterMs: 0 };
    }
    if (policy.blockMs > 0 && !peek) return this.#block(id, policy, now);
    let retry = windowMs;
    let freed = 0;
    for (const [at, c] of log) {
      freed += c;
      if (used - freed + cost <= limit) {
        retry = at + windowMs - now;
        break;
      }
    }
    return { allowed: false, remaining: limit - used, resetMs: newest! + windowMs - now, retryAfterMs: retry };
  }

  #bucket(id: string, entry: BucketEntry | undefined, policy: RateLimitPolicy, cost: number, peek: boolean, now: number): RateLimitDecision {
    const { limit, windowMs } = policy;
    let tokens = entry?.kind === 'token-bucket' ? entry.tokens : limit;
    let ts = entry?.kind === 'token-bucket' ? entry.ts : now;
    if (now > ts) {
      tokens = Math.min(limit, tokens + ((now - ts) * limit) / windowMs);
      ts = now;
    }
    if (tokens >= cost) {
      if (!peek) {
        tokens -= cost;
        this.#set(id, { kind: 'token-bucket', tokens, ts, blocked: 0, expiresAt: now + Math.ceil(((limit - tokens) * windowMs) / limit) + 1 });
      }
      return { allowed: true, remaining: Math.floor(tokens), resetMs: Math.ceil(((limit - tokens) * windowMs) / limit), retryAfterMs: 0 };
    }
    if (policy.blockMs > 0 && !peek) return this.#block(id, policy, now);
    return {
      allowed: false,
      remaining: Math.floor(tokens),
      resetMs: Math.ceil(((limit - tokens) * windowMs) / limit),
      retryAfterMs: Math.ceil(((cost - tokens) * windowMs) / limit),
    };
  }

  #set(id: string, entry: Entry): void {
    // Full: lru-cache drops the least recently used key rather than grow without bound.
    this.#entries.set(id, entry);
  }
}

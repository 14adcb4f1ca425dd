import { LRUCache } from 'lru-cache';
import type { RedkitContext } from '../context.js';
import { ClosedError, RedisUnavailableError } from '../errors.js';
import { rateLimitedLog, type RateLimitedLogFn } from '../rate-limited-log.js';
import { MemoryRateLimitStore } from './memory-rate-limit-store.js';
import { RedisRateLimitStore } from './redis-rate-limit-store.js';
import { rateLimitMetrics } from '../metrics/instruments.js';
import type { DecidedBy, RateLimitDecision, RateLimitPolicy, RateLimitResult, RedisDownPolicy } from './types.js';

/**
 * Heartbeat period of the live-instance set in ms; an instance silent for 3 periods is gone.
 * 20 s costs 3 commands a minute (5 s cost 12, bench/idle.ts): a new instance still counts at
 * once (it beats at start and on every reconnect), and a dead one counted for up to a minute
 * only makes the others' fallback shares smaller, the safe side.
 */
export const HEARTBEAT_MS = 20_000;

/** Most keys remembered as full in Redis (see `#full`); lru-cache allocates its index for this many up front. */
const MAX_FULL_KEYS = 10_000;

/**
 * One per toolkit, shared by every limiter and the throttler storage: picks the store, and is
 * the one place where a Redis failure turns into the `onRedisDown` policy. Keeps the
 * live-instance count fresh with a cheap heartbeat while Redis is up, so that the local
 * fallback can share each limit out among the instances.
 */
export class RateLimitService {
  #ctx: RedkitContext;
  readonly #metrics: ReturnType<typeof rateLimitMetrics>;
  #standalone: boolean;
  #memory: MemoryRateLimitStore | null = null;
  #redis: RedisRateLimitStore | null = null;
  #local: MemoryRateLimitStore | null = null;
  #live = 1;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #warn: RateLimitedLogFn;
  /**
   * Keys Redis last said were full, and until when (local clock): when Redis goes away, the
   * local limiter keeps refusing them instead of granting a fresh share. Written only on a
   * full or refused answer; an LRU of MAX_FULL_KEYS (a Map evicting its first key slows to
   * O(n) per insert once full, the cliff bench/cache.ts shows for the old cache LRU).
   */
  readonly #full = new LRUCache<string, number>({ max: MAX_FULL_KEYS });
  #onConnected = () => {
    // Shared counting resumes: the next outage starts from a clean local slate.
    this.#local?.clear();
    this.#full.clear();
    void this.refreshLiveInstances();
  };

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#metrics = rateLimitMetrics(ctx.metrics);
    this.#standalone = ctx.config.mode === 'standalone';
    // One line per kind of refusal per minute: a full Redis refuses every request.
    this.#warn = rateLimitedLog(ctx.logger, 'warn');
    if (this.#standalone) {
      this.#memory = new MemoryRateLimitStore();
    } else {
      this.#redis = new RedisRateLimitStore(ctx);
      this.#local = new MemoryRateLimitStore();
      ctx.connection.on('connected', this.#onConnected);
      this.#timer = setInterval(() => void this.refreshLiveInstances(), HEARTBEAT_MS);
      this.#timer.unref();
      void this.refreshLiveInstances();
    }
    ctx.onClose(() => this.close());
  }

  /** Live instances sharing the limits, as last seen in Redis (1 until first seen, and in standalone mode). */
  get liveInstances(): number {
    return this.#live;
  }

  /** Heartbeats now and returns the live-instance count (the last known one when Redis is down). */
  async refreshLiveInstances(): Promise<number> {
    if (!this.#redis || this.#closed || !this.#ctx.connection.isReady) return this.#live;
    try {
      this.#live = Math.max(1, await this.#redis.heartbeat(this.#ctx.instanceId, HEARTBEAT_MS * 3));
    } catch {
      // Redis went away between the check and the call: keep the last count for the fallback.
    }
    return this.#live;
  }

  /**
   * Decides under `policy`. Never throws for Redis: down, stalled, or refusing the command (OOM
   * under `noeviction`, NOPERM, READONLY, LOADING, BUSY…), the `onRedisDown` policy decides.
   */
  decide(key: string, policy: RateLimitPolicy, cost: number, peek: boolean, onRedisDown: RedisDownPolicy, expectedInstances = 1): Promise<RateLimitResult> {
    if (this.#closed) return Promise.reject(new ClosedError('the rate limiter'));
    // Hand-written .then chains, no spreads: this is the per-request hot path.
    if (this.#memory) return this.#memory.consume(key, policy, cost, peek).then((d) => this.#decided(result(d, policy.limit, 'memory'), key, peek));
    return this.#redis!.consume(key, policy, cost, peek).then(
      (d) => {
        if ((!d.allowed || d.remaining === 0) && onRedisDown === 'local' && !peek) this.#rememberFull(key, policy, d);
        return this.#decided(result(d, policy.limit, 'redis'), key, peek);
      },
      (err: unknown) => {
        // Connection trouble is logged by the connection; a refusal by a live Redis only here.
        if (isRefusal(err)) this.#refused(err, onRedisDown);
        return this.#fallback(key, policy, cost, peek, onRedisDown, expectedInstances).then((r) => this.#decided(r, key, peek));
      },
    );
  }

  /** Counts a decision (a peek decides nothing) inside the reaction that returns it: no promise more. */
  #decided(r: RateLimitResult, key: string, peek: boolean): RateLimitResult {
    if (!peek) this.#metrics.decided(key, r.allowed, r.decidedBy, r.retryAfterMs);
    return r;
  }

  #rememberFull(key: string, policy: RateLimitPolicy, d: RateLimitDecision): void {
    // A refusal knows when the key frees up; a full admit only when the window resets (an upper bound).
    const untilMs = d.allowed ? Math.min(d.resetMs, policy.windowMs) : d.retryAfterMs;
    if (untilMs <= 0) return;
    this.#full.set(`${policy.algorithm}\u0000${key}`, Date.now() + untilMs);
  }

  async #fallback(
    key: string,
    policy: RateLimitPolicy,
    cost: number,
    peek: boolean,
    onRedisDown: RedisDownPolicy,
    expectedInstances: number,
  ): Promise<RateLimitResult> {
    if (onRedisDown === 'allow') {
      return { allowed: true, limit: policy.limit, remaining: policy.limit - (peek ? 0 : cost), resetMs: 0, retryAfterMs: 0, decidedBy: 'policy' };
    }
    if (onRedisDown === 'deny') {
      // Retry after a second (or the window, if shorter): Redis is usually back soon, and the client should not wait a whole window for it.
      const retry = Math.min(policy.windowMs, 1000);
      return { allowed: false, limit: policy.limit, remaining: 0, resetMs: retry, retryAfterMs: retry, decidedBy: 'policy' };
    }
    // This instance's share of the limit, so that all live instances together stay near it.
    // Booted while Redis was down, no count was ever seen: expectedInstances bounds the total.
    const limit = Math.max(1, Math.floor(policy.limit / Math.max(this.#live, expectedInstances)));
    const id = `${policy.algorithm}\u0000${key}`;
    const fullUntil = this.#full.get(id);
    if (fullUntil !== undefined) {
      const waitMs = fullUntil - Date.now();
      // Redis had this key full when it went away: no fresh local share before that ends.
      if (waitMs > 0) return { allowed: false, limit, remaining: 0, resetMs: waitMs, retryAfterMs: waitMs, decidedBy: 'local' };
      this.#full.delete(id);
    }
    const share = { ...policy, limit };
    if (cost > limit) {
      return { allowed: false, limit, remaining: 0, resetMs: 0, retryAfterMs: Math.min(policy.windowMs, 1000), decidedBy: 'local' };
    }
    return result(await this.#local!.consume(key, share, cost, peek), limit, 'local');
  }

  /** A live Redis refused the script: log it (rate-limited, per error code) with the fix. */
  #refused(err: unknown, onRedisDown: RedisDownPolicy): void {
    const code = replyCode(err);
    this.#warn(
      `refused:${code}`,
      { code, err: String((err as Error)?.message ?? err), onRedisDown },
      `[redkit] rate limiter: Redis refused the command (${code}); deciding by onRedisDown="${onRedisDown}" until it accepts again — ${REFUSAL_HINTS[code] ?? 'see the error above'}`,
    );
  }

  /**
   * Forgets a key everywhere this instance can reach (Redis when up, and the local store).
   * @throws RedisUnavailableError when Redis is down or refuses the delete (the local copy is forgotten anyway).
   */
  async reset(key: string, policy: RateLimitPolicy): Promise<void> {
    if (this.#closed) throw new ClosedError('the rate limiter');
    if (this.#memory) return this.#memory.reset(key, policy);
    await this.#local!.reset(key, policy);
    try {
      await this.#redis!.reset(key, policy);
    } catch (err) {
      if (err instanceof RedisUnavailableError) throw err;
      const code = replyCode(err);
      throw new RedisUnavailableError(
        `Redis refused to reset a rate-limit key (${code}): ${REFUSAL_HINTS[code] ?? String((err as Error)?.message ?? err)}`,
        code,
        { cause: err },
      );
    }
  }

  /** Stops the heartbeat, leaves the live-instance set (best effort), frees memory. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#ctx.connection.off('connected', this.#onConnected);
    this.#memory?.close();
    this.#local?.close();
    if (this.#redis && this.#ctx.connection.isReady) {
      await this.#redis.heartbeat(this.#ctx.instanceId, HEARTBEAT_MS * 3, true).catch(() => undefined);
    }
  }
}

/** What to change for each refusal a live Redis can give the rate-limit scripts. */
const REFUSAL_HINTS: Record<string, string> = {
  OOM: 'Redis is at maxmemory with a noeviction policy: raise maxmemory, free memory, or pick a volatile-* eviction policy',
  NOPERM: 'the ACL user may not run EVALSHA/EVAL on the rate-limit keys: grant +@scripting on the key prefix',
  READONLY: 'Redis is a read-only replica: point REDIS_URL at the primary',
  LOADING: 'Redis is loading its dataset after a restart: it answers again when loading ends',
  BUSY: 'Redis is running a long script: it answers again when the script ends (or after SCRIPT KILL)',
  MASTERDOWN: 'the replica lost its primary: point REDIS_URL at the primary',
};

/** A live Redis refused the call (reply errors mapped by the connection, or raw ones): not an outage. */
function isRefusal(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return err.reason in REFUSAL_HINTS;
  return true;
}

/** The error code of a Redis reply error (`OOM`, `NOPERM`, …), or the error's code / name. */
function replyCode(err: unknown): string {
  if (err instanceof RedisUnavailableError && err.reason in REFUSAL_HINTS) return err.reason;
  const e = err as { message?: unknown; code?: unknown; name?: unknown } | undefined;
  const first = /^([A-Z][A-Z_]+)\b/.exec(String(e?.message ?? ''))?.[1];
  if (first) return first;
  return typeof e?.code === 'string' ? e.code : String(e?.name ?? 'UNKNOWN');
}

function result(d: RateLimitDecision, limit: number, decidedBy: DecidedBy): RateLimitResult {
  return { allowed: d.allowed, limit, remaining: d.remaining, resetMs: d.resetMs, retryAfterMs: d.retryAfterMs, decidedBy };
}

const services = new WeakMap<RedkitContext, RateLimitService>();

/** The toolkit's rate-limit service, created on first use (one heartbeat per toolkit, not per limiter). */
export function rateLimitService(ctx: RedkitContext): RateLimitService {
  let service = services.get(ctx);
  if (!service) {
    service = new RateLimitService(ctx);
    services.set(ctx, service);
  }
  return service;
}

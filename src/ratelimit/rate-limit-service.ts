import type { RedkitContext } from '../context.js';
import { ClosedError, RedisUnavailableError } from '../errors.js';
import { MemoryRateLimitStore } from './memory-rate-limit-store.js';
import { RedisRateLimitStore } from './redis-rate-limit-store.js';
import type { DecidedBy, RateLimitDecision, RateLimitPolicy, RateLimitResult, RedisDownPolicy } from './types.js';

/** Heartbeat period of the live-instance set in ms; an instance silent for 3 periods is gone. */
export const HEARTBEAT_MS = 5000;

/**
 * One per toolkit, shared by every limiter and the throttler storage: picks the store, and is
 * the one place where a Redis failure turns into the `onRedisDown` policy. Keeps the
 * live-instance count fresh with a cheap heartbeat while Redis is up, so that the local
 * fallback can share each limit out among the instances.
 */
export class RateLimitService {
  #ctx: RedkitContext;
  #standalone: boolean;
  #memory: MemoryRateLimitStore | null = null;
  #redis: RedisRateLimitStore | null = null;
  #local: MemoryRateLimitStore | null = null;
  #live = 1;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #onConnected = () => {
    // Shared counting resumes: the next outage starts from a clean local slate.
    this.#local?.clear();
    void this.refreshLiveInstances();
  };

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#standalone = ctx.config.mode === 'standalone';
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

  /** Decides under `policy`; never throws for Redis being down (the `onRedisDown` policy decides). */
  decide(key: string, policy: RateLimitPolicy, cost: number, peek: boolean, onRedisDown: RedisDownPolicy): Promise<RateLimitResult> {
    if (this.#closed) return Promise.reject(new ClosedError('the rate limiter'));
    // Hand-written .then chains, no spreads: this is the per-request hot path.
    if (this.#memory) return this.#memory.consume(key, policy, cost, peek).then((d) => result(d, policy.limit, 'memory'));
    return this.#redis!.consume(key, policy, cost, peek).then(
      (d) => result(d, policy.limit, 'redis'),
      (err: unknown) => {
        if (!(err instanceof RedisUnavailableError)) throw err;
        return this.#fallback(key, policy, cost, peek, onRedisDown);
      },
    );
  }

  async #fallback(key: string, policy: RateLimitPolicy, cost: number, peek: boolean, onRedisDown: RedisDownPolicy): Promise<RateLimitResult> {
    if (onRedisDown === 'allow') {
      return { allowed: true, limit: policy.limit, remaining: policy.limit - (peek ? 0 : cost), resetMs: 0, retryAfterMs: 0, decidedBy: 'policy' };
    }
    if (onRedisDown === 'deny') {
      // Retry after a second (or the window, if shorter): Redis is usually back soon, and the client should not wait a whole window for it.
      const retry = Math.min(policy.windowMs, 1000);
      return { allowed: false, limit: policy.limit, remaining: 0, resetMs: retry, retryAfterMs: retry, decidedBy: 'policy' };
    }
    // This instance's share of the limit, so that all live instances together stay near it.
    const limit = Math.max(1, Math.floor(policy.limit / this.#live));
    const share = { ...policy, limit };
    if (cost > limit) {
      return { allowed: false, limit, remaining: 0, resetMs: 0, retryAfterMs: Math.min(policy.windowMs, 1000), decidedBy: 'local' };
    }
    return result(await this.#local!.consume(key, share, cost, peek), limit, 'local');
  }

  /** Forgets a key everywhere this instance can reach (Redis when up, and the local store). */
  async reset(key: string, policy: RateLimitPolicy): Promise<void> {
    if (this.#closed) throw new ClosedError('the rate limiter');
    if (this.#memory) return this.#memory.reset(key, policy);
    await this.#local!.reset(key, policy);
    await this.#redis!.reset(key, policy);
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

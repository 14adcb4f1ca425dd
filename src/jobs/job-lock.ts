import { randomUUID } from 'node:crypto';
import type { RedkitContext } from '../context.js';
import { jobKeys } from './redis-job-store.js';
import { acquireLease, extendLease, releaseLease } from '../lease/lease.js';

/**
 * The per-job lock that makes recovery exactly-once across instances: whoever holds
 * `<prefix>:job:{id}:lock` tracks the job. A lease (SET NX PX) that the holder renews; a
 * crashed holder's lease runs out and another instance takes over (src/lease/, shared with the
 * cache's stampede lock). Not the lock capability, so that job state has no dependency on it.
 */
export interface JobLocks {
  /** A token when acquired, null when another holder has it. @throws RedisUnavailableError when Redis is down. */
  acquire(id: string, leaseMs: number): Promise<string | null>;
  /** True while still held (lease renewed); false when lost. */
  extend(id: string, token: string, leaseMs: number): Promise<boolean>;
  /** Releases if still held by `token`; never someone else's. */
  release(id: string, token: string): Promise<void>;
}

/** Redis per-job locks: SET NX PX to take, token-checked Lua to renew and release. */
export class RedisJobLocks implements JobLocks {
  readonly #ctx: RedkitContext;
  readonly #keys: ReturnType<typeof jobKeys>;

  constructor(ctx: RedkitContext) {
    this.#ctx = ctx;
    this.#keys = jobKeys(ctx);
  }

  async acquire(id: string, leaseMs: number): Promise<string | null> {
    const token = `${this.#ctx.instanceId}:${randomUUID()}`;
    return (await this.#ctx.connection.run((c) => acquireLease(c, this.#keys.lock(id), token, leaseMs))) ? token : null;
  }

  async extend(id: string, token: string, leaseMs: number): Promise<boolean> {
    return this.#ctx.connection.run((c) => extendLease(c, this.#keys.lock(id), token, leaseMs));
  }

  async release(id: string, token: string): Promise<void> {
    await this.#ctx.connection.run((c) => releaseLease(c, this.#keys.lock(id), token));
  }
}

/** In-process per-job locks (standalone: one instance, but the same rules). */
export class MemoryJobLocks implements JobLocks {
  readonly #held = new Map<string, { token: string; until: number }>();

  async acquire(id: string, leaseMs: number): Promise<string | null> {
    const now = Date.now();
    const current = this.#held.get(id);
    if (current && current.until > now) return null;
    const token = randomUUID();
    this.#held.set(id, { token, until: now + leaseMs });
    return token;
  }

  async extend(id: string, token: string, leaseMs: number): Promise<boolean> {
    const current = this.#held.get(id);
    if (!current || current.token !== token || current.until <= Date.now()) return false;
    current.until = Date.now() + leaseMs;
    return true;
  }

  async release(id: string, token: string): Promise<void> {
    if (this.#held.get(id)?.token === token) this.#held.delete(id);
  }
}

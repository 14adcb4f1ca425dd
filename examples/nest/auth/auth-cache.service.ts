import { Injectable } from '@nestjs/common';
import type { Cache } from 'redkit';
import { InjectCache } from 'redkit/nestjs';

/** The user a session token belongs to. */
export interface SessionUser {
  id: string;
  name: string;
}

/**
 * Seed 003's AuthCacheService: session lookups cached for 5 minutes under a SHA-256 of the token
 * (the token itself never becomes a Redis key). Redis down: reads miss and the loader runs.
 */
@Injectable()
export class AuthCacheService {
  /** How many times the (slow) user store was asked; the test reads it to see cache hits. */
  storeLookups = 0;

  constructor(@InjectCache('auth') private readonly cache: Cache<SessionUser | null>) {}

  /** The user of `token`, or null for an unknown token (negative answers are cached too). */
  user(token: string): Promise<SessionUser | null> {
    return this.cache.getOrSet(this.cache.hashKey(token), () => this.#loadUser(token));
  }

  /** Forgets the cached session (logout): every instance sees it gone. */
  async logout(token: string): Promise<void> {
    await this.cache.delete(this.cache.hashKey(token));
  }

  // Stands in for the database: tokens look like `user-<id>`.
  async #loadUser(token: string): Promise<SessionUser | null> {
    this.storeLookups += 1;
    const match = /^user-([a-z0-9]{1,32})$/.exec(token);
    return match ? { id: match[1]!, name: `User ${match[1]}` } : null;
  }
}

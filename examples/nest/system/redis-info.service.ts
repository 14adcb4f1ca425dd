import { Inject, Injectable, Optional } from '@nestjs/common';
import { REDIS_CLIENT, type RedisClient } from 'redkit/nestjs';

/**
 * Seed 001's shape: a service that takes the shared client with `@Optional() @Inject(REDIS_CLIENT)`
 * and branches on it. REDIS_CLIENT is the toolkit's own client (no second connection), and
 * `null` in standalone mode.
 */
@Injectable()
export class RedisInfoService {
  constructor(@Optional() @Inject(REDIS_CLIENT) readonly redis: RedisClient | null) {}

  /** Whether Redis is configured, and the server's version when it answers. */
  async info(): Promise<{ configured: boolean; version?: string; error?: string }> {
    if (!this.redis) return { configured: false };
    try {
      const text = await this.redis.info('server');
      return { configured: true, version: /redis_version:(\S+)/.exec(text)?.[1] };
    } catch (err) {
      return { configured: true, error: String((err as Error).message) };
    }
  }
}

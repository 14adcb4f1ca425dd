import type { Logger, RedkitConfig } from './config/types.js';
import type { RedisConnection } from './connection/redis-connection.js';
import type { KeySpace } from './keys.js';

/** What a capability gets from the toolkit: it never creates a client itself. */
export interface RedkitContext {
  readonly config: RedkitConfig;
  readonly connection: RedisConnection;
  readonly keys: KeySpace;
  readonly logger: Logger;
  readonly instanceId: string;
  /** Registers a cleanup run by `kit.close()`, latest first, before connections close. */
  onClose(fn: () => Promise<void> | void): void;
}

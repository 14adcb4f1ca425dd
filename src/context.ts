import type { Logger, RedkitConfig } from './config/types.js';
import type { RedisConnection } from './connection/redis-connection.js';
import type { KeySpace } from './keys.js';
import type { Metrics } from './metrics/index.js';

/** What a capability gets from the toolkit: it never creates a client itself. */
export interface RedkitContext {
  readonly config: RedkitConfig;
  readonly connection: RedisConnection;
  readonly keys: KeySpace;
  readonly logger: Logger;
  readonly instanceId: string;
  /** The toolkit's metrics registry and events; capabilities record into it. */
  readonly metrics: Metrics;
  /** Registers a cleanup run by `kit.close()`, latest first, before connections close. */
  onClose(fn: () => Promise<void> | void): void;
}

import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';
import type { RedkitConfig } from '../config/types.js';

/** What a server answers to `ROLE` (`slave` is reported as `replica`). */
export type ServerRole = 'master' | 'replica' | 'sentinel';

/**
 * ioredis options that make a client follow the master the sentinels name. `sentinelRetry`
 * bounds the wait between rounds over the sentinels (ms, or null to stop).
 */
export function sentinelOptions(cfg: RedkitConfig, sentinelRetry: (attempt: number) => number | null): Partial<RedisOptions> {
  const first = cfg.sentinels[0]?.host ?? '';
  return {
    sentinels: cfg.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: cfg.sentinelMasterName,
    role: 'master',
    sentinelUsername: cfg.sentinelUsername,
    sentinelPassword: cfg.sentinelPassword,
    sentinelTLS: cfg.sentinelTls === false ? undefined : { ...(isIP(first) ? {} : { servername: first }), ...cfg.sentinelTls },
    // Without it ioredis ignores `tls` for the master and replicas it is sent to.
    enableTLSForSentinelMode: cfg.tls !== false,
    // Subscribes to +switch-master on every sentinel: a graceful failover moves the client at once
    // instead of after the old master's READONLY (raw ioredis runs: ~1,080 → ~100 lost writes).
    failoverDetector: true,
    sentinelCommandTimeout: cfg.connectTimeoutMs,
    sentinelRetryStrategy: sentinelRetry,
  };
}

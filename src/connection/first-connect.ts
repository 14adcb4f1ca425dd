// The wait of `start()`: until the first connect, a definite failure, or the connect timeout.
// Separate from redis-connection.ts, which owns the state this wait reads and sets.
import type { EventEmitter } from 'node:events';
import type { Logger, RedkitConfig } from '../config/types.js';
import type { ClassifiedError } from './classify.js';
import type { RedisClient } from './cluster.js';
import type { ConnectionState } from './health.js';

/** What the wait needs of its connection (which emits `connected`, `closed` and `disconnected`). */
export interface FirstConnectHost extends EventEmitter {
  readonly config: RedkitConfig;
  readonly state: ConnectionState;
  readonly lastError: (ClassifiedError & { at: string }) | null;
}

/**
 * Connects `client` and resolves when connected, on a definite failure (refused, unknown host,
 * bad credentials, TLS mismatch, a replica or sentinel port), or after `connectTimeoutMs`, the
 * state then being `disconnected` (degraded: reconnecting goes on in the background).
 */
export function waitForFirstConnect(host: FirstConnectHost, client: RedisClient, logger: Logger, markDisconnected: (timedOut: boolean) => void): Promise<void> {
  const cfg = host.config;
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      if (host.state !== 'connected') {
        markDisconnected(true);
        logger.warn(
          { target: cfg.target, reason: host.lastError?.reason, hint: host.lastError?.hint },
          `[Redis] Not reachable within ${cfg.connectTimeoutMs} ms: starting degraded, reconnecting in the background`,
        );
      }
      done();
    }, cfg.connectTimeoutMs);
    // A definite answer needs no more waiting: start degraded now and keep reconnecting; only
    // silence waits the full timeout.
    const definite = () => {
      const reason = host.lastError?.reason;
      if (reason && reason !== 'TIMEOUT' && reason !== 'UNKNOWN' && host.state !== 'connected') {
        markDisconnected(false);
        logger.warn(
          { target: cfg.target, reason, hint: host.lastError?.hint },
          `[Redis] Not available (${reason}): starting degraded, reconnecting in the background`,
        );
        done();
      }
    };
    // A replica or a sentinel port answered ROLE: a definite answer too.
    const wrongRole = (error: ClassifiedError | null) => {
      if (error?.reason !== 'WRONG_ROLE') return;
      logger.warn(
        { target: cfg.target, reason: error.reason, hint: error.hint },
        `[Redis] ${error.message}: starting degraded, checking again in the background`,
      );
      done();
    };
    const done = () => {
      clearTimeout(timer);
      host.off('disconnected', wrongRole);
      host.off('connected', done);
      host.off('closed', done);
      client.off('error', definite);
      resolve();
    };
    host.once('connected', done);
    host.once('closed', done);
    host.on('disconnected', wrongRole);
    client.on('error', definite);
    client.connect().catch(() => {
      // The first attempt failed; the retry strategy keeps trying and 'ready' resolves us.
    });
  });
}

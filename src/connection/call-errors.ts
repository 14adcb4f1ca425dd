// How a failed call reaches a caller: always a typed RedkitError, never a raw ioredis error.
// Pure mapping; the connection applies its side effects (a probe, the state) itself.
import type { Logger, RedkitConfig } from '../config/types.js';
import { RedisUnavailableError, RedkitError } from '../errors.js';
import { classifyError, type ClassifiedError } from './classify.js';
import { mapReplyError } from './reply-errors.js';

/** What the mapping needs to know of the connection. */
export interface CallContext {
  config: RedkitConfig;
  logger: Logger;
  secrets: Array<string | undefined>;
  /** Where commands go, for messages. */
  where: string;
}

/** The error of a call made while Redis is configured but not usable. */
export function unusableError(ctx: CallContext, state: string, closed: boolean, last: ClassifiedError | null, cause?: unknown): RedisUnavailableError {
  if (closed) return new RedisUnavailableError('redkit is closed', 'CLOSED');
  if (ctx.config.mode === 'standalone') return new RedisUnavailableError('Redis is not configured (standalone mode)', 'NOT_CONFIGURED');
  const detail = last ? `${last.message} — ${last.hint}` : 'not connected yet';
  return new RedisUnavailableError(`Redis at ${ctx.where} is ${state}: ${detail}`, last?.reason ?? 'UNAVAILABLE', { cause });
}

/**
 * Maps what a call threw: a RedkitError stays; READONLY on Sentinel or Cluster is a failover in
 * progress; any other reply error becomes its typed RedkitError (reply-errors.ts); connection
 * trouble becomes RedisUnavailableError with its classified reason (returned as `classified`
 * so that the connection can react).
 */
export function mapCallError(err: unknown, ctx: CallContext): { error: unknown; classified: ClassifiedError | null } {
  if (err instanceof RedkitError) return { error: err, classified: null };
  const name = (err as Error)?.name;
  const message = String((err as Error)?.message);
  if (name === 'ReplyError' && ctx.config.topology !== 'single' && /^READONLY/.test(message)) {
    // The master moved under this call (reconnectOnError is already re-resolving it): to the
    // caller that is a short outage, not a read-only server.
    const error = new RedisUnavailableError(
      `Redis command failed: ${ctx.where} is no longer the master (failover in progress) — redkit reconnects to the new master by itself`,
      'FAILOVER',
      { cause: err },
    );
    return { error, classified: null };
  }
  if (name === 'ReplyError' && !/^(NOAUTH|WRONGPASS)/.test(message))
    return { error: mapReplyError(err, { username: ctx.config.username, prefix: ctx.config.prefix, logger: ctx.logger }), classified: null };
  const classified = classifyError(err, { target: ctx.where, tls: ctx.config.tls !== false, secrets: ctx.secrets });
  return {
    error: new RedisUnavailableError(`Redis command failed: ${classified.message} — ${classified.hint}`, classified.reason, { cause: err }),
    classified,
  };
}

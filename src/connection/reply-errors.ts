import type { Logger } from '../config/types.js';
import { RedisCommandError, RedisOutOfMemoryError, RedisPermissionError, RedisReadOnlyError, RedisUnavailableError, type RedkitError } from '../errors.js';

/**
 * The ACL categories redkit needs: everything but `@dangerous` (INFO, CONFIG, KEYS, FLUSHALL,
 * CLIENT LIST…). Nothing in redkit, nor in the BullMQ options it sets, runs a `@dangerous` command
 * on the request path; INFO is used where allowed and replaced where refused (lock/lua/lib.lua).
 */
export const REDKIT_ACL_CATEGORIES = '+@all -@dangerous';

/**
 * The `ACL SETUSER` line that gives `username` what redkit needs under `prefix`: its keys and
 * channels only. Additive: run as an admin, it keeps the user's password and other rules.
 */
export function aclFix(username: string | undefined, prefix: string): string {
  const glob = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
  return `ACL SETUSER ${username ?? 'default'} on ~${glob} &${glob} ${REDKIT_ACL_CATEGORIES}`;
}

/** Where a reply error was seen: the user and prefix for the ACL fix, a logger to tell once. */
export interface ReplyErrorContext {
  username?: string;
  prefix: string;
  logger?: Logger;
}

interface ReplyErrorLike {
  name?: string;
  message?: string;
  command?: { name?: string };
}

// Redis answers a refusal with its code first; a refusal inside a script (Redis 7.0) is an ERR
// with a fixed sentence instead of NOPERM, so both shapes are recognised.
const SCRIPT_NOPERM = /^ERR The user executing the script can't (run this command|access at least one of the (keys|channels))/;
/** Replies that mean "the server is up but cannot serve now": retried later, like an outage. */
// MOVED / ASK reach here only when ioredis gave up following them (a slot map in flux).
const TRANSIENT = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'MOVED', 'ASK', 'NOAUTH', 'WRONGPASS', 'NOREPLICAS', 'BUSYKEY']);

const told = new WeakMap<Logger, Set<string>>();

/** True for an ioredis `ReplyError` (an error reply from the server, not a connection failure). */
export function isReplyError(err: unknown): boolean {
  return (err as ReplyErrorLike | null)?.name === 'ReplyError';
}

/**
 * Maps a Redis error reply to a typed RedkitError, or returns null when `err` is not one.
 * NOPERM → RedisPermissionError (naming the command and the ACL fix; logged once per command),
 * OOM → RedisOutOfMemoryError, READONLY → RedisReadOnlyError, LOADING/BUSY/MASTERDOWN/… →
 * RedisUnavailableError with that reason, anything else → RedisCommandError.
 */
export function mapReplyError(err: unknown, ctx: ReplyErrorContext): RedkitError | null {
  if (!isReplyError(err)) return null;
  const e = err as ReplyErrorLike;
  const message = String(e.message ?? '');
  const code = /^[A-Z]+/.exec(message)?.[0] ?? 'ERR';
  // A reply inside a batch of scripts carries no command: it came from the batch's EVALSHA.
  const sent = e.command?.name ? String(e.command.name).toUpperCase() : 'EVALSHA';
  // A refusal inside a script names the script's call (EVALSHA); the command it refused is in the message when Redis says it.
  const refused = /run the '([^']+)' command/.exec(message)?.[1]?.toUpperCase().replace('|', ' ');
  const scriptNoperm = SCRIPT_NOPERM.exec(message);
  if (code === 'NOPERM' || scriptNoperm) {
    const command = refused ?? (scriptNoperm ? `a command inside ${sent}` : sent);
    const what = scriptNoperm?.[2] ?? /access one of the (keys|channels)/.exec(message)?.[1];
    const detail = what ? `a ${what.slice(0, -1)} outside the user's ~ / & patterns` : "command not in the user's categories";
    const fix = aclFix(ctx.username, ctx.prefix);
    if (ctx.logger) {
      const seen = told.get(ctx.logger) ?? new Set<string>();
      told.set(ctx.logger, seen);
      if (!seen.has(command) && seen.size < 100) {
        seen.add(command);
        ctx.logger.error({ command, fix }, `[Redis] ACL user "${ctx.username ?? 'default'}" may not run ${command} (${detail}): ${fix}`);
      }
    }
    return new RedisPermissionError(command, fix, detail, { cause: err });
  }
  if (code === 'OOM') return new RedisOutOfMemoryError(sent, { cause: err });
  if (code === 'READONLY') return new RedisReadOnlyError(sent, { cause: err });
  if (TRANSIENT.has(code)) {
    return new RedisUnavailableError(
      `Redis cannot serve "${sent}" now (${code}): ${message.slice(code.length + 1, 200)} — redkit retries when it can; run \`npx redkit doctor\` if it lasts`,
      code,
      { cause: err },
    );
  }
  // Redis's own words: a script's error reply (a known error code of a redkit script) stays matchable.
  return new RedisCommandError(sent, code, message, { cause: err });
}

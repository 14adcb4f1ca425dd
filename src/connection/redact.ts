import { MASK, maskSecrets } from '../config/mask.js';

/** Commands whose arguments carry credentials. */
const SECRET_COMMANDS = new Set(['auth', 'hello', 'migrate', 'acl', 'config']);

/**
 * ioredis copies a failed command's arguments onto the error (`err.command.args`), so an AUTH
 * password can reach a log. This masks those arguments and any secret in message and stack, in place.
 */
export function redactError<T>(error: T, secrets: Array<string | undefined>): T {
  if (!error || typeof error !== 'object') return error;
  const e = error as { command?: { name?: string; args?: unknown[] }; message?: string; stack?: string; previousErrors?: unknown[] };
  if (e.command && Array.isArray(e.command.args)) {
    const name = String(e.command.name ?? '').toLowerCase();
    e.command = {
      ...e.command,
      args: SECRET_COMMANDS.has(name) ? e.command.args.map(() => MASK) : e.command.args.map((a) => (typeof a === 'string' ? maskSecrets(a, secrets) : a)),
    };
  }
  try {
    if (typeof e.message === 'string') e.message = maskSecrets(e.message, secrets);
    if (typeof e.stack === 'string') e.stack = maskSecrets(e.stack, secrets);
  } catch {
    // Some errors have read-only message/stack; their command args are already masked above.
  }
  if (Array.isArray(e.previousErrors)) e.previousErrors.forEach((p) => redactError(p, secrets));
  return error;
}

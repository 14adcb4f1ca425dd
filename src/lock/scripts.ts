import type { Redis } from 'ioredis';
import { readLua, registerScripts, runScript } from '../connection/scripts.js';

const KEYS = ['holdersKey', 'waitersKey', 'metaKey'] as const;

/**
 * The lock scripts by command stem, each file `lua/<stem>-3.lua`, with the names of what a call
 * passes after the name's three keys (the scripts read them as locals).
 */
const SCRIPTS = {
  acquire: ['token', 'ttlArg', 'limitArg', 'waitArg', 'guardArg', 'runId', 'bornArg'],
  release: ['token', 'limitArg'],
  extend: ['token', 'ttlArg', 'limitArg'],
  cancel: ['token', 'limitArg'],
  inspect: ['limitArg'],
} as const;
/** Bump when any script changes: clients that already defined an older body keep theirs. */
const VERSION = 4;

/** A lock script's stem. */
export type LockScript = keyof typeof SCRIPTS;

/** The versioned command name of a script, e.g. `redkitLockAcquireV1`. */
export function commandName(stem: LockScript): string {
  return `redkitLock${stem[0]!.toUpperCase()}${stem.slice(1)}V${VERSION}`;
}

// lib.lua holds the helpers every script shares: their prelude, defined once per EVAL.
const lib = readLua(import.meta.url, './lua/lib.lua');
registerScripts(Object.fromEntries(Object.entries(SCRIPTS).map(([stem, args]) => [
  commandName(stem as LockScript),
  { numberOfKeys: KEYS.length, parameters: [...KEYS, ...args], prelude: lib, lua: readLua(import.meta.url, `./lua/${stem}-3.lua`), batch: true },
])));

/** Reads or creates the data marker of a Redis whose INFO is refused (lua/marker-1.lua). */
const MARKER = `redkitLockMarkerV${VERSION}`;
registerScripts({ [MARKER]: { numberOfKeys: 1, lua: readLua(import.meta.url, './lua/marker-1.lua') } });

/** The marker at `key` ("<id>:<created ms>"), created with `newId` when missing. */
export function readMarker(client: Redis, key: string, newId: string): Promise<string> {
  return runScript(client, MARKER, [key, newId]) as Promise<string>;
}

const COMMANDS = Object.fromEntries(Object.keys(SCRIPTS).map((stem) => [stem, commandName(stem as LockScript)])) as Record<LockScript, string>;

/**
 * Calls a lock script: the name's three keys, then the script's arguments in the order above;
 * `onReply` / `onError` map the outcome in the same reaction (see runScript).
 */
export function callScript<T = unknown>(
  client: Redis,
  stem: LockScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
  onReply?: (reply: unknown) => T | PromiseLike<T>,
  onError?: (err: unknown) => T | PromiseLike<T>,
): Promise<T> {
  return runScript(client, COMMANDS[stem], keys.concat(args as string[]), onReply, onError);
}

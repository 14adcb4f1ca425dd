import type { Redis } from 'ioredis';
import { readLua, registerScripts, runScript } from '../connection/scripts.js';

/** The lock scripts, by command stem; each file is `lua/<stem>-<numKeys>.lua`. */
const SCRIPTS = { acquire: 3, release: 3, extend: 3, cancel: 3, inspect: 3 } as const;
/** Bump when any script changes: clients that already defined an older body keep theirs. */
const VERSION = 2;

/** A lock script's stem. */
export type LockScript = keyof typeof SCRIPTS;

/** The versioned command name of a script, e.g. `redkitLockAcquireV1`. */
export function commandName(stem: LockScript): string {
  return `redkitLock${stem[0]!.toUpperCase()}${stem.slice(1)}V${VERSION}`;
}

// lib.lua holds the helpers every script shares: their prelude, defined once per EVAL.
const lib = readLua(import.meta.url, './lua/lib.lua');
registerScripts(Object.fromEntries(Object.entries(SCRIPTS).map(([stem, keys]) => [
  commandName(stem as LockScript),
  { numberOfKeys: keys, prelude: lib, lua: readLua(import.meta.url, `./lua/${stem}-${keys}.lua`), batch: true },
])));

const COMMANDS = Object.fromEntries(Object.keys(SCRIPTS).map((stem) => [stem, commandName(stem as LockScript)])) as Record<LockScript, string>;

/** Calls a lock script. */
export function callScript(client: Redis, stem: LockScript, keys: string[], args: Array<string | number>): Promise<unknown> {
  return runScript(client, COMMANDS[stem], keys.concat(args as string[]));
}

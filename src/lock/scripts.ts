import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

/** The lock scripts, by command stem; each file is `<stem>-<numKeys>.lua`. */
const SCRIPTS = { acquire: 3, release: 3, extend: 3, cancel: 3, inspect: 3 } as const;
/** Bump when any script changes: clients that already defined an older body keep theirs. */
const VERSION = 1;

/** The ioredis command name a script is registered under. */
export type LockScript = keyof typeof SCRIPTS;

// tsc does not copy .lua files: next to the compiled file first (a packaging step may copy
// them), else the source folder that dist/ was compiled from.
function luaDir(): string {
  const candidates = [new URL('./lua/', import.meta.url), new URL('../../../src/lock/lua/', import.meta.url)];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(`${dir}lib.lua`)) return dir;
  }
  throw new Error(`redkit: lock scripts not found (looked in ${candidates.map((u) => fileURLToPath(u)).join(', ')})`);
}

let bodies: Record<LockScript, string> | null = null;
function load(): Record<LockScript, string> {
  if (bodies) return bodies;
  const dir = luaDir();
  // lib.lua holds the helpers every script shares; Lua has no include, so it is prepended.
  const lib = readFileSync(`${dir}lib.lua`, 'utf8');
  const out = {} as Record<LockScript, string>;
  for (const [stem, keys] of Object.entries(SCRIPTS)) {
    out[stem as LockScript] = `${lib}\n${readFileSync(`${dir}${stem}-${keys}.lua`, 'utf8')}`;
  }
  bodies = out;
  return out;
}

/** The versioned command name of a script, e.g. `redkitLockAcquireV1`. */
export function commandName(stem: LockScript): string {
  return `redkitLock${stem[0]!.toUpperCase()}${stem.slice(1)}V${VERSION}`;
}

/** Registers every lock script on `client` (once per client; ioredis does EVALSHA with EVAL fallback). */
const defined = new WeakSet<Redis>();
export function defineLockScripts(client: Redis): void {
  if (defined.has(client)) return;
  defined.add(client);
  const scripts = load();
  for (const stem of Object.keys(SCRIPTS) as LockScript[]) {
    const name = commandName(stem);
    if (typeof (client as unknown as Record<string, unknown>)[name] === 'function') continue;
    client.defineCommand(name, { numberOfKeys: SCRIPTS[stem], lua: scripts[stem] });
  }
}

/** Calls a registered script. */
export function callScript(client: Redis, stem: LockScript, keys: string[], args: Array<string | number>): Promise<unknown> {
  const fn = (client as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>)[commandName(stem)]!;
  return fn.call(client, ...keys, ...args);
}

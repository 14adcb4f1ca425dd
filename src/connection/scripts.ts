import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** A Lua script and how many of its arguments are keys. */
export interface LuaScript {
  numberOfKeys: number;
  lua: string;
}

const registry = new Map<string, LuaScript>();

/**
 * Reads a Lua file that sits next to a module (`path` relative to `moduleUrl`, i.e. pass
 * `import.meta.url`). `npm run build` copies the .lua files into dist/ beside the compiled modules.
 */
export function readLua(moduleUrl: string, path: string): string {
  return readFileSync(new URL(path, moduleUrl), 'utf8');
}

/**
 * Registers scripts under versioned command names (`redkitLockAcquireV1`: bump the version when
 * a script changes meaning). Capabilities call this when their module loads, so every client the
 * connection creates defines them all before its first command: ioredis 6 breaks a whole
 * auto-pipelined batch when a command is defined while that batch is open (ioredis #1931).
 */
export function registerScripts(scripts: Record<string, LuaScript>): void {
  for (const [name, script] of Object.entries(scripts)) {
    const existing = registry.get(name);
    if (existing && existing.lua !== script.lua) throw new Error(`redkit: two different scripts registered as "${name}"; bump the version in the name`);
    registry.set(name, script);
  }
}

/**
 * Defines every registered script not yet defined on `client` (ioredis then runs EVALSHA with
 * an EVAL fallback). Returns true when it defined any, i.e. when a client created before a
 * registration is catching up.
 */
export function defineScripts(client: Redis): boolean {
  let defined = false;
  for (const [name, script] of registry) {
    if (typeof (client as unknown as Record<string, unknown>)[name] === 'function') continue;
    client.defineCommand(name, script);
    defined = true;
  }
  return defined;
}

/** Runs the registered script `name` on `client` with `keys` then `args`. */
export function runScript<T = unknown>(client: Redis, name: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>): Promise<T> {
  const fn = (client as unknown as Record<string, ((...a: Array<string | number>) => Promise<T>) | undefined>)[name];
  if (typeof fn !== 'function') {
    // A client created before the script's module loaded: define now, on a fresh tick (see registerScripts).
    defineScripts(client);
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => runScript<T>(client, name, keys, args));
  }
  return fn.call(client, ...keys, ...args);
}

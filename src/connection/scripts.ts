import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** A Lua script and how many of its leading arguments are keys. */
export interface LuaScript {
  numberOfKeys: number;
  lua: string;
}

interface RegisteredScript extends LuaScript {
  sha: string;
}

const registry = new Map<string, RegisteredScript>();

/**
 * Reads a Lua file that sits next to a module (`path` relative to `moduleUrl`, i.e. pass
 * `import.meta.url`). `npm run build` copies the .lua files into dist/ beside the compiled modules.
 */
export function readLua(moduleUrl: string, path: string): string {
  return readFileSync(new URL(path, moduleUrl), 'utf8');
}

/**
 * Registers scripts under versioned names (`redkitLockAcquireV1`: bump the version when a
 * script changes meaning). Capabilities call this when their module loads.
 */
export function registerScripts(scripts: Record<string, LuaScript>): void {
  for (const [name, script] of Object.entries(scripts)) {
    const existing = registry.get(name);
    if (existing && existing.lua !== script.lua) throw new Error(`redkit: two different scripts registered as "${name}"; bump the version in the name`);
    registry.set(name, { ...script, sha: createHash('sha1').update(script.lua).digest('hex') });
  }
}

/**
 * Runs the registered script `name`; `keysAndArgs` holds its keys first, then its arguments.
 *
 * Hand-written EVALSHA with an EVAL fallback instead of ioredis `defineCommand`, measured:
 * ioredis copies every defined command onto each auto-pipeline it opens (one per tick), which
 * halved the throughput of plain GETs on the shared client with redkit's ~25 scripts defined;
 * and a command defined while a pipeline is open breaks that whole batch (ioredis #1931).
 */
export function runScript<T = unknown>(client: Redis, name: string, keysAndArgs: ReadonlyArray<string | number>): Promise<T> {
  const script = registry.get(name);
  if (!script) return Promise.reject(new Error(`redkit: no script registered as "${name}"`));
  return (client.evalsha(script.sha, script.numberOfKeys, ...keysAndArgs) as Promise<T>).catch((err: unknown) => {
    // NOSCRIPT: this server has not seen it yet (first call, or a restart flushed the cache); EVAL also caches it.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return client.eval(script.lua, script.numberOfKeys, ...keysAndArgs) as Promise<T>;
    throw err;
  });
}

/**
 * An object with one method per named script, each running it on `client` (keys first, then
 * arguments), for capabilities that call scripts by name.
 */
export function scriptMethods<Name extends string>(client: Redis, names: ReadonlyArray<Name>): Record<Name, (...keysAndArgs: Array<string | number>) => Promise<unknown>> {
  const methods = {} as Record<Name, (...keysAndArgs: Array<string | number>) => Promise<unknown>>;
  for (const name of names) methods[name] = (...keysAndArgs) => runScript(client, name, keysAndArgs);
  return methods;
}

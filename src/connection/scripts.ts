// The one way redkit declares and calls Lua: defineScripts → typed callers. How a call reaches
// the socket (per-tick batching, corking) is in batching/README.md.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './cluster.js';
import { batchedLua, SINGLE_CALL_PRELUDE, sendScript, type LuaScript, type RegisteredScript } from './batching/script-batching.js';

export { observeScripts, type ScriptObserver } from './batching/script-batching.js';

/** What runs for one call of a script: its prelude, then its body (a function of its parameters, if named). */
function singleCallLua(script: LuaScript): string {
  const parts = [script.batch ? SINGLE_CALL_PRELUDE : '', script.prelude ?? ''];
  if (script.parameters) {
    const keys = script.numberOfKeys;
    const values = script.parameters.map((_, j) => (j < keys ? `KEYS[${j + 1}]` : `ARGV[${j - keys + 1}]`)).join(', ');
    parts.push(`local function call(${script.parameters.join(', ')})\n${script.lua}\nend\nreturn call(${values})`);
  } else {
    parts.push(script.lua);
  }
  return parts.filter(Boolean).join('\n');
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

const registry = new Map<string, RegisteredScript>();

/** How one script of a capability is declared (see defineScripts). */
export interface ScriptSpec {
  /** `<name>-<numKeys>.lua` in the `lua/` folder beside the defining module. */
  readonly file: string;
  /** Names of the keys a call passes first; as many as the file name's `<numKeys>`. */
  readonly keys: readonly string[];
  /**
   * Names of the arguments after the keys: the body then reads keys and arguments as locals of
   * these names, and every call passes exactly this many values. Without it the body reads
   * KEYS and ARGV and a call passes any number of arguments.
   */
  readonly parameters?: readonly string[];
  /** Calls of one tick on one client run as one EVALSHA (see LuaScript.batch and batching/README.md). */
  readonly batch?: boolean;
  /** A file in the same `lua/` folder run before the body, once per EVAL: helpers the scripts share. */
  readonly prelude?: string;
}

type KeyValues<K extends readonly string[]> = { -readonly [I in keyof K]: string };
type ArgValues<P extends readonly string[]> = { -readonly [I in keyof P]: string | number };

/** What a call of the script `S` passes: its keys, then its arguments (typed when named). */
export type ScriptValues<S extends ScriptSpec> = S extends { readonly parameters: infer P extends readonly string[] }
  ? readonly [...KeyValues<S['keys']>, ...ArgValues<P>]
  : readonly [...KeyValues<S['keys']>, ...Array<string | number>];

/**
 * Runs one script on `client`: its keys then its arguments in `values`. `onReply` / `onError`,
 * when given, map the reply or the error inside the same promise reaction (as
 * `.then(onReply, onError)` would, one promise less: hot paths use it).
 */
export type ScriptCaller<S extends ScriptSpec> = <T = unknown>(
  client: RedisClient,
  values: ScriptValues<S>,
  onReply?: (reply: unknown) => T | PromiseLike<T>,
  onError?: (err: unknown) => T | PromiseLike<T>,
) => Promise<T>;

/**
 * Declares a capability's Lua scripts and returns one typed caller per script: the one way
 * redkit declares and calls Lua (BullMQ's `loadCommands` is the model). `moduleUrl` is the
 * declaring module's `import.meta.url`; `namespace` (e.g. `'lock'`) keeps names apart.
 */
export function defineScripts<const D extends Record<string, ScriptSpec>>(
  moduleUrl: string,
  namespace: string,
  specs: D,
): { [N in keyof D]: ScriptCaller<D[N]> } {
  const callers = {} as Record<string, ScriptCaller<ScriptSpec>>;
  for (const [name, spec] of Object.entries(specs)) {
    const numberOfKeys = Number(/-(\d+)\.lua$/.exec(spec.file)?.[1]);
    if (numberOfKeys !== spec.keys.length)
      throw new Error(`redkit: script file "${spec.file}" must be named <name>-${spec.keys.length}.lua (it takes ${spec.keys.length} keys)`);
    const id = `${namespace}.${name}`;
    registerScript(id, {
      numberOfKeys,
      lua: readLua(moduleUrl, `./lua/${spec.file}`),
      ...(spec.parameters ? { parameters: [...spec.keys, ...spec.parameters] } : {}),
      ...(spec.prelude ? { prelude: readLua(moduleUrl, `./lua/${spec.prelude}`) } : {}),
      ...(spec.batch ? { batch: true } : {}),
    });
    const script = registry.get(id)!;
    callers[name] = (client, values, onReply, onError) => runScript(client, id, script, values, onReply, onError);
  }
  return callers as { [N in keyof D]: ScriptCaller<D[N]> };
}

/** Reads a Lua file relative to a module (`npm run build` copies .lua files beside the compiled modules). */
function readLua(moduleUrl: string, path: string): string {
  return readFileSync(new URL(path, moduleUrl), 'utf8');
}

function registerScript(id: string, script: LuaScript): void {
  if (script.parameters && script.parameters.length < script.numberOfKeys) throw new Error(`redkit: script "${id}" names fewer parameters than it has keys`);
  const single = singleCallLua(script);
  const existing = registry.get(id);
  if (existing && existing.lua !== single) throw new Error(`redkit: two different scripts defined as "${id}"`);
  const registered: RegisteredScript = { ...script, name: id, lua: single, sha: sha1(single) };
  if (script.batch) {
    const lua = batchedLua(script);
    registered.batched = { lua, sha: sha1(lua) };
  }
  registry.set(id, registered);
}

/**
 * Hand-written EVALSHA with an EVAL fallback instead of ioredis `defineCommand`: batched scripts
 * need their own command (one EVALSHA for many calls), which defineCommand cannot express; see
 * batching/README.md for what is known of defineCommand's own cost.
 */
function runScript<T>(
  client: RedisClient,
  id: string,
  script: RegisteredScript,
  keysAndArgs: ReadonlyArray<string | number>,
  onReply?: (reply: unknown) => T | PromiseLike<T>,
  onError?: (err: unknown) => T | PromiseLike<T>,
): Promise<T> {
  if (script.parameters && keysAndArgs.length !== script.parameters.length) {
    return Promise.reject(new Error(`redkit: script "${id}" takes ${script.parameters.length} keys and arguments (got ${keysAndArgs.length})`));
  }
  return sendScript(client, script, keysAndArgs, onReply, onError);
}

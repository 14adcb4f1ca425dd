import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, type Redis } from 'ioredis';
import { flushWrites } from './write-batching.js';

/** A Lua script and how many of its leading arguments are keys. */
interface LuaScript {
  numberOfKeys: number;
  lua: string;
  /**
   * Shared helpers run before `lua`: once per EVAL, so a batch of calls defines them once.
   * They must not read KEYS or ARGV (the body binds what they need, e.g. into upvalues the
   * prelude declares) and must reset any per-call state they keep when the body asks them to.
   */
  prelude?: string;
  /**
   * Calls of this script made in the same tick on one client go to Redis as one EVALSHA of a
   * generated wrapper that runs them in call order, each in its own `pcall` (one failing call
   * rejects only its own promise). The script must not rely on being the only call of its EVAL.
   * It reads the server clock with `serverTime()` (TIME's reply): one TIME per batch, since
   * calls of one atomic EVAL all happen at the same instant anyway.
   */
  batch?: boolean;
  /**
   * Names of the keys then the arguments, in call order: the body is then a function of these
   * locals instead of reading KEYS and ARGV, and every call passes exactly this many values.
   * A batch then hands each call its values on the Lua stack, with no table per call (measured
   * with an empty body and 9 values a call: ~1.4–1.9 µs of wrapper per call with tables, ~1.1 µs
   * without).
   */
  parameters?: readonly string[];
}

interface RegisteredScript extends LuaScript {
  sha: string;
  /** The generated wrapper running many calls in one EVAL (scripts registered with `batch`). */
  batched?: { lua: string; sha: string };
}

/** What a batchable script sees when it runs alone. */
const SINGLE_CALL_PRELUDE = "local function serverTime() return redis.call('TIME') end";

/**
 * A batch leaves as soon as it holds this many calls, before the tick ends (which also bounds its
 * argument list and how long one EVALSHA holds Redis): Redis starts on it
 * while this process still prepares the next calls. Waiting for the whole tick made Node and
 * Redis take turns; bench/ratelimit at 100 concurrent: 72 k/s (whole tick), 104 k (64),
 * 119 k (32), 121 k (16), 114 k (8).
 */
const EAGER_BATCH = 16;

/**
 * What both batch wrappers share: one TIME per batch, the prelude once, the body as `call`, and
 * one `pcall` per call. A nil reply becomes false (a nil would end the reply array); an error
 * becomes that call's error reply. `state` declares the loop's locals (with `out`); `before` and
 * `after` move through KEYS and ARGV around each call of `call(<args>)`.
 */
function batchWrapper(script: LuaScript, parameters: string, state: string, step: { before: string; args: string; after: string }): string {
  return `local batchTime = redis.call('TIME')
local function serverTime() return batchTime end
${script.prelude ?? ''}
local function call(${parameters})
${script.lua}
end
${state}
for i = 1, tonumber(ARGV[1]) do
${step.before}
  local ok, reply = pcall(call, ${step.args})
${step.after}
  if not ok then
    reply = redis.error_reply(type(reply) == 'table' and reply.err or tostring(reply))
  elseif reply == nil then
    reply = false
  end
  out[i] = reply
end
return out
`;
}

/**
 * The wrapper of a batchable script: its body becomes a function of (KEYS, ARGV) called once per
 * call. ARGV = [count, argc₁, args₁…, argc₂, args₂…]; KEYS = the calls' keys, numberOfKeys each.
 * A call must not keep its ARGV table past its return (the next call reuses it).
 */
function batchedLua(script: LuaScript): string {
  if (script.parameters) return batchedParameterLua(script, script.parameters);
  // The keys table is built by one constructor (sized once); the args table is reused, cleared
  // past the call's own count: measured 2.1 → 1.6 µs of wrapper per call.
  const keyList = Array.from({ length: script.numberOfKeys }, (_, j) => `KEYS[k + ${j}]`).join(', ');
  return batchWrapper(script, 'KEYS, ARGV', 'local out, k, a, args, used = {}, 1, 2, {}, 0', {
    before: `  local keys = {${keyList}}
  k = k + ${script.numberOfKeys}
  local argc = tonumber(ARGV[a])
  for j = 1, argc do args[j] = ARGV[a + j] end
  for j = argc + 1, used do args[j] = nil end
  used = argc
  a = a + argc + 1`,
    args: 'keys, args',
    after: '',
  });
}

/**
 * The wrapper of a batchable script with named parameters: ARGV = [count, values₁…, values₂…]
 * (no per-call count: every call passes the same number), KEYS = the calls' keys.
 */
function batchedParameterLua(script: LuaScript, parameters: readonly string[]): string {
  const keys = script.numberOfKeys;
  const args = parameters.length - keys;
  const values = [
    ...Array.from({ length: keys }, (_, j) => `KEYS[k + ${j + 1}]`),
    ...Array.from({ length: args }, (_, j) => `ARGV[a + ${j + 1}]`),
  ].join(', ');
  return batchWrapper(script, parameters.join(', '), 'local out, k, a = {}, 0, 1', {
    before: '',
    args: values,
    after: `  k = k + ${keys}
  a = a + ${args}`,
  });
}

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
  client: Redis,
  values: ScriptValues<S>,
  onReply?: (reply: unknown) => T | PromiseLike<T>,
  onError?: (err: unknown) => T | PromiseLike<T>,
) => Promise<T>;

/**
 * Declares a capability's Lua scripts and returns one typed caller per script: the one way
 * redkit declares and calls Lua (BullMQ's `loadCommands` is the model). `moduleUrl` is the
 * declaring module's `import.meta.url`; `namespace` (e.g. `'lock'`) keeps names apart.
 */
export function defineScripts<const D extends Record<string, ScriptSpec>>(moduleUrl: string, namespace: string, specs: D): { [N in keyof D]: ScriptCaller<D[N]> } {
  const callers = {} as Record<string, ScriptCaller<ScriptSpec>>;
  for (const [name, spec] of Object.entries(specs)) {
    const numberOfKeys = Number(/-(\d+)\.lua$/.exec(spec.file)?.[1]);
    if (numberOfKeys !== spec.keys.length) throw new Error(`redkit: script file "${spec.file}" must be named <name>-${spec.keys.length}.lua (it takes ${spec.keys.length} keys)`);
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
  const registered: RegisteredScript = { ...script, lua: single, sha: sha1(single) };
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
  client: Redis,
  id: string,
  script: RegisteredScript,
  keysAndArgs: ReadonlyArray<string | number>,
  onReply?: (reply: unknown) => T | PromiseLike<T>,
  onError?: (err: unknown) => T | PromiseLike<T>,
): Promise<T> {
  if (script.parameters && keysAndArgs.length !== script.parameters.length) {
    return Promise.reject(new Error(`redkit: script "${id}" takes ${script.parameters.length} keys and arguments (got ${keysAndArgs.length})`));
  }
  if (script.batched) return enqueue(client, id, script, keysAndArgs, onReply, onError);
  const sent = evalScript(client, script.sha, script.lua, script.numberOfKeys, flatArgs(script.sha, script.numberOfKeys, keysAndArgs));
  return (onReply || onError ? sent.then(onReply, onError) : sent) as Promise<T>;
}

/**
 * An argument list that is already flat. ioredis's Command constructor calls `args.flat()`,
 * which V8 runs at ~100 ns per element: 15 µs of the 18 µs it took to build a batch's EVALSHA
 * of 150 arguments (measured). Handing it this subclass makes that call the identity.
 */
class FlatArgs extends Array<string | number> {
  override flat(): never {
    return this as never;
  }
}

/** EVALSHA's arguments: sha, number of keys, then the keys and arguments. */
function flatArgs(sha: string, numberOfKeys: number, keysAndArgs: ReadonlyArray<string | number>): FlatArgs {
  const args = new FlatArgs();
  args.push(sha, numberOfKeys);
  for (let i = 0; i < keysAndArgs.length; i++) args.push(keysAndArgs[i]!);
  return args;
}

function evalScript(client: Redis, sha: string, lua: string, numberOfKeys: number, args: FlatArgs): Promise<unknown> {
  const command = new Command('evalsha', args, { replyEncoding: 'utf8' });
  return (client.sendCommand(command) as Promise<unknown>).catch((err: unknown) => {
    // NOSCRIPT: this server has not seen it yet (first call, or a restart flushed the cache); EVAL also caches it.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return client.eval(lua, numberOfKeys, ...args.slice(2));
    throw err;
  });
}

interface PendingCall {
  keysAndArgs: ReadonlyArray<string | number>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  onReply: ((reply: unknown) => unknown) | undefined;
  onError: ((err: unknown) => unknown) | undefined;
}

/** Settles a call with its reply, through its mapping if it has one. */
function settle(call: PendingCall, reply: unknown): void {
  if (reply instanceof Error) return fail(call, reply);
  if (!call.onReply) return call.resolve(reply);
  try {
    call.resolve(call.onReply(reply));
  } catch (err) {
    call.reject(err);
  }
}

function fail(call: PendingCall, err: unknown): void {
  if (!call.onError) return call.reject(err);
  try {
    call.resolve(call.onError(err));
  } catch (mapped) {
    call.reject(mapped);
  }
}

/** Calls of batchable scripts waiting for the end of the tick, per client and script name. */
const pending = new WeakMap<Redis, Map<string, PendingCall[]>>();

/*
 * Batched here, not only written together (write-batching.ts does that for every command): a
 * call sent on its own costs Redis one script start and ioredis one command object and reply;
 * here a batch of calls costs one of each (measured with the eager send below: lock cycles
 * ~24 k → ~33 k/s, rate-limit decisions on distinct keys ~72 k → ~120 k/s).
 * The batch spans keys of different hash slots: right for the one Redis node redkit connects
 * to today; Redis Cluster support would have to batch per slot.
 */
function enqueue<T>(
  client: Redis,
  name: string,
  script: RegisteredScript,
  keysAndArgs: ReadonlyArray<string | number>,
  onReply: ((reply: unknown) => T | PromiseLike<T>) | undefined,
  onError: ((err: unknown) => T | PromiseLike<T>) | undefined,
): Promise<T> {
  let byName = pending.get(client);
  if (!byName) pending.set(client, byName = new Map());
  // process.nextTick runs after every promise job of the current turn: calls made by code that
  // resumes from the same socket read share the batch, and none waits for another I/O turn.
  if (byName.size === 0) process.nextTick(flush, client, byName);
  let calls = byName.get(name);
  if (!calls) byName.set(name, calls = []);
  const queue = calls;
  const promise = new Promise<T>((resolve, reject) => queue.push({ keysAndArgs, resolve: resolve as (value: unknown) => void, reject, onReply, onError }));
  if (queue.length >= EAGER_BATCH) {
    byName.delete(name);
    send(client, script, queue);
    // Past the per-tick write batching too: Redis starts on this batch now.
    flushWrites(client);
  }
  return promise;
}

/** Sends what the tick left of every script's batch (the client's write batching makes that one socket write). */
function flush(client: Redis, byName: Map<string, PendingCall[]>): void {
  for (const [name, calls] of byName) send(client, registry.get(name)!, calls);
  byName.clear();
}

function send(client: Redis, script: RegisteredScript, calls: PendingCall[]): void {
  if (calls.length === 1) {
    const only = calls[0]!;
    evalScript(client, script.sha, script.lua, script.numberOfKeys, flatArgs(script.sha, script.numberOfKeys, only.keysAndArgs)).then((reply) => settle(only, reply), (err: unknown) => fail(only, err));
    return;
  }
  const batched = script.batched!;
  const keyCount = script.numberOfKeys;
  // EVALSHA sha numkeys keys₁ keys₂ … count [argc₁] args₁ [argc₂] args₂ … (no argc with named parameters).
  const args = new FlatArgs();
  args.push(batched.sha, keyCount * calls.length);
  for (const call of calls) for (let i = 0; i < keyCount; i++) args.push(call.keysAndArgs[i]!);
  args.push(calls.length);
  for (const call of calls) {
    const all = call.keysAndArgs;
    if (!script.parameters) args.push(all.length - keyCount);
    for (let i = keyCount; i < all.length; i++) args.push(all[i]!);
  }
  evalScript(client, batched.sha, batched.lua, keyCount * calls.length, args).then(
    (replies) => {
      const list = replies as unknown[];
      for (let i = 0; i < calls.length; i++) settle(calls[i]!, list[i]);
    },
    (err: unknown) => { for (const call of calls) fail(call, err); },
  );
}

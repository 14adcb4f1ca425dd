// Per-tick script batching: calls of a batchable script made in one tick on one client go to
// Redis as one EVALSHA of a generated wrapper. Why, and every limit, in README.md beside this file.
import { Command } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { RedisClient } from '../cluster.js';
import { isSlotSafe } from '../slot-safe.js';
import { flushWrites } from './write-batching.js';
import { commandTracingActive, labelCommand } from '../../metrics/spans.js';

/** A Lua script as registered: how many of its leading arguments are keys, its body, how it runs. */
export interface LuaScript {
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

export interface RegisteredScript extends LuaScript {
  /** Its registered name (`lock.acquire`): labels its calls for tracing and metrics. */
  name: string;
  sha: string;
  /** The generated wrapper running many calls in one EVAL (scripts registered with `batch`). */
  batched?: { lua: string; sha: string };
}

/** What a batchable script sees when it runs alone. */
export const SINGLE_CALL_PRELUDE = "local function serverTime() return redis.call('TIME') end";

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
export function batchedLua(script: LuaScript): string {
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
  const values = [...Array.from({ length: keys }, (_, j) => `KEYS[k + ${j + 1}]`), ...Array.from({ length: args }, (_, j) => `ARGV[a + ${j + 1}]`)].join(', ');
  return batchWrapper(script, parameters.join(', '), 'local out, k, a = {}, 0, 1', {
    before: '',
    args: values,
    after: `  k = k + ${keys}
  a = a + ${args}`,
  });
}

/** Receives each script call's round trip (one EVALSHA, batched calls included), per client. */
export type ScriptObserver = (name: string, seconds: number) => void;
const observers = new WeakMap<RedisClient, ScriptObserver>();

/** Times the scripts `client` runs (the toolkit feeds `redkit_script_duration_seconds` with it). */
export function observeScripts(client: RedisClient, observer: ScriptObserver): void {
  observers.set(client, observer);
}

/**
 * Runs one call of a registered script on `client`: batchable scripts join the tick's batch,
 * others go out as one EVALSHA (EVAL on NOSCRIPT). `onReply` / `onError` map the outcome in the
 * reaction that settles it.
 */
export function sendScript<T>(
  client: RedisClient,
  script: RegisteredScript,
  keysAndArgs: ReadonlyArray<string | number>,
  onReply?: (reply: unknown) => T | PromiseLike<T>,
  onError?: (err: unknown) => T | PromiseLike<T>,
): Promise<T> {
  if (script.batched) return enqueue(client, script, keysAndArgs, onReply, onError);
  const sent = evalScript(client, script.name, 1, script.sha, script.lua, script.numberOfKeys, flatArgs(script.sha, script.numberOfKeys, keysAndArgs));
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

/** Sends one EVALSHA of script `name` carrying `calls` calls; labelled for tracers, timed for metrics. */
function evalScript(client: RedisClient, name: string, calls: number, _sha: string, lua: string, numberOfKeys: number, args: FlatArgs): Promise<unknown> {
  const command = new Command('evalsha', args, { replyEncoding: 'utf8' });
  // Tracers then see `redkit.lock.acquire`, not an anonymous evalsha (only built when someone listens).
  if (commandTracingActive()) labelCommand(command, name, calls);
  const observer = observers.get(client);
  const started = observer ? performance.now() : 0;
  const timed = observer
    ? (reply: unknown) => {
        observer(name, (performance.now() - started) / 1000);
        return reply;
      }
    : undefined;
  // One reaction for both outcomes, as before: timing adds no promise.
  return (client.sendCommand(command) as Promise<unknown>).then(timed, (err: unknown) => {
    // NOSCRIPT: this server has not seen it yet (first call, or a restart flushed the cache); EVAL also caches it.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      const fallback = new Command('eval', [lua, numberOfKeys, ...args.slice(2)], { replyEncoding: 'utf8' });
      if (commandTracingActive()) labelCommand(fallback, name, calls);
      return (client.sendCommand(fallback) as Promise<unknown>).then(timed);
    }
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

/** Calls of batchable scripts waiting for the end of the tick, per client and script. */
const pending = new WeakMap<RedisClient, Map<RegisteredScript, PendingCall[]>>();

/*
 * Batched here, not only written together (write-batching.ts does that for every command): a
 * call sent on its own costs Redis one script start and ioredis one command object and reply;
 * here a batch of calls costs one of each (measured with the eager send below: lock cycles
 * ~24 k → ~33 k/s, rate-limit decisions on distinct keys ~72 k → ~120 k/s).
 * On one server a batch spans keys of any slot. On a Cluster, or an endpoint that enforces slots
 * (slot-safe.ts), one EVALSHA must stay in one slot (every call's keys share a hash tag), so calls
 * are batched per script and slot: the slot of a call's first key, as ioredis computes it to route.
 */
function enqueue<T>(
  client: RedisClient,
  script: RegisteredScript,
  keysAndArgs: ReadonlyArray<string | number>,
  onReply: ((reply: unknown) => T | PromiseLike<T>) | undefined,
  onError: ((err: unknown) => T | PromiseLike<T>) | undefined,
): Promise<T> {
  if (isSlotSafe(client)) return enqueueInSlot(client, script, keysAndArgs, onReply, onError);
  let byName = pending.get(client);
  if (!byName) pending.set(client, (byName = new Map()));
  // process.nextTick runs after every promise job of the current turn: calls made by code that
  // resumes from the same socket read share the batch, and none waits for another I/O turn.
  if (byName.size === 0) process.nextTick(flush, client, byName);
  let calls = byName.get(script);
  if (!calls) byName.set(script, (calls = []));
  const queue = calls;
  const promise = new Promise<T>((resolve, reject) => queue.push({ keysAndArgs, resolve: resolve as (value: unknown) => void, reject, onReply, onError }));
  if (queue.length >= EAGER_BATCH) {
    byName.delete(script);
    send(client, script, queue);
    // Past the per-tick write batching too: Redis starts on this batch now.
    flushWrites(client);
  }
  return promise;
}

/** Calls waiting for the end of the tick on a Cluster, per script and hash slot. */
const pendingInSlots = new WeakMap<RedisClient, Map<RegisteredScript, Map<number, PendingCall[]>>>();

/** `enqueue` when slot-safe: one batch per script and slot, so each EVALSHA stays in one slot (and goes to one node). */
function enqueueInSlot<T>(
  client: RedisClient,
  script: RegisteredScript,
  keysAndArgs: ReadonlyArray<string | number>,
  onReply: ((reply: unknown) => T | PromiseLike<T>) | undefined,
  onError: ((err: unknown) => T | PromiseLike<T>) | undefined,
): Promise<T> {
  let byName = pendingInSlots.get(client);
  if (!byName) pendingInSlots.set(client, (byName = new Map()));
  if (byName.size === 0) process.nextTick(flushSlots, client, byName);
  let bySlot = byName.get(script);
  if (!bySlot) byName.set(script, (bySlot = new Map()));
  const slot = script.numberOfKeys > 0 ? calculateSlot(String(keysAndArgs[0])) : 0;
  let calls = bySlot.get(slot);
  if (!calls) bySlot.set(slot, (calls = []));
  const queue = calls;
  const promise = new Promise<T>((resolve, reject) => queue.push({ keysAndArgs, resolve: resolve as (value: unknown) => void, reject, onReply, onError }));
  if (queue.length >= EAGER_BATCH) {
    bySlot.delete(slot);
    send(client, script, queue);
    // One endpoint: past its per-tick write batching too (a Cluster has nothing to flush here).
    flushWrites(client);
  }
  return promise;
}

function flushSlots(client: RedisClient, byName: Map<RegisteredScript, Map<number, PendingCall[]>>): void {
  for (const [script, bySlot] of byName) for (const calls of bySlot.values()) send(client, script, calls);
  byName.clear();
}

/** Sends what the tick left of every script's batch (the client's write batching makes that one socket write). */
function flush(client: RedisClient, byName: Map<RegisteredScript, PendingCall[]>): void {
  for (const [script, calls] of byName) send(client, script, calls);
  byName.clear();
}

function send(client: RedisClient, script: RegisteredScript, calls: PendingCall[]): void {
  if (calls.length === 1) {
    const only = calls[0]!;
    evalScript(client, script.name, 1, script.sha, script.lua, script.numberOfKeys, flatArgs(script.sha, script.numberOfKeys, only.keysAndArgs)).then(
      (reply) => settle(only, reply),
      (err: unknown) => fail(only, err),
    );
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
  evalScript(client, script.name, calls.length, batched.sha, batched.lua, keyCount * calls.length, args).then(
    (replies) => {
      const list = replies as unknown[];
      for (let i = 0; i < calls.length; i++) settle(calls[i]!, list[i]);
    },
    (err: unknown) => {
      for (const call of calls) fail(call, err);
    },
  );
}

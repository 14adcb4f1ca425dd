import type { Redis } from 'ioredis';
import type { RedkitContext } from '../context.js';
import { loadLua } from './lua.js';
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitPolicy, RateLimitStore } from './types.js';

/** Options of the Redis store. */
export interface RedisRateLimitStoreOptions {
  /**
   * Clock in ms passed to the scripts instead of Redis server TIME. Tests only: with the
   * default (server time) instances with skewed clocks agree.
   */
  now?: () => number;
}

interface Script { command: string; file: string; keys: number; suffixes: string[] }

// Versioned names: a changed script gets a new name, so two redkit versions sharing a Redis never mix them.
const SCRIPTS: Record<RateLimitAlgorithm, Script> = {
  'fixed-window': { command: 'redkitRateLimitFixedV1', file: 'fixed-window-1.lua', keys: 1, suffixes: ['fw'] },
  'sliding-window': { command: 'redkitRateLimitSlidingV1', file: 'sliding-window-2.lua', keys: 2, suffixes: ['sl', 'slm'] },
  'token-bucket': { command: 'redkitRateLimitBucketV1', file: 'token-bucket-1.lua', keys: 1, suffixes: ['tb'] },
};
const INSTANCES = { command: 'redkitRateLimitInstancesV1', file: 'instances-1.lua', keys: 1 };

const sources = new Map<string, string>();
function source(file: string): string {
  let lua = sources.get(file);
  if (lua === undefined) {
    lua = loadLua(file);
    sources.set(file, lua);
  }
  return lua;
}

type ScriptFn = (...args: Array<string | number>) => Promise<unknown>;
const defined = new WeakSet<Redis>();

/**
 * Registers every rate-limit script on `client` once (ioredis then runs EVALSHA with an EVAL
 * fallback). After defining, it yields a turn: an auto-pipeline opened earlier in the same turn
 * does not know commands defined after it, and using one through it breaks the whole batch,
 * other capabilities' commands included (ioredis issue #1931).
 */
async function define(client: Redis): Promise<Record<string, ScriptFn>> {
  if (!defined.has(client)) {
    for (const s of [...Object.values(SCRIPTS), INSTANCES]) client.defineCommand(s.command, { numberOfKeys: s.keys, lua: source(s.file) });
    defined.add(client);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return client as unknown as Record<string, ScriptFn>;
}

/**
 * The Redis store: each decision is one Lua script, one round trip, atomic, timed by the Redis
 * server's clock. Keys: `<prefix>:ratelimit:{<algorithm>:<key>}:<suffix>`, one hash slot per key.
 * Throws RedisUnavailableError when Redis is not usable (the service applies the policy).
 */
export class RedisRateLimitStore implements RateLimitStore {
  #ctx: RedkitContext;
  #now: (() => number) | undefined;

  constructor(ctx: RedkitContext, options: RedisRateLimitStoreOptions = {}) {
    this.#ctx = ctx;
    this.#now = options.now;
  }

  #keys(key: string, algorithm: RateLimitAlgorithm): string[] {
    return SCRIPTS[algorithm].suffixes.map((suffix) => this.#ctx.keys.tagged('ratelimit', `${algorithm}:${key}`, suffix));
  }

  consume(key: string, policy: RateLimitPolicy, cost: number, peek: boolean): Promise<RateLimitDecision> {
    const script = SCRIPTS[policy.algorithm];
    const tail = [policy.limit, policy.windowMs, cost, policy.blockMs, this.#now ? String(this.#now()) : '', peek ? '1' : '0'];
    const args = script.keys === 1
      ? [this.#ctx.keys.tagged('ratelimit', `${policy.algorithm}:${key}`, script.suffixes[0]!), ...tail]
      : [...this.#keys(key, policy.algorithm), ...tail];
    return this.#ctx.connection.run((client) => {
      const fns = defined.has(client) ? (client as unknown as Record<string, ScriptFn>) : null;
      const reply = fns ? fns[script.command]!(...args) : define(client).then((f) => f[script.command]!(...args));
      return reply.then((r) => {
        const v = r as number[];
        return { allowed: v[0] === 1, remaining: v[1]!, resetMs: v[2]!, retryAfterMs: v[3]! };
      });
    });
  }

  async reset(key: string, policy: RateLimitPolicy): Promise<void> {
    const keys = this.#keys(key, policy.algorithm);
    await this.#ctx.connection.run((client) => client.del(...keys));
  }

  /**
   * Heartbeats this instance in the live-instance set (`leave`: removes it) and returns how
   * many instances are live. Server time, one round trip.
   */
  heartbeat(instanceId: string, ttlMs: number, leave = false): Promise<number> {
    const key = this.#ctx.keys.key('ratelimit', 'instances');
    return this.#ctx.connection.run(async (client) => Number(await (await define(client))[INSTANCES.command]!(key, instanceId, ttlMs, leave ? '1' : '0')));
  }
}

import type { RedisClient } from '../connection/cluster.js';
import type { RedkitContext } from '../context.js';
import { defineScripts } from '../connection/scripts.js';
import { assertOptions } from '../options.js';
import type { RateLimitAlgorithm, RateLimitDecision, RateLimitPolicy, RateLimitStore } from './types.js';

/** Options of the Redis store. */
export interface RedisRateLimitStoreOptions {
  /**
   * Clock in ms passed to the scripts instead of Redis server TIME. Tests only: with the
   * default (server time) instances with skewed clocks agree.
   */
  now?: () => number;
}

/** Every script decides a list of costs in order (ARGV[6…]), so concurrent requests of one key share a call. */
interface Script {
  run: PolicyScript;
  suffixes: string[];
}

/** A policy script's caller; its keys are built per policy at run time (defineScripts checks their count against the file name). */
type PolicyScript = (client: RedisClient, keysAndArgs: ReadonlyArray<string | number>) => Promise<number[]>;

interface Waiter {
  cost: number;
  resolve(decision: RateLimitDecision): void;
  reject(err: unknown): void;
}

/** A policy's script, its keys' fixed parts and its fixed arguments. */
interface PolicyCall {
  script: Script;
  id: string;
  keyHead: string;
  suffixes: string[];
  args: string[];
}

/** Most requests one script call decides (bounds ARGV and the script's run time). */
const MAX_BATCH = 64;

const scripts = defineScripts(import.meta.url, 'ratelimit', {
  fixedWindow: { file: 'fixed-window-1.lua', keys: ['counterKey'], batch: true },
  slidingWindow: { file: 'sliding-window-2.lua', keys: ['logKey', 'stateKey'], batch: true },
  tokenBucket: { file: 'token-bucket-1.lua', keys: ['bucketKey'], batch: true },
  instances: { file: 'instances-1.lua', keys: ['instancesKey'], batch: true },
});

const SCRIPTS: Record<RateLimitAlgorithm, Script> = {
  'fixed-window': { run: scripts.fixedWindow as PolicyScript, suffixes: ['fw'] },
  'sliding-window': { run: scripts.slidingWindow as PolicyScript, suffixes: ['sl', 'slm'] },
  'token-bucket': { run: scripts.tokenBucket as PolicyScript, suffixes: ['tb'] },
};

function firstDecision(v: number[]): RateLimitDecision {
  return decision(v, 0);
}

/** The `i`th decision of a flattened script reply. */
function decision(v: number[], i: number): RateLimitDecision {
  return { allowed: v[i * 4] === 1, remaining: v[i * 4 + 1]!, resetMs: v[i * 4 + 2]!, retryAfterMs: v[i * 4 + 3]! };
}

/**
 * The Redis store: each decision is one Lua script, one round trip, atomic, timed by the Redis
 * server's clock. Keys: `<prefix>:ratelimit:{<algorithm>:<key>}:<suffix>`, one hash slot per key.
 * Throws RedisUnavailableError when Redis is not usable (the service applies the policy).
 */
export class RedisRateLimitStore implements RateLimitStore {
  #ctx: RedkitContext;
  #now: (() => number) | undefined;
  /** Keys with a call in flight, and the consumes waiting behind it. */
  #inflight = new Map<string, Waiter[]>();

  constructor(ctx: RedkitContext, options: RedisRateLimitStoreOptions = {}) {
    assertOptions(options, ['now'], 'RedisRateLimitStore options');
    this.#ctx = ctx;
    this.#now = options.now;
  }

  // What every call of a policy shares, built once per policy object (limiters keep theirs).
  readonly #policies = new WeakMap<RateLimitPolicy, PolicyCall>();
  #policyCall(policy: RateLimitPolicy): PolicyCall {
    let call = this.#policies.get(policy);
    if (!call) {
      const script = SCRIPTS[policy.algorithm];
      const { algorithm, limit, windowMs, blockMs } = policy;
      call = {
        script,
        id: `${algorithm}|${limit}|${windowMs}|${blockMs}|`,
        // `<prefix>:ratelimit:{<algorithm>:` + key + `}:<suffix>`, as KeySpace.tagged builds it.
        keyHead: this.#ctx.keys.tagged('ratelimit', `${algorithm}:`).slice(0, -1),
        suffixes: script.suffixes.map((suffix) => `}:${suffix}`),
        args: [String(limit), String(windowMs), String(blockMs)],
      };
      this.#policies.set(policy, call);
    }
    return call;
  }

  #keys(call: PolicyCall, key: string): string[] {
    return call.suffixes.map((suffix) => call.keyHead + key + suffix);
  }

  /**
   * One decision. While a consume of a key is in flight, later consumes of that key (same
   * policy) wait and then go together in one script call, decided in arrival order exactly as if
   * they came one after another at the same instant: a hot key costs one round trip per batch,
   * a key without contention goes out at once.
   */
  consume(key: string, policy: RateLimitPolicy, cost: number, peek: boolean): Promise<RateLimitDecision> {
    const call = this.#policyCall(policy);
    if (peek) return this.#call(call, key, '1', [cost]).then(firstDecision);
    const id = call.id + key;
    const queue = this.#inflight.get(id);
    if (queue) return new Promise((resolve, reject) => queue.push({ cost, resolve, reject }));
    this.#inflight.set(id, []);
    return this.#call(call, key, '0', [cost]).then(
      (v) => {
        this.#drain(id, key, call);
        return decision(v, 0);
      },
      (err: unknown) => {
        this.#drain(id, key, call);
        throw err;
      },
    );
  }

  /** Sends what queued up behind the call that just returned (in batches of MAX_BATCH), or ends the key's turn. */
  #drain(id: string, key: string, call: PolicyCall): void {
    const queued = this.#inflight.get(id);
    if (!queued || queued.length === 0) {
      this.#inflight.delete(id);
      return;
    }
    this.#inflight.set(id, []);
    let open = Math.ceil(queued.length / MAX_BATCH);
    const done = () => {
      if (--open === 0) this.#drain(id, key, call);
    };
    for (let from = 0; from < queued.length; from += MAX_BATCH) {
      const waiters = queued.slice(from, from + MAX_BATCH);
      this.#call(
        call,
        key,
        '0',
        waiters.map((w) => w.cost),
      )
        .then(
          (v) => {
            for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(decision(v, i));
          },
          (err: unknown) => {
            for (const w of waiters) w.reject(err);
          },
        )
        .then(done);
    }
  }

  #call(call: PolicyCall, key: string, peek: '0' | '1', costs: number[]): Promise<number[]> {
    const args: Array<string | number> = this.#keys(call, key);
    args.push(call.args[0]!, call.args[1]!, call.args[2]!, this.#now ? String(this.#now()) : '', peek);
    for (const cost of costs) args.push(cost);
    return this.#ctx.connection.run((client) => call.script.run(client, args));
  }

  async reset(key: string, policy: RateLimitPolicy): Promise<void> {
    const keys = this.#keys(this.#policyCall(policy), key);
    await this.#ctx.connection.run((client) => client.del(...keys));
  }

  /**
   * Heartbeats this instance in the live-instance set (`leave`: removes it) and returns how
   * many instances are live. Server time, one round trip.
   */
  heartbeat(instanceId: string, ttlMs: number, leave = false): Promise<number> {
    const key = this.#ctx.keys.key('ratelimit', 'instances');
    return this.#ctx.connection.run(async (client) => Number(await scripts.instances(client, [key, instanceId, ttlMs, leave ? '1' : '0'])));
  }
}

import { fastifyRateLimit, toMs, type RateLimiter, type RateLimitAlgorithm, type RedisDownPolicy, type Redkit } from 'redkit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext, RouteModule } from '../context.js';

/** A limit read from env as `<limit>/<window>`, e.g. `20/60s`, `100/1m`, `5/500ms`. */
export interface EnvLimit {
  limit: number;
  windowMs: number;
}

/**
 * Parses `RATE_LIMIT_*` values like `20/60s`, `100/1m`, `1000/1 hour`: the window in redkit's
 * duration grammar (the `ms` package's), a bare number meaning seconds; throws naming the variable.
 */
export function parseEnvLimit(env: Record<string, string | undefined>, name: string, fallback: string): EnvLimit {
  const raw = (env[name] ?? '').trim() || fallback;
  const match = /^(\d+)\s*\/\s*(.+)$/.exec(raw);
  const bad = () => new Error(`${name} must look like <limit>/<window>, e.g. 20/60s, 100/1m or 1000/1 hour (got "${raw}")`);
  if (!match || Number(match[1]) <= 0) throw bad();
  const window = match[2]!.trim();
  let windowMs: number;
  try {
    windowMs = /^\d+(\.\d+)?$/.test(window) ? Math.round(Number(window) * 1000) : toMs(window, name, { min: 1 });
  } catch {
    throw bad();
  }
  if (windowMs <= 0) throw bad();
  return { limit: Number(match[1]), windowMs };
}

/** The reference server's limiters, one set per toolkit. */
interface Limiters {
  moderate: RateLimiter;
  wsMessages: RateLimiter;
}
const made = new WeakMap<Redkit, Limiters>();

/**
 * The server's limiters from env: `RATE_LIMIT_MODERATE` (default `20/60s` per IP),
 * `RATE_LIMIT_WS` (default `60/10s` per member: WebSocket reactions, across instances), `RATE_LIMIT_ALGORITHM` (default
 * `sliding-window`), `RATE_LIMIT_ON_REDIS_DOWN` (`local`, `allow` or `deny`; default `local`),
 * `RATE_LIMIT_EXPECTED_INSTANCES` (the `local` fallback's divisor at a boot without Redis; default 1).
 */
export function appLimiters({ kit, settings }: AppContext): Limiters {
  let limiters = made.get(kit);
  if (!limiters) {
    const env = settings.env;
    const algorithm = (env.RATE_LIMIT_ALGORITHM || 'sliding-window') as RateLimitAlgorithm;
    const onRedisDown = (env.RATE_LIMIT_ON_REDIS_DOWN || 'local') as RedisDownPolicy;
    // The local fallback's divisor when this instance booted while Redis was down (see the README).
    const rawExpected = env.RATE_LIMIT_EXPECTED_INSTANCES?.trim();
    const expectedInstances = rawExpected ? Number(rawExpected) : 1;
    if (!Number.isSafeInteger(expectedInstances) || expectedInstances < 1)
      throw new Error(`RATE_LIMIT_EXPECTED_INSTANCES must be a whole number ≥ 1, your instance count (got "${rawExpected}")`);
    limiters = {
      moderate: kit.rateLimiter({ ...parseEnvLimit(env, 'RATE_LIMIT_MODERATE', '20/60s'), algorithm, onRedisDown, expectedInstances, name: 'moderate' }),
      wsMessages: kit.rateLimiter({ ...parseEnvLimit(env, 'RATE_LIMIT_WS', '60/10s'), algorithm, onRedisDown, expectedInstances, name: 'ws' }),
    };
    made.set(kit, limiters);
  }
  return limiters;
}

/**
 * The Fastify preHandler that rate limits `POST /api/moderate` per client IP (429 + JSON body,
 * `RateLimit-*` and `Retry-After` headers); behind a proxy, `TRUST_PROXY` says whose
 * X-Forwarded-For to believe. Used by app/routes/cache.ts.
 */
export function moderateLimiter(ctx: AppContext): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return fastifyRateLimit(appLimiters(ctx).moderate, { keyBy: ['ip'], trustProxy: ctx.settings.trustProxy });
}

/** `GET /api/ratelimit`: the configured limits, who decides now, and the live instances sharing them. */
export const rateLimitRoutes: RouteModule = (app, ctx) => {
  const limiters = appLimiters(ctx);
  app.get('/api/ratelimit', async () => ({
    mode: ctx.kit.mode,
    liveInstances: limiters.moderate.liveInstances,
    limits: Object.fromEntries(Object.entries(limiters).map(([name, l]) => [name, { ...l.policy, onRedisDown: l.onRedisDown }])),
  }));
};

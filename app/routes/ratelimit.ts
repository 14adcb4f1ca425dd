import { fastifyRateLimit, type RateLimiter, type RateLimitAlgorithm, type RedisDownPolicy, type Redkit } from 'redkit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext, RouteModule } from '../context.js';

/** A limit read from env as `<limit>/<window>`, e.g. `20/60s`, `100/1m`, `5/500ms`. */
export interface EnvLimit {
  limit: number;
  windowMs: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `RATE_LIMIT_*` values like `20/60s` (unit ms, s, m or h; default s); throws naming the variable. */
export function parseEnvLimit(env: Record<string, string | undefined>, name: string, fallback: string): EnvLimit {
  const raw = (env[name] ?? '').trim() || fallback;
  const match = /^(\d+)\s*\/\s*(\d+)\s*(ms|s|m|h)?$/.exec(raw);
  const limit = match ? Number(match[1]) : 0;
  const windowMs = match ? Number(match[2]) * UNITS[match[3] ?? 's']! : 0;
  if (!match || limit <= 0 || windowMs <= 0) throw new Error(`${name} must look like <limit>/<window>, e.g. 20/60s or 100/1m (got "${raw}")`);
  return { limit, windowMs };
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
 * `sliding-window`), `RATE_LIMIT_ON_REDIS_DOWN` (`local`, `allow` or `deny`; default `local`).
 */
export function appLimiters({ kit, settings }: AppContext): Limiters {
  let limiters = made.get(kit);
  if (!limiters) {
    const env = settings.env;
    const algorithm = (env.RATE_LIMIT_ALGORITHM || 'sliding-window') as RateLimitAlgorithm;
    const onRedisDown = (env.RATE_LIMIT_ON_REDIS_DOWN || 'local') as RedisDownPolicy;
    limiters = {
      moderate: kit.rateLimiter({ ...parseEnvLimit(env, 'RATE_LIMIT_MODERATE', '20/60s'), algorithm, onRedisDown, name: 'moderate' }),
      wsMessages: kit.rateLimiter({ ...parseEnvLimit(env, 'RATE_LIMIT_WS', '60/10s'), algorithm, onRedisDown, name: 'ws' }),
    };
    made.set(kit, limiters);
  }
  return limiters;
}

/**
 * The Fastify preHandler that rate limits `POST /api/moderate` per client IP (429 + JSON body,
 * `RateLimit-*` and `Retry-After` headers). Used by app/routes/cache.ts.
 */
export function moderateLimiter(ctx: AppContext): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return fastifyRateLimit(appLimiters(ctx).moderate, { keyBy: ['ip'] });
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

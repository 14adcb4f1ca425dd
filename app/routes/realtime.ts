import { readFile } from 'node:fs/promises';
import { createGateway, toMs, type GatewayOptions } from 'redkit';
import type { RouteModule } from '../context.js';
import { appLimiters } from './ratelimit.js';

/**
 * The live page is served from `app/public` in the package (tsc does not copy it to dist/):
 * dist/app/routes/realtime.js → ../../../app/public/.
 */
const PUBLIC = new URL('../../../app/public/', import.meta.url);
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'live.js': 'text/javascript; charset=utf-8',
  'live.css': 'text/css; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
};

function numberFrom(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number (got "${raw}")`);
  return value;
}

/** A duration env var: ms (`15000`) or the `ms` grammar (`15s`); the error names the variable. */
function msFrom(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  return toMs(raw, name, { min: 1 });
}

/** One `/api/dashboard` sample; a null number is "unavailable" on the page, never a zero. */
interface DashboardSample {
  at: number;
  instanceId: string;
  mode: string;
  redis: string;
  cache: { hits: number; misses: number; scope: string } | null;
  refused: number;
  clients: number;
  queueDepth: number | null;
}

/**
 * Realtime for the reference server: the WebSocket gateway on `/ws` (attached to the HTTP
 * server's 'upgrade' event), the live page at `/`, `/api/realtime` for its numbers and
 * `/api/dashboard` for the page's plots (hit rate, refusals, queue depth, clients, mode).
 * Env: PRESENCE_HEARTBEAT_TTL_MS, REACTIONS_IDLE_TTL_MS, WS_PING_INTERVAL_MS (ms or `15s`), DEBUG_PRESENCE, WS_ALLOWED_ORIGINS (comma-separated),
 * WS_RATE_PER_SECOND, WS_RATE_BURST; reactions also obey RATE_LIMIT_WS per member.
 */
export const realtimeRoutes: RouteModule = (app, ctx) => {
  const { kit, settings } = ctx;
  const env = settings.env;
  const debug = env.DEBUG_PRESENCE === '1' || env.DEBUG_PRESENCE === 'true';
  kit.realtime.configure({ heartbeatTtlMs: msFrom(env, 'PRESENCE_HEARTBEAT_TTL_MS'), reactionsIdleTtlMs: msFrom(env, 'REACTIONS_IDLE_TTL_MS'), debug });
  const options: GatewayOptions = {
    allowedOrigins: env.WS_ALLOWED_ORIGINS
      ? env.WS_ALLOWED_ORIGINS.split(',')
          .map((o) => o.trim())
          .filter(Boolean)
      : null,
    ratePerSecond: numberFrom(env, 'WS_RATE_PER_SECOND'),
    rateBurst: numberFrom(env, 'WS_RATE_BURST'),
    pingIntervalMs: msFrom(env, 'WS_PING_INTERVAL_MS'),
    // Reactions per member across every instance (RATE_LIMIT_WS), on top of the per-connection bucket.
    reactionLimiter: appLimiters(ctx).wsMessages,
    debug,
  };
  const gateway = createGateway(kit, options).attach(app.server);
  // preClose, not onClose: Fastify's close() waits for every open socket before onClose hooks
  // run, so open WebSockets would hold a deploy until the force-exit timer (issue 13, item 3).
  app.addHook('preClose', async () => {
    await gateway.close();
  });

  const sendAsset = async (name: string, reply: import('fastify').FastifyReply) => {
    const body = await readFile(new URL(name, PUBLIC));
    return reply
      .type(ASSETS[name]!)
      .header('cache-control', name === 'index.html' ? 'no-cache' : 'public, max-age=300')
      .send(body);
  };
  app.get('/', async (_request, reply) => sendAsset('index.html', reply));
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    if (!Object.hasOwn(ASSETS, request.params.name)) return reply.code(404).send({ error: 'not found' });
    return sendAsset(request.params.name, reply);
  });

  app.get<{ Querystring: { debug?: string } }>('/api/realtime', async (request) => {
    const withDebug = request.query.debug === '1';
    return {
      instanceId: kit.instanceId,
      mode: kit.mode,
      gateway: gateway.stats(),
      presence: kit.presence.stats(),
      rooms: await kit.presence.rooms(),
      ...(withDebug
        ? {
            connections: gateway.connections(),
            pid: process.pid,
            uptimeSeconds: Math.round(process.uptime()),
            memoryMb: Math.round(process.memoryUsage().rss / 1048576),
          }
        : {}),
    };
  });

  // Requests refused by a limit (429s of any route), for the dashboard's plot: counted here
  // because a limiter answers a refusal as a result, not as an event.
  let refused = 0;
  app.addHook('onResponse', async (_request, reply) => {
    if (reply.statusCode === 429) refused++;
  });
  let last: { at: number; body: Promise<DashboardSample> } | null = null;
  const sample = async (): Promise<DashboardSample> => {
    const health = await kit.healthReport();
    const up = kit.mode !== 'degraded';
    // The whole deployment's hit rate (every instance's counters, summed in Redis), not this instance's.
    const cache = up ? await kit.cache.deploymentStats().catch(() => null) : null;
    let depth: number | null = 0;
    try {
      for (const q of Object.values(await kit.queues.stats())) {
        // Counts from Redis only: the local counts of a degraded instance are not the queue's depth.
        if (!q.counts) {
          depth = null;
          break;
        }
        depth += (q.counts.waiting ?? 0) + (q.counts.active ?? 0) + (q.counts.delayed ?? 0);
      }
    } catch {
      depth = null;
    }
    return {
      at: Date.now(),
      instanceId: kit.instanceId,
      mode: kit.mode,
      // Status words only: the report's message names the Redis host and its fix (HEALTH_DETAILS).
      redis: health.redis.status,
      // While Redis is down every read misses by design: a hit rate then would be a false 0 %.
      cache: cache ? { hits: cache.hits, misses: cache.misses, scope: cache.scope } : null,
      refused: refused + gateway.stats().rejected,
      clients: gateway.stats().connections,
      queueDepth: up ? depth : null,
    };
  };
  // One sample per second at most, however many dashboards poll (the queue counts cost Redis calls).
  app.get('/api/dashboard', async () => {
    if (!last || Date.now() - last.at >= 1000) last = { at: Date.now(), body: sample() };
    return last.body;
  });

  app.get<{ Params: { room: string } }>('/api/realtime/rooms/:room', async (request, reply) => {
    const room = request.params.room;
    try {
      return { room, members: await kit.presence.members(room), reactions: await kit.reactions.counts(room) };
    } catch (err) {
      if ((err as { code?: string }).code === 'E_INVALID_ARGUMENT') return reply.code(400).send({ error: (err as Error).message });
      throw err;
    }
  });
};

import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { HealthReport } from 'redkit';
import type { RouteModule } from '../context.js';
import type { AppSettings } from '../settings.js';

/**
 * Health for people and for platforms. They answer from the connection's state; when nothing was
 * heard from Redis for over a second, one PING (bounded by the stall bound, 750 ms; shared by
 * concurrent requests) goes out first, so a frozen Redis shows within a second of asking.
 *
 * - `GET /api/health`: seed 002's JSON. 200 while the process serves, `status: "degraded"` in
 *   the body when Redis is down (the app still serves: a 503 would pull every instance out of
 *   rotation at once). `?strict=1` answers 503 when degraded, for monitors that should page.
 * - `GET /api/health/live`: 200 while the process answers HTTP (liveness: restart if it fails).
 * - `GET /api/health/ready`: 200 once startup is done, degraded or not; 503 while redkit's first
 *   connect is still under way and once shutdown began (readiness: route traffic here).
 *
 * Redis host, port, errors and fix hints appear only with `HEALTH_DETAILS=true` or
 * `Authorization: Bearer <ADMIN_TOKEN>`.
 */
export const healthRoutes: RouteModule = (app, { kit, settings }) => {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.get('/api/health', async (request, reply) => {
    const report = await kit.healthReport();
    const strict = (request.query as Record<string, string | undefined>)?.strict;
    reply.code(closing || ((strict === '1' || strict === 'true') && report.status !== 'healthy') ? 503 : 200);
    return showDetails(request, settings) ? report : publicReport(report);
  });

  app.get('/api/health/live', async () => ({ status: 'ok', instanceId: kit.instanceId }));

  app.get('/api/health/ready', async (_request, reply) => {
    // Ready does not depend on Redis (degraded still serves), but `mode` should be true now.
    await kit.health();
    const starting = kit.connection.state === 'connecting';
    const ready = !closing && !starting;
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : closing ? 'stopping' : 'starting', mode: kit.mode, instanceId: kit.instanceId };
  });
};

/** The report without where Redis is or how to fix it: what anyone on the internet may see. */
export function publicReport(report: HealthReport): HealthReport {
  const redis = report.redis;
  const reason = redis.lastError?.reason;
  const message = redis.status === 'disconnected' ? `Redis unavailable${reason ? ` (${reason})` : ''}: serving degraded` : redis.message;
  return {
    ...report,
    redis: {
      status: redis.status,
      message,
      latency: redis.latency,
      since: redis.since,
      lastRestartAt: redis.lastRestartAt ?? null,
      // The kind and role, never where the master is.
      ...(redis.topology ? { topology: { ...redis.topology, master: null } } : {}),
      // Codes only: the messages name the server's settings and their fix.
      warnings: (redis.warnings ?? []).map((w) => ({ code: w.code, message: w.code })),
    },
  };
}

/** Details when the operator enabled them for everyone, or the caller holds the admin token. */
function showDetails(request: FastifyRequest, settings: AppSettings): boolean {
  if (settings.healthDetails) return true;
  if (!settings.adminToken) return false;
  const header = request.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(settings.adminToken);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

import type { RouteModule } from '../context.js';
import { authorized } from './queue.js';

/**
 * `GET /metrics`: every redkit metric of this process in the Prometheus text format, protected
 * like the admin routes (bearer ADMIN_TOKEN; 404 when unset), since queue names, namespaces and
 * instance ids tell an outsider how the app is built. Prometheus sends the token with
 * `authorization: { credentials: <ADMIN_TOKEN> }` in its scrape config.
 */
export const metricsRoutes: RouteModule = (app, { kit, settings }) => {
  app.get('/metrics', async (request, reply) => {
    if (!settings.adminToken) return reply.code(404).send({ error: 'E_DISABLED', message: 'metrics are disabled: set ADMIN_TOKEN to enable GET /metrics' });
    if (!authorized(request, settings.adminToken))
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'E_UNAUTHORIZED', message: 'send Authorization: Bearer <ADMIN_TOKEN>' });
    return reply.header('content-type', kit.metrics.contentType).send(await kit.metrics.prometheus());
  });
};

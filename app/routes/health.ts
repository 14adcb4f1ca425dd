import type { RouteModule } from '../context.js';

/** `GET /api/health`: seed 002's JSON; 200 when healthy, 503 when degraded. */
export const healthRoutes: RouteModule = (app, { kit }) => {
  app.get('/api/health', async (_request, reply) => {
    const report = await kit.healthReport();
    reply.code(report.status === 'healthy' ? 200 : 503);
    return report;
  });
};

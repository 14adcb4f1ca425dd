import type { RouteModule } from '../context.js';
import { healthRoutes } from './health.js';
import { queueRoutes } from './queue.js';
import { realtimeRoutes } from './realtime.js';
import { cacheRoutes } from './cache.js';
import { rateLimitRoutes } from './ratelimit.js';
import { leaderRoutes } from './leader.js';
import { sessionRoutes } from './session.js';
import { metricsRoutes } from './metrics.js';

/** Every route module of the reference server, in registration order. */
export const routeModules: RouteModule[] = [
  healthRoutes,
  queueRoutes,
  realtimeRoutes,
  cacheRoutes,
  rateLimitRoutes,
  leaderRoutes,
  sessionRoutes,
  metricsRoutes,
];

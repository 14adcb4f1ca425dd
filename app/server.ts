import Fastify, { type FastifyInstance } from 'fastify';
import type { Redkit } from 'redkit';
import { routeModules } from './routes/index.js';
import type { AppSettings } from './settings.js';

/** Builds the reference server around a toolkit; the caller listens and closes. */
export async function buildServer(kit: Redkit, settings: AppSettings, logger: FastifyInstance['log']): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger, bodyLimit: 64 * 1024 });
  for (const register of routeModules) await register(app, { kit, settings });
  return app;
}

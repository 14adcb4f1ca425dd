import type { FastifyInstance } from 'fastify';
import type { Redkit } from 'redkit';
import type { AppSettings } from './settings.js';

/** What every route module gets. */
export interface AppContext {
  kit: Redkit;
  settings: AppSettings;
}

/** A route module: registers its routes (and its onClose hooks) on the server. */
export type RouteModule = (app: FastifyInstance, ctx: AppContext) => void | Promise<void>;

import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import type { SessionRedisDownPolicy } from 'redkit';
import type { RouteModule } from '../context.js';

declare module 'fastify' {
  interface Session {
    user?: string;
    views?: number;
  }
}

/** Longest accepted `name` of `POST /api/session/login`, in characters. */
export const MAX_SESSION_NAME = 64;

/**
 * Sessions on the kit's store (@fastify/session), in their own plugin scope so that no other
 * route parses cookies: `POST /api/session/login { name }`, `GET /api/session` (counts views),
 * `POST /api/session/logout`. `SESSION_SECRET` (≥ 32 characters) signs cookies; without it a
 * random one per process is used (sessions then end with the process). `SESSION_ON_REDIS_DOWN`
 * is `cache` (default) or `fail`; a store error with a `statusCode` (503) answers with it.
 */
export const sessionRoutes: RouteModule = async (app, { kit, settings }) => {
  const env = settings.env;
  const policy = (env.SESSION_ON_REDIS_DOWN ?? 'cache') as SessionRedisDownPolicy;
  if (policy !== 'cache' && policy !== 'fail') throw new Error(`SESSION_ON_REDIS_DOWN must be "cache" or "fail" (got "${policy}")`);
  let secret = env.SESSION_SECRET;
  if (secret !== undefined && secret.length < 32) throw new Error('SESSION_SECRET must be at least 32 characters');
  if (secret === undefined) {
    secret = randomBytes(32).toString('hex');
    app.log.warn('SESSION_SECRET is not set: using a random secret, so sessions end when this process does and other instances cannot read them');
  }
  const store = kit.sessionStore({ onRedisDown: policy });
  await app.register(async (scope) => {
    await scope.register(fastifyCookie);
    await scope.register(fastifySession, { store, secret: secret!, saveUninitialized: false, cookie: { secure: 'auto', maxAge: 86_400_000 } });

    scope.post('/api/session/login', async (request, reply) => {
      const name = (request.body as { name?: unknown } | null)?.name;
      if (typeof name !== 'string' || name.trim().length === 0 || name.length > MAX_SESSION_NAME) {
        return reply.code(400).send({ error: 'E_INVALID_BODY', message: `send { "name": "…" }: a non-empty string of at most ${MAX_SESSION_NAME} characters` });
      }
      await request.session.regenerate();
      request.session.user = name;
      request.session.views = 0;
      return { user: name };
    });
    scope.get('/api/session', async (request) => {
      if (!request.session.user) return { user: null, mode: kit.mode };
      request.session.views = (request.session.views ?? 0) + 1;
      return { user: request.session.user, views: request.session.views, mode: kit.mode };
    });
    scope.post('/api/session/logout', async (request) => {
      await request.session.destroy();
      return { ok: true };
    });
  });
};

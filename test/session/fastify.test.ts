// A real fastify + @fastify/session app on the store (passed as is), against a real redis-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import type { Redkit, SessionStoreOptions } from '../../src/index.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';
import { browser, capturingLogger } from './helpers.js';
import { keysEverywhere } from '../helpers/keys.js';

declare module 'fastify' {
  interface Session {
    user?: string;
    views?: number;
  }
}

async function startApp(kit: Redkit, options?: SessionStoreOptions): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    store: kit.sessionStore(options),
    secret: 'a-secret-with-at-least-32-characters!',
    saveUninitialized: false,
    cookie: { secure: false, maxAge: 60_000 },
  });
  app.post('/login', async (request) => {
    await request.session.regenerate();
    request.session.user = 'grace-hopper';
    request.session.views = 0;
    return { ok: true };
  });
  app.get('/me', async (request, reply) => {
    if (!request.session.user) return reply.code(401).send({ error: 'not logged in' });
    request.session.views = (request.session.views ?? 0) + 1;
    return { user: request.session.user, views: request.session.views };
  });
  app.post('/logout', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

test('@fastify/session on Redis: Redis killed mid-session → served from the cache; restarted empty → logged out; logout during the outage reaches Redis', async () => {
  const redis = await startRedis();
  const logger = capturingLogger();
  const kit = await kitFor(redis, { logger });
  const app = await startApp(kit);
  try {
    const grace = browser(app.url);
    const carol = browser(app.url);
    await grace.post('/login');
    await carol.post('/login');
    assert.deepEqual((await grace.get('/me')).body, { user: 'grace-hopper', views: 1 });
    assert.deepEqual((await carol.get('/me')).body, { user: 'grace-hopper', views: 1 });
    const before = await keysEverywhere(kit.redis!, `${kit.keys.prefix}:session:*`);
    assert.equal(before.length, 2);

    await redis.kill();
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    const during = await grace.get('/me');
    assert.deepEqual(during.body, { user: 'grace-hopper', views: 2 });
    assert.ok(during.ms < 2000, `took ${during.ms} ms`);
    assert.equal((await carol.post('/logout')).status, 200);
    assert.equal((await carol.get('/me')).status, 401, 'logged out at once on this instance');

    await redis.start(); // empty
    await waitFor(() => kit.mode === 'redis', 10_000, 'reconnect');
    assert.equal((await grace.get('/me')).status, 401, 'Redis lost the session: the user logs in again');
    await grace.post('/login');
    assert.deepEqual((await grace.get('/me')).body, { user: 'grace-hopper', views: 1 });

    const logged = logger.lines.join('\n');
    for (const key of before) assert.ok(!logged.includes(key.split(':').pop()!), 'a session id was logged');
    assert.ok(!logged.includes('grace-hopper'), 'session contents were logged');
  } finally {
    await app.close();
    await kit.close();
    await stopRedis(redis);
  }
});

test('@fastify/session, logout while Redis is paused (its data kept): the destroy is replayed on reconnect', async () => {
  const redis = await startRedis();
  const kit = await kitFor(redis, { commandTimeoutMs: 300 });
  const app = await startApp(kit);
  try {
    const carol = browser(app.url);
    await carol.post('/login');
    assert.equal((await carol.get('/me')).status, 200);
    const [key] = await keysEverywhere(kit.redis!, `${kit.keys.prefix}:session:*`);
    assert.ok(key);
    redis.pause();
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    assert.equal((await carol.post('/logout')).status, 200);
    redis.resume();
    await waitFor(() => kit.mode === 'redis', 10_000, 'reconnect');
    await waitFor(async () => (await kit.redis!.exists(key!)) === 0, 5000, 'the logout reached Redis');
  } finally {
    redis.resume();
    await app.close();
    await kit.close();
    await stopRedis(redis);
  }
});

test('@fastify/session, onRedisDown "fail": 503 with E_SESSION_UNAVAILABLE while Redis is down, never a hang', async () => {
  const redis = await startRedis();
  const kit = await kitFor(redis);
  const app = await startApp(kit, { onRedisDown: 'fail' });
  try {
    const grace = browser(app.url);
    await grace.post('/login');
    await redis.kill();
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    const refused = await grace.get('/me');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'E_SESSION_UNAVAILABLE');
    assert.ok(refused.ms < 2000, `took ${refused.ms} ms`);
    await redis.start();
    await waitFor(() => kit.mode === 'redis', 10_000, 'reconnect');
    assert.equal((await grace.get('/me')).status, 401);
  } finally {
    await app.close();
    await kit.close();
    await stopRedis(redis);
  }
});

test('@fastify/session standalone: in memory', async () => {
  const kit = await standaloneKit();
  const app = await startApp(kit);
  try {
    const grace = browser(app.url);
    await grace.post('/login');
    assert.deepEqual((await grace.get('/me')).body, { user: 'grace-hopper', views: 1 });
    assert.deepEqual((await grace.get('/me')).body, { user: 'grace-hopper', views: 2 });
    await grace.post('/logout');
    assert.equal((await grace.get('/me')).status, 401);
  } finally {
    await app.close();
    await kit.close();
  }
});

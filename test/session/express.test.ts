// A real express + express-session app on the store, against a real redis-server that the
// tests kill, pause and restart mid-session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import type { Redkit, SessionStoreOptions } from '../../src/index.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';
import { browser, capturingLogger } from './helpers.js';
import { keysEverywhere } from '../helpers/keys.js';

declare module 'express-session' {
  interface SessionData {
    user: string;
    views: number;
  }
}

/** The app: POST /login (regenerate, as apps do against fixation), GET /me counts views, POST /logout. */
async function startApp(kit: Redkit, options?: SessionStoreOptions): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(
    session({ store: kit.sessionStore(options).express(session), secret: 'test-secret', resave: false, saveUninitialized: false, cookie: { maxAge: 60_000 } }),
  );
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = 'ada-lovelace';
      req.session.views = 0;
      res.json({ ok: true });
    });
  });
  app.get('/me', (req, res) => {
    if (!req.session.user) return void res.status(401).json({ error: 'not logged in' });
    req.session.views = (req.session.views ?? 0) + 1;
    res.json({ user: req.session.user, views: req.session.views });
  });
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))));
  app.use((err: Error & { statusCode?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.statusCode ?? 500).json({ code: err.code ?? 'E_INTERNAL', name: err.name });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('express-session on Redis: killed mid-session, sessions served from the cache; restarted empty, users log in again', async () => {
  const redis = await startRedis();
  const logger = capturingLogger();
  const kit = await kitFor(redis, { logger });
  const app = await startApp(kit);
  const other = await startApp(kit); // another instance's store: its cache never saw the session
  try {
    const alice = browser(app.url);
    assert.equal((await alice.post('/login')).status, 200);
    assert.deepEqual((await alice.get('/me')).body, { user: 'ada-lovelace', views: 1 });
    assert.deepEqual((await alice.get('/me')).body, { user: 'ada-lovelace', views: 2 });
    const keys = await keysEverywhere(kit.redis!, `${kit.keys.prefix}:session:*`);
    assert.equal(keys.length, 1, 'one session in Redis, under the kit prefix');
    const pttl = await kit.redis!.pttl(keys[0]!);
    assert.ok(pttl > 55_000 && pttl <= 60_000, `the session key expires with the cookie (pttl=${pttl})`);
    const sid = keys[0]!.split(':').pop()!;

    await redis.kill();
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    // The session this instance saw keeps working, writes included, without waiting on Redis.
    const during = await alice.get('/me');
    assert.deepEqual(during.body, { user: 'ada-lovelace', views: 3 });
    assert.ok(during.ms < 2000, `took ${during.ms} ms`);
    assert.deepEqual((await alice.get('/me')).body, { user: 'ada-lovelace', views: 4 });
    // An instance that never saw it cannot know: 503, and the browser keeps its cookie.
    const elsewhere = browser(other.url);
    elsewhere.cookie = alice.cookie;
    const refused = await elsewhere.get('/me');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'E_SESSION_UNAVAILABLE');
    assert.equal(elsewhere.cookie, alice.cookie, 'no new cookie replaced the real one');
    // A login during the outage works on this instance.
    const bob = browser(app.url);
    assert.equal((await bob.post('/login')).status, 200);
    assert.deepEqual((await bob.get('/me')).body, { user: 'ada-lovelace', views: 1 });

    await redis.start(); // empty: no persistence
    await waitFor(() => kit.mode === 'redis', 10_000, 'reconnect');
    await waitFor(async () => (await keysEverywhere(kit.redis!, `${kit.keys.prefix}:session:*`)).length === 1, 5000, 'the outage login written back');
    // Sessions Redis lost are gone: that user logs in again. The outage's login reached Redis, so every instance knows it.
    assert.equal((await alice.get('/me')).status, 401);
    const bobElsewhere = browser(other.url);
    bobElsewhere.cookie = bob.cookie;
    assert.deepEqual((await bobElsewhere.get('/me')).body, { user: 'ada-lovelace', views: 2 });

    const logged = logger.lines.join('\n');
    assert.ok(
      logger.lines.some((l) => l.includes('in-process cache')),
      'the outage was logged',
    );
    assert.ok(!logged.includes(sid), 'a session id was logged');
    assert.ok(!logged.includes('ada-lovelace'), 'session contents were logged');
  } finally {
    await app.close();
    await other.close();
    await kit.close();
    await stopRedis(redis);
  }
});

test('express-session, onRedisDown "fail": a paused Redis gives 503 within the command timeout; resumed, the session is intact', async () => {
  const redis = await startRedis();
  const kit = await kitFor(redis, { commandTimeoutMs: 300 });
  const app = await startApp(kit, { onRedisDown: 'fail' });
  try {
    const alice = browser(app.url);
    await alice.post('/login');
    assert.deepEqual((await alice.get('/me')).body, { user: 'ada-lovelace', views: 1 });
    redis.pause();
    const refused = await alice.get('/me');
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'E_SESSION_UNAVAILABLE');
    assert.ok(refused.ms < 2000, `took ${refused.ms} ms`);
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
    assert.equal((await alice.get('/me')).status, 503);
    redis.resume();
    await waitFor(() => kit.mode === 'redis', 10_000, 'reconnect');
    assert.deepEqual((await alice.get('/me')).body, { user: 'ada-lovelace', views: 2 });
  } finally {
    redis.resume();
    await app.close();
    await kit.close();
    await stopRedis(redis);
  }
});

test('express-session standalone: sessions in memory, logout destroys', async () => {
  const kit = await standaloneKit();
  const app = await startApp(kit);
  try {
    const alice = browser(app.url);
    assert.equal((await alice.get('/me')).status, 401);
    await alice.post('/login');
    assert.deepEqual((await alice.get('/me')).body, { user: 'ada-lovelace', views: 1 });
    assert.deepEqual((await alice.get('/me')).body, { user: 'ada-lovelace', views: 2 });
    assert.equal((await alice.post('/logout')).status, 200);
    assert.equal((await alice.get('/me')).status, 401);
  } finally {
    await app.close();
    await kit.close();
  }
});

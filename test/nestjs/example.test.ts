// The example Nest app (examples/nest) against a real redis-server: two app instances in this
// process (each its own Nest container and redkit toolkit, same Redis, same key prefix), the
// way two replicas of one service share a Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { Redkit } from '../../src/index.js';
import { REDIS_CLIENT, REDKIT, RedkitThrottlerStorage, RedkitLockService, RedkitCacheService } from '../../src/nestjs/index.js';
import { RedisInfoService } from '../../examples/nest/system/redis-info.service.js';
import { AuthCacheService } from '../../examples/nest/auth/auth-cache.service.js';
import { CleanupScheduler } from '../../examples/nest/scheduler/cleanup.scheduler.js';
import { bootExample, redisOptions, type ExampleApp } from './example.js';

let server: RedisServer;
let a: ExampleApp;
let b: ExampleApp;
const closed = new Set<ExampleApp>();

before(async () => {
  server = await startRedis();
  const prefix = randomPrefix();
  a = await bootExample(redisOptions(server, prefix, 'nest-a'));
  b = await bootExample(redisOptions(server, prefix, 'nest-b'));
});
after(async () => {
  for (const app of [a, b]) if (app && !closed.has(app)) await app.app.close();
  await stopRedis(server);
});

const get = (app: ExampleApp, path: string, init?: RequestInit) => fetch(`${app.url}${path}`, init);

test('REDIS_CLIENT is the very ioredis client the toolkit uses; Redkit, REDKIT and the services share one toolkit', async () => {
  for (const { app } of [a, b]) {
    const kit = app.get<Redkit>(REDKIT);
    assert.equal(kit.mode, 'redis');
    assert.ok(kit.redis, 'a client in redis mode');
    assert.equal(app.get(REDIS_CLIENT), kit.redis);
    assert.equal(app.get(Redkit), kit);
    // The example's @Optional() @Inject(REDIS_CLIENT) consumer got the same object.
    assert.equal(app.get(RedisInfoService).redis, kit.redis);
    // The throttler counts through this toolkit, and the services act on it: a lock taken through
    // the service is seen by the toolkit's own lock manager.
    assert.ok(app.get(RedkitThrottlerStorage) instanceof RedkitThrottlerStorage);
    // restartGuard 0: this redis-server just started, and the probe has nothing to protect.
    const lock = await app.get(RedkitLockService).acquire('identity-probe', { ttl: 5000, restartGuard: 0 });
    await assert.rejects(kit.lock.acquire('identity-probe', { restartGuard: 0 }), { code: 'E_LOCK_BUSY', reason: 'busy' });
    await lock.release();
    assert.equal(app.get(RedkitCacheService).namespace('gallery'), kit.cache.namespace('gallery'));
  }
  assert.notEqual(a.app.get(REDKIT), b.app.get(REDKIT));
  // No second connection for REDIS_CLIENT: the server sees this instance's command client only once.
  const clients = (await a.app.get<Redkit>(REDKIT).redis!.client('LIST')) as string;
  const commandClients = clients.split('\n').filter((line) => line.includes('name=redkit:nest-a:command'));
  assert.equal(commandClients.length, 1, clients);
  const version = (await (await get(a, '/api/system/redis')).json()) as { configured: boolean; version: string };
  assert.equal(version.configured, true);
  assert.match(version.version, /^\d+\.\d+/);
});

test('the auth cache is shared through Redis: a session looked up on one instance is a hit on the other', async () => {
  const headers = { authorization: 'Bearer user-7' };
  assert.deepEqual(await (await get(a, '/api/auth/me', { headers })).json(), { id: '7', name: 'User 7' });
  assert.deepEqual(await (await get(b, '/api/auth/me', { headers })).json(), { id: '7', name: 'User 7' });
  assert.equal(a.app.get(AuthCacheService).storeLookups + b.app.get(AuthCacheService).storeLookups, 1);
  assert.equal((await get(b, '/api/auth/session', { method: 'DELETE', headers })).status, 204);
  await get(a, '/api/auth/me', { headers });
  assert.equal(a.app.get(AuthCacheService).storeLookups + b.app.get(AuthCacheService).storeLookups, 2);
  assert.equal((await get(a, '/api/auth/me', { headers: { authorization: 'Bearer nope!' } })).status, 401);
});

test('the lock-guarded job runs once at a time across instances: the second caller gets 409', async () => {
  // This redis-server started moments ago: the lock grants nothing for one lease (1.5 s) after a
  // (re)start, and the route says so with a 503; then it grants.
  await waitFor(
    async () => {
      const res = await get(a, '/api/reports/rebuild?workMs=1', { method: 'POST' });
      if (res.status === 503) assert.ok(((await res.json()) as { retryAfterMs: number }).retryAfterMs >= 0);
      return res.status === 200;
    },
    5000,
    'the restart guard to pass',
    100,
  );
  const [first, second] = await Promise.all([
    get(a, '/api/reports/rebuild?workMs=800', { method: 'POST' }),
    // Sent a little later so that the first holds the lock; both overlap for most of 800 ms.
    new Promise<Response>((resolve) => setTimeout(() => resolve(get(b, '/api/reports/rebuild?workMs=10', { method: 'POST' })), 150)),
  ]);
  assert.equal(first.status, 200);
  assert.equal(second.status, 409);
  const again = await get(b, '/api/reports/rebuild?workMs=10', { method: 'POST' });
  assert.equal(again.status, 200);
  const fences = [((await first.json()) as { fence: number }).fence, ((await again.json()) as { fence: number }).fence];
  assert.ok(fences[1]! > fences[0]!, `fences increase: ${fences}`);
});

test('the 11th request on the 10/min gallery route gets 429, counted in Redis across both instances', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) statuses.push((await get(i % 2 ? b : a, '/api/gallery/alice?page=1')).status);
  assert.deepEqual(statuses, [...Array(10).fill(200), 429]);
  const limited = await get(a, '/api/gallery/alice?page=1');
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
  // Other routes keep their own (default) limit.
  assert.equal((await get(a, '/api/scheduler')).status, 200);
});

test('the leader-only cleanup runs on exactly one of the two instances', async () => {
  const schedulers = [a.app.get(CleanupScheduler), b.app.get(CleanupScheduler)];
  await waitFor(() => schedulers.some((s) => s.runs >= 5), 10_000, 'five cleanup runs');
  const leaders = schedulers.filter((s) => s.isLeader);
  assert.equal(leaders.length, 1);
  const follower = schedulers.find((s) => !s.isLeader)!;
  assert.equal(follower.runs, 0, 'the follower never ran the cleanup');
  const status = await Promise.all([a, b].map(async (app) => (await get(app, '/api/scheduler')).json() as Promise<{ leader: boolean; runs: number }>));
  assert.deepEqual(status.map((s) => s.leader).sort(), [false, true]);
});

test('terminus health goes down when Redis is killed and up when it returns; /api/health says degraded then healthy', async () => {
  const terminus = async () => {
    const res = await get(a, '/api/health/terminus');
    return { code: res.status, body: (await res.json()) as { status: string; details: { redis: { status: string; redis: string } } } };
  };
  const up = await terminus();
  assert.equal(up.code, 200);
  assert.equal(up.body.status, 'ok');
  assert.equal(up.body.details.redis.status, 'up');
  assert.equal(up.body.details.redis.redis, 'connected');

  await server.kill();
  const down = await terminus();
  assert.equal(down.code, 503);
  assert.equal(down.body.status, 'error');
  assert.equal(down.body.details.redis.status, 'down');
  assert.equal(down.body.details.redis.redis, 'disconnected');
  const seed = await get(a, '/api/health');
  assert.equal(seed.status, 503);
  const report = (await seed.json()) as { status: string; redis: { status: string; message: string } };
  assert.equal(report.status, 'degraded');
  assert.equal(report.redis.status, 'disconnected');
  // The app keeps serving: caches miss and the loader runs; the lock refuses honestly.
  assert.equal((await get(a, '/api/auth/me', { headers: { authorization: 'Bearer user-9' } })).status, 200);
  assert.equal((await get(a, '/api/reports/rebuild?workMs=1', { method: 'POST' })).status, 503);

  await server.start();
  const back = await waitFor(
    async () => {
      const r = await terminus();
      return r.code === 200 ? r : null;
    },
    10_000,
    'terminus up again',
  );
  assert.equal(back.value!.body.details.redis.status, 'up');
  assert.equal((await get(a, '/api/health')).status, 200);
});

test('closing the leading app hands the cleanup over to the other instance', async () => {
  const schedulers = [a.app.get(CleanupScheduler), b.app.get(CleanupScheduler)];
  // After the restart above both re-campaign; wait until one leads again.
  await waitFor(() => schedulers.some((s) => s.isLeader), 10_000, 'a leader after the restart');
  const leaderIsA = schedulers[0]!.isLeader;
  const [leaderApp, other] = leaderIsA ? [a, schedulers[1]!] : [b, schedulers[0]!];
  const runsBefore = other.runs;
  closed.add(leaderApp);
  await leaderApp.app.close();
  await waitFor(() => other.isLeader && other.runs > runsBefore, 5000, 'the other instance leads and runs');
});

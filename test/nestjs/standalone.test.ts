// The same example app with no Redis configured at all: standalone mode, everything in memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/util.js';
import type { Redkit } from '../../src/index.js';
import { REDIS_CLIENT, REDKIT } from '../../src/nestjs/index.js';
import { RedisInfoService } from '../../examples/nest/system/redis-info.service.js';
import { AuthCacheService } from '../../examples/nest/auth/auth-cache.service.js';
import { CleanupScheduler } from '../../examples/nest/scheduler/cleanup.scheduler.js';
import { bootExample, standaloneOptions, type ExampleApp } from './example.js';

let app: ExampleApp;
before(async () => {
  app = await bootExample(standaloneOptions());
});
after(async () => {
  await app?.app.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${app.url}${path}`, init);

test('REDIS_CLIENT is null and the @Optional() consumer branches on it', async () => {
  const kit = app.app.get<Redkit>(REDKIT);
  assert.equal(kit.mode, 'standalone');
  assert.equal(kit.redis, null);
  assert.equal(app.app.get(REDIS_CLIENT), null);
  assert.equal(app.app.get(RedisInfoService).redis, null);
  assert.deepEqual(await (await get('/api/system/redis')).json(), { configured: false });
});

test('health: /api/health says healthy/not_configured, terminus says up', async () => {
  const seed = await get('/api/health');
  assert.equal(seed.status, 200);
  const report = (await seed.json()) as { status: string; mode: string; redis: { status: string; latency: null } };
  assert.equal(report.status, 'healthy');
  assert.equal(report.mode, 'standalone');
  assert.equal(report.redis.status, 'not_configured');
  const terminus = await get('/api/health/terminus');
  assert.equal(terminus.status, 200);
  const body = (await terminus.json()) as { status: string; details: { redis: { status: string; redis: string } } };
  assert.equal(body.status, 'ok');
  assert.deepEqual([body.details.redis.status, body.details.redis.redis], ['up', 'not_configured']);
});

test('the routes serve: auth cache hits in memory, 11th gallery request gets 429, the lock excludes in-process', async () => {
  const headers = { authorization: 'Bearer user-3' };
  for (let i = 0; i < 3; i++) assert.equal((await get('/api/auth/me', { headers })).status, 200);
  assert.equal(app.app.get(AuthCacheService).storeLookups, 1);

  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) statuses.push((await get('/api/gallery/bob')).status);
  assert.deepEqual(statuses, [...Array(10).fill(200), 429]);

  const [first, second] = await Promise.all([
    get('/api/reports/rebuild?workMs=500', { method: 'POST' }),
    new Promise<Response>((resolve) => setTimeout(() => resolve(get('/api/reports/rebuild?workMs=1', { method: 'POST' })), 100)),
  ]);
  assert.deepEqual([first.status, second.status], [200, 409]);
});

test('the leader-only cleanup runs: a lone instance leads', async () => {
  const scheduler = app.app.get(CleanupScheduler);
  await waitFor(() => scheduler.runs >= 3, 5000, 'three cleanup runs');
  assert.equal(scheduler.isLeader, true);
  const runsBefore = scheduler.runs;
  const status = (await (await get('/api/scheduler')).json()) as { instanceId: string; leader: boolean; runs: number };
  // The cleanup keeps running (every 100 ms) while the request is served.
  assert.deepEqual([status.instanceId, status.leader], ['solo', true]);
  assert.ok(status.runs >= runsBefore, `${status.runs} >= ${runsBefore}`);
});

// A real NestJS app with @nestjs/throttler on redkit's storage, two instances sharing Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { INestApplication } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { randomPrefix, waitFor } from '../helpers/util.js';
import { RedkitThrottlerStorage, type Redkit } from '../../src/index.js';
import { startNestApp } from './fixtures/nest-app.js';

// Compile-time proof that the storage is exactly @nestjs/throttler v6's ThrottlerStorage.
const typeCheck: (s: RedkitThrottlerStorage) => ThrottlerStorage = (s) => s;
void typeCheck;

const LIMIT = 5;
let server: RedisServer;
let kits: Redkit[] = [];
let apps: Array<{ app: INestApplication; url: string }> = [];
before(async () => {
  server = await startRedis();
  const keyPrefix = randomPrefix();
  kits = [await kitFor(server, { keyPrefix, instanceId: 'nest-a' }), await kitFor(server, { keyPrefix, instanceId: 'nest-b' })];
  apps = [await startNestApp(kits[0]!, LIMIT), await startNestApp(kits[1]!, LIMIT)];
});
after(async () => {
  for (const { app } of apps) await app.close();
  for (const kit of kits) await kit.close();
  await stopRedis(server);
});

test('the (limit+1)th request across two app instances gets 429 with the throttler headers', async () => {
  const responses = [];
  for (let i = 0; i <= LIMIT; i++) responses.push(await fetch(`${apps[i % 2]!.url}/hello`));
  for (const [i, res] of responses.slice(0, LIMIT).entries()) {
    assert.equal(res.status, 200, `request ${i + 1}`);
    assert.equal(res.headers.get('x-ratelimit-limit'), String(LIMIT));
    assert.equal(res.headers.get('x-ratelimit-remaining'), String(LIMIT - i - 1));
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    assert.ok(reset > 0 && reset <= 60, `reset ${reset}`);
  }
  const limited = responses[LIMIT]!;
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= 60, `retry-after ${retryAfter}`);
  const body = (await limited.json()) as { statusCode: number; message: string };
  assert.equal(body.statusCode, 429);
  // Blocked on both instances, for the block duration (default: ttl).
  assert.equal((await fetch(`${apps[0]!.url}/hello`)).status, 429);
  assert.equal((await fetch(`${apps[1]!.url}/hello`)).status, 429);
});

test('@Throttle per-route limit and blockDuration in ms are honoured', async () => {
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await fetch(`${apps[i % 2]!.url}/strict`)).status);
  assert.deepEqual(statuses, [200, 200, 429]);
  const blocked = await fetch(`${apps[0]!.url}/strict`);
  assert.equal(blocked.status, 429);
  const retryAfter = Number(blocked.headers.get('retry-after'));
  assert.ok(retryAfter >= 1 && retryAfter <= 5, `retry-after ${retryAfter} s for a 5 s block`);
});

test('Redis killed: requests are still answered (local share, no 500); Redis back: shared again', async () => {
  // Heartbeats run every few seconds; beat now so that both instances know there are two.
  for (const kit of [...kits, kits[0]!]) await kit.rateLimiter({ limit: 1, windowMs: 1000 }).refreshLiveInstances();
  await server.kill();
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await fetch(`${apps[0]!.url}/strict`)).status);
  // The local limiter decides. This client was blocked by Redis (5 s) in the previous test, and
  // the block Redis last gave is remembered: no fresh local share before it ends.
  assert.ok(!statuses.includes(500), JSON.stringify(statuses));
  assert.deepEqual(statuses, [429, 429, 429, 429]);
  await server.start();
  await waitFor(() => kits.every((k) => k.mode === 'redis'), 10_000, 'reconnected');
  const after = [];
  for (let i = 0; i < 3; i++) after.push((await fetch(`${apps[i % 2]!.url}/strict`)).status);
  assert.deepEqual(after, [200, 200, 429]);
});

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createRedkit, LockBusyError, silentLogger, type Redkit } from '../../src/index.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, waitFor } from '../helpers/util.js';

let server: RedisServer | undefined;
let admin: Redis | undefined;
let kit: Redkit | undefined;
after(async () => {
  await kit?.close();
  admin?.disconnect();
  await stopRedis(server);
});

test('without INFO, a Redis that restarted empty grants nothing for one guard, then fences keep increasing', async () => {
  server = await startRedis();
  const prefix = randomPrefix('rg');
  admin = new Redis({ port: server.port, host: server.host, lazyConnect: true, retryStrategy: () => 20 });
  await admin.connect();
  const createUser = () =>
    admin!.call('ACL', 'SETUSER', 'app', 'on', '>pw', 'resetkeys', `~${prefix}:*`, 'resetchannels', `&${prefix}:*`, '+@all', '-@dangerous');
  await createUser();
  kit = await createRedkit({
    url: `redis://app:pw@127.0.0.1:${server.port}`,
    keyPrefix: prefix,
    env: {},
    logger: silentLogger,
    connectTimeoutMs: 2000,
    commandTimeoutMs: 1000,
    healthIntervalMs: 200,
    backoff: { baseMs: 20, maxMs: 200 },
  });

  const TTL = 1500;
  const first = await kit.lock.acquire('invoice', { ttl: TTL, wait: TTL + 2000 });
  const fenceBefore = first.fence;
  const marker = await admin.get(`${prefix}:lock:marker`);
  assert.ok(marker, 'the marker was created');

  // kill -9 and start empty: the holder above still believes it holds for up to TTL.
  await server.restart();
  await waitFor(() => admin!.status === 'ready', 5000, 'admin reconnected');
  await createUser();
  await waitFor(() => kit!.mode === 'redis', 5000, 'kit reconnected');

  const refused = await kit.lock.acquire('invoice', { ttl: TTL }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(refused instanceof LockBusyError && refused.reason === 'restart-guard', `got ${String(refused)}`);
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= TTL, `retry after ${refused.retryAfterMs}`);
  const newMarker = await admin.get(`${prefix}:lock:marker`);
  assert.ok(newMarker && newMarker !== marker, 'a new marker for the emptied Redis');

  const start = Date.now();
  const second = await kit.lock.acquire('invoice', { ttl: TTL, wait: TTL + 3000 });
  assert.ok(Date.now() - start >= refused.retryAfterMs - 50, 'granted only once the guard passed');
  assert.ok(second.fence > fenceBefore, `fence ${second.fence} > ${fenceBefore}`);
  await second.release();
});

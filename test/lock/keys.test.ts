import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { kitFor } from '../helpers/kit.js';
import { stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { sleep } from '../helpers/util.js';
import type { Redkit } from '../../src/index.js';
import { agedRedis } from './setup.js';

// What the lock leaves in Redis: every key it writes expires on its own, and what it keeps
// between grants (fence, run marker) may vanish without a fence ever going back.

let server: RedisServer;
let kit: Redkit;
before(async () => {
  server = await agedRedis();
  kit = await kitFor(server, { commandTimeoutMs: 2000 });
});
after(async () => {
  await kit?.close();
  if (server) await stopRedis(server);
});

/** Every key under the kit's prefix with its PTTL (-1: no TTL). */
async function keysWithTtl(): Promise<Map<string, number>> {
  const client = kit.connection.client!;
  const keys = await client.keys(`${kit.keys.key('')}*`);
  const out = new Map<string, number>();
  for (const key of keys) out.set(key, await client.pttl(key));
  return out;
}

test('every key a lock, semaphore or waiter writes carries a TTL', async () => {
  // TTLs ≤ 1 s: the server is only ~2 s old (restart guard, see agedRedis).
  // Uncontended grant and release; a waiter queued and handed over; an extended lock; a waiter
  // that gave up (cancel); a semaphore; an expired holder replaced.
  const plain = await kit.lock.acquire('plain', { ttl: 1000 });
  await plain.release();
  const held = await kit.lock.acquire('queued', { ttl: 1000 });
  const waiter = kit.lock.acquire('queued', { ttl: 1000, wait: 5000 });
  await sleep(50);
  await held.release();
  await (await waiter).release();
  const extended = await kit.lock.acquire('extended', { ttl: 300 });
  await extended.extend(5000);
  const blocker = await kit.lock.acquire('cancelled', { ttl: 1000 });
  await assert.rejects(kit.lock.acquire('cancelled', { ttl: 1000, wait: 100 }));
  await blocker.release();
  const sem = kit.lock.semaphore('sem', 2);
  const slots = await Promise.all([sem.acquire({ ttl: 1000 }), sem.acquire({ ttl: 1000 })]);
  await Promise.all(slots.map((s) => s.release()));
  await kit.lock.acquire('expired', { ttl: 100 });
  await sleep(150);
  await (await kit.lock.acquire('expired', { ttl: 1000 })).release();

  const keys = await keysWithTtl();
  assert.ok(keys.size >= 6, `the operations wrote keys (${[...keys.keys()].join(', ')})`);
  const immortal = [...keys].filter(([, ttl]) => ttl < 0).map(([key]) => key);
  assert.deepEqual(immortal, [], 'no key without a TTL');
  await extended.release();
});

test('a name whose keys ran out grants again, with a higher fence', async () => {
  const first = await kit.lock.acquire('lapsed', { ttl: 100 });
  await first.release();
  await sleep(200);
  const left = [...(await keysWithTtl()).keys()].filter((k) => k.includes('lapsed'));
  assert.deepEqual(left, [], 'a released lock leaves nothing once its lease is over');
  const second = await kit.lock.acquire('lapsed', { ttl: 1000 });
  assert.ok(second.fence > first.fence, `fence ${second.fence} after ${first.fence}`);
  await second.release();
});

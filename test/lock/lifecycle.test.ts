import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { stopRedis } from '../helpers/redis-server.js';
import { sleep } from '../helpers/util.js';
import { LockBusyError, type Redkit } from '../../src/index.js';
import { agedRedis } from './setup.js';

// Held locks, a waiter, an election and a `using` in flight: close() must end them all and leave no timer behind.
async function exercise(kit: Redkit): Promise<void> {
  await kit.lock.acquire('held', { ttl: 1000 });
  const waiter = kit.lock.acquire('held', { ttl: 1000, wait: 5000 }).then(
    () => 'granted',
    (err: unknown) => err,
  );
  const election = kit.leader.campaign('role', { ttl: 600 });
  await new Promise((resolve) => election.once('elected', resolve));
  const follower = kit.leader.campaign('role', { ttl: 600 });
  await kit.lock.using(
    'u',
    async () => {
      await sleep(30);
    },
    { ttl: 300 },
  );
  await kit.close();
  const outcome = await waiter;
  assert.ok(outcome instanceof LockBusyError && outcome.reason === 'aborted', 'the waiter is told at close');
  assert.equal(election.isLeader, false);
  assert.equal(follower.isLeader, false);
  await sleep(50);
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout');
  assert.deepEqual(timers, [], 'no timer outlives close()');
}

test('standalone: close() ends locks, waiters and elections and leaks no timer', async () => {
  await exercise(await standaloneKit());
});

test('redis: close() ends locks, waiters and elections and leaks no timer', async () => {
  const server = await agedRedis();
  try {
    await exercise(await kitFor(server));
  } finally {
    await stopRedis(server);
  }
});

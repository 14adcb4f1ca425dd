import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { kitFor } from '../helpers/kit.js';
import { stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix, sleep, waitFor } from '../helpers/util.js';
import { LockBusyError, RedisUnavailableError, type Redkit } from '../../src/index.js';
import { agedRedis } from './setup.js';

// Each test leaves the server running and the kit connected for the next one.
// Generous for a loaded 2-core machine; the bounds below are this plus scheduling slack.
const COMMAND_TIMEOUT_MS = 500;
let server: RedisServer;
let kit: Redkit;
before(async () => {
  server = await agedRedis();
  kit = await kitFor(server, { commandTimeoutMs: COMMAND_TIMEOUT_MS });
});
after(async () => {
  await kit.close();
  await stopRedis(server);
});

async function waitUp(): Promise<void> {
  await waitFor(() => kit.mode === 'redis', 10_000, 'the kit to reconnect');
}

/**
 * Runs `fn` until it settles with anything but RedisUnavailableError: on a loaded machine the
 * health probe can time out right after a recovery, which is not what these steps test.
 */
async function settled<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 8000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RedisUnavailableError) || Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

test('Redis killed: acquire fails fast with RedisUnavailableError; the local fallback is opt-in', async () => {
  const name = randomPrefix('n');
  await server.kill();
  await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
  const start = performance.now();
  await assert.rejects(
    kit.lock.acquire(name, { ttl: 500, wait: 2000 }),
    (err: unknown) => err instanceof RedisUnavailableError && err.code === 'E_REDIS_UNAVAILABLE',
  );
  assert.ok(performance.now() - start < COMMAND_TIMEOUT_MS + 500, 'within the command timeout');
  const local = await kit.lock.acquire(name, { ttl: 500, fallback: 'local' });
  assert.equal(local.local, true);
  await assert.rejects(kit.lock.acquire(name, { ttl: 500, fallback: 'local' }), LockBusyError, 'the fallback still excludes this process');
  await local.release();
  await server.start();
  await waitUp();
});

test('Redis paused (SIGSTOP): acquire fails within the command timeout, never grants', async () => {
  const name = randomPrefix('n');
  await sleep(2100); // the restart guard of the previous test's restart (uptime has 1 s resolution)
  server.pause();
  try {
    const start = performance.now();
    await assert.rejects(kit.lock.acquire(name, { ttl: 5000 }), RedisUnavailableError);
    const took = performance.now() - start;
    assert.ok(took < COMMAND_TIMEOUT_MS + 700, `failed after ${took} ms`);
  } finally {
    server.resume();
  }
  await waitUp();
  // The script sent while Redis was paused ran on resume and granted a slot to nobody: the kit
  // withdraws that token in the background, so the lock is free well before its 5 s ttl.
  const resumed = Date.now();
  await waitFor(
    () =>
      settled(async () => {
        const lock = await kit.lock.acquire(name, { ttl: 500 });
        await lock.release();
        return true;
      }),
    8000,
    'a grant after resume',
    100,
  );
  assert.ok(Date.now() - resumed < 4000, `granted ${Date.now() - resumed} ms after resume`);
});

test('Redis restarted: no grant for one TTL, then fences continue above the old ones', async () => {
  const name = randomPrefix('n');
  const ttl = 2500;
  await waitUp();
  const before = await settled(() => kit.lock.acquire(name, { ttl, restartGuard: 1000 }));
  // The new server starts after this instant, so the guard holds grants back until at least serverUpAt + ttl.
  const serverUpAt = Date.now();
  await server.restart();
  await waitUp();
  await assert.rejects(
    settled(() => kit.lock.acquire(name, { ttl })),
    (err: unknown) => err instanceof LockBusyError && err.reason === 'restart-guard',
  );
  await assert.rejects(
    settled(() => kit.lock.acquire(randomPrefix('other'), { ttl })),
    (err: unknown) => err instanceof LockBusyError && err.reason === 'restart-guard',
    'every name waits: Redis cannot tell which existed',
  );
  const after = await settled(() => kit.lock.acquire(name, { ttl, wait: 6000 }));
  const waited = Date.now() - serverUpAt;
  assert.ok(waited >= ttl, `granted ${waited} ms after the restart`);
  assert.ok(after.fence > before.fence, 'the fence survived the restart without persistence');
  assert.equal(await settled(() => before.release()), false, 'the pre-restart holder is told it held nothing');
  assert.equal(await settled(() => after.release()), true);
});

test('using: Redis killed while fn runs → the signal aborts before the lease could expire elsewhere', async () => {
  const name = randomPrefix('n');
  await sleep(2100); // the restart guard (uptime has 1 s resolution)
  let abortedAt = 0;
  let killedAt = 0;
  const run = kit.lock.using(
    name,
    async (signal) => {
      await server.kill();
      killedAt = Date.now();
      await new Promise<void>((resolve) =>
        signal.addEventListener('abort', () => {
          abortedAt = Date.now();
          resolve();
        }),
      );
      return 'aborted';
    },
    { ttl: 600 },
  );
  assert.equal(await run, 'aborted');
  // The last extension was sent before the kill, so the local lease ends within one ttl of it.
  assert.ok(abortedAt - killedAt <= 600 + 200, `aborted ${abortedAt - killedAt} ms after the kill`);
  await server.start();
  await waitUp();
});

test('release() while Redis is down rejects with RedisUnavailableError at once; the lock is dropped locally', async () => {
  const name = randomPrefix('n');
  await sleep(2100); // the restart guard of the previous test's restart (uptime has 1 s resolution)
  const lock = await settled(() => kit.lock.acquire(name, { ttl: 5000, wait: 8000 })); // waits out the restart guard
  await server.kill();
  await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
  const start = performance.now();
  await assert.rejects(lock.release(), (err: unknown) => err instanceof RedisUnavailableError);
  assert.ok(performance.now() - start < COMMAND_TIMEOUT_MS, 'fails fast, no command timeout waited');
  assert.equal(lock.held, false, 'the holder no longer trusts the lease');
  assert.equal(lock.signal.aborted, true);
  assert.equal(await lock.release(), false, 'a second release changes nothing');
  await server.start();
  await waitUp();
});

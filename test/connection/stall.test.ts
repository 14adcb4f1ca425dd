import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisUnavailableError, type Redkit } from '../../src/index.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { waitFor } from '../helpers/util.js';

// A stalled Redis (SIGSTOP: the TCP connection stays open, nothing answers) with the DEFAULT
// command timeout (2000 ms). Bounds are generous for a loaded 2-core machine but still prove
// the point: all of them are under one command timeout. Exact figures: bench/faults.ts.
const COMMAND_TIMEOUT_MS = 2000;

describe('connection: a stalled Redis with the default command timeout', () => {
  let server: RedisServer;
  let kit: Redkit;
  before(async () => {
    server = await startRedis();
    kit = await kitFor(server, { commandTimeoutMs: COMMAND_TIMEOUT_MS, healthIntervalMs: 1000 });
  });
  after(async () => {
    server?.resume();
    await kit?.close();
    await stopRedis(server);
  });

  test('SIGSTOP: disconnected (TIMEOUT) within 1.8 s of the first unanswered command; the command fails then, not after 2 s', async () => {
    await waitFor(() => kit.mode === 'redis', 3000, 'connected');
    server.pause();
    try {
      const started = performance.now();
      let disconnectedAt = 0;
      kit.connection.once('disconnected', () => {
        disconnectedAt = performance.now() - started;
      });
      const err = await kit.connection.run((c) => c.get('x')).catch((e: unknown) => e);
      const failedAfter = performance.now() - started;
      assert.ok(err instanceof RedisUnavailableError, String(err));
      assert.equal(err.reason, 'TIMEOUT');
      assert.ok(disconnectedAt > 0 && disconnectedAt < 1800, `disconnected after ${Math.round(disconnectedAt)} ms`);
      assert.ok(failedAfter < 1800, `the command failed after ${Math.round(failedAfter)} ms (command timeout ${COMMAND_TIMEOUT_MS})`);
      const health = await kit.health();
      assert.equal(health.status, 'disconnected');
      assert.equal(health.lastError?.reason, 'TIMEOUT');
      assert.match(health.message, /not answered/);
    } finally {
      server.resume();
    }
    await waitFor(() => kit.mode === 'redis', 3000, 'connected after SIGCONT');
  });

  test('a request of two Redis calls during a stall finishes within one command timeout; later calls fail in ms', async () => {
    await waitFor(() => kit.mode === 'redis', 3000, 'connected');
    server.pause();
    try {
      const started = performance.now();
      // Like POST /api/moderate: a rate-limit call, then a cache read, each degrading on failure.
      const first = await kit.connection.run((c) => c.incr('rl')).catch((e: unknown) => e);
      const second = await kit.connection.run((c) => c.get('cache')).catch((e: unknown) => e);
      const total = performance.now() - started;
      assert.ok(first instanceof RedisUnavailableError && second instanceof RedisUnavailableError);
      assert.ok(total < COMMAND_TIMEOUT_MS, `the request waited ${Math.round(total)} ms in total`);
      const t = performance.now();
      const third = await kit.connection.run((c) => c.get('cache')).catch((e: unknown) => e);
      assert.ok(third instanceof RedisUnavailableError);
      assert.ok(performance.now() - t < 50, 'fails fast while the stall is known');
    } finally {
      server.resume();
    }
    await waitFor(() => kit.mode === 'redis', 3000, 'connected after SIGCONT');
  });

  test('health during a pause never waits past the stall bound, says disconnected within ~1 s of asking, then answers in ms', async () => {
    await waitFor(() => kit.mode === 'redis', 3000, 'connected');
    server.pause();
    try {
      // An ask PINGs first when nothing was heard for over 1 s (issue 16): it may wait that PING,
      // bounded by the stall bound, and it may say connected only if Redis answered within ~1 s.
      const paused = performance.now();
      let status = 'connected';
      while (status !== 'disconnected') {
        const t = performance.now();
        status = (await kit.healthReport()).redis.status;
        const took = performance.now() - t;
        assert.ok(took < 1500, `healthReport took ${Math.round(took)} ms (stall bound ${kit.connection.stallMs} ms)`);
        assert.ok(performance.now() - paused < 2000, 'still connected 2 s into the pause');
        await new Promise((r) => setTimeout(r, 50));
      }
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const report = await kit.healthReport();
        const took = performance.now() - t;
        assert.ok(took < 50, `healthReport took ${took} ms once the stall was known`);
        assert.equal(report.redis.status, 'disconnected');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      server.resume();
    }
  });

  test('SIGCONT: connected again quickly (as after a restart), commands work, latency measured', async () => {
    await waitFor(() => kit.mode === 'redis', 3000, 'connected');
    server.pause();
    try {
      await kit.connection.run((c) => c.get('x')).catch(() => undefined);
      assert.equal(kit.mode, 'degraded');
    } finally {
      server.resume();
    }
    const up = await waitFor(() => kit.mode === 'redis', 3000, 'connected after SIGCONT');
    assert.ok(up.elapsedMs < 1500, `connected ${Math.round(up.elapsedMs)} ms after SIGCONT`);
    assert.equal(await kit.connection.run((c) => c.ping()), 'PONG');
    await waitFor(async () => typeof (await kit.health()).latency === 'number', 2500, 'latency from the probe');
  });

  test('this process blocked (not Redis) while a reply waits unread: not a stall', async () => {
    await waitFor(() => kit.mode === 'redis', 3000, 'connected');
    let flaps = 0;
    const onDown = () => {
      flaps++;
    };
    kit.connection.on('disconnected', onDown);
    try {
      // Redis works 300 ms on a script: the watchdog sees it outstanding. Meanwhile this process
      // blocks for 1.5 s, so the answer sits unread in the socket when the next timer fires.
      const slow = kit.connection.run((c) =>
        c.eval(
          "local t = redis.call('TIME'); local start = t[1] * 1000000 + t[2]; repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 300000; return 1",
          0,
        ),
      );
      await new Promise((r) => setTimeout(r, 150));
      // Blocked after the poll phase (like a slow request handler), so that the next loop turn
      // runs timers before it reads the socket.
      await new Promise<void>((r) =>
        setImmediate(() => {
          const until = performance.now() + 1500;
          while (performance.now() < until) {
            /* a long synchronous task */
          }
          r();
        }),
      );
      assert.equal(await slow, 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(flaps, 0, 'a late timer must not be taken for a stalled Redis');
      assert.equal(kit.mode, 'redis');
    } finally {
      kit.connection.off('disconnected', onDown);
    }
  });

  test('a blocking command on the shared client (BLPOP 1.5 s) is not a stall', async () => {
    await waitFor(() => kit.mode === 'redis', 3000, 'connected');
    let flaps = 0;
    const onDown = () => {
      flaps++;
    };
    kit.connection.on('disconnected', onDown);
    try {
      assert.equal(await kit.redis!.blpop(kit.keys.key('test', 'empty-list'), 1.5), null);
      assert.equal(flaps, 0);
      assert.equal(kit.mode, 'redis');
    } finally {
      kit.connection.off('disconnected', onDown);
    }
  });

  test('a busy but alive Redis does not count as stalled', async () => {
    await waitFor(() => kit.mode === 'redis', 3000, 'connected');
    let flaps = 0;
    const onDown = () => {
      flaps++;
    };
    kit.connection.on('disconnected', onDown);
    try {
      const key = kit.keys.key('test', 'busy');
      const deadline = performance.now() + 2000;
      while (performance.now() < deadline) {
        await Promise.all(Array.from({ length: 200 }, (_, i) => kit.connection.run((c) => c.hset(key, `f${i}`, 'x'.repeat(100)))));
      }
      assert.equal(flaps, 0);
      assert.equal(kit.mode, 'redis');
    } finally {
      kit.connection.off('disconnected', onDown);
    }
  });
});

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { type Redkit, RedisUnavailableError, createRedkit, type Logger } from '../../src/index.js';
import { backoffDelay, redactError } from '../../src/internals.js';
import { freePort, startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/util.js';

const SECRET = 'hunter2-Secret-77';

/** A logger that keeps every line, to check that no secret is ever logged. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ ...obj, msg }));
  };
  return { lines, debug: write, info: write, warn: write, error: write };
}

describe('connection: authentication and TLS', () => {
  test('connects with a password', async () => {
    const server = await startRedis({ password: SECRET });
    try {
      const kit = await kitFor(server);
      assert.equal(kit.mode, 'redis');
      assert.equal((await kit.health()).status, 'connected');
      await kit.close();
    } finally {
      await stopRedis(server);
    }
  });
  test('connects with an ACL user', async () => {
    const server = await startRedis({ aclUser: { username: 'app', password: SECRET } });
    try {
      const kit = await kitFor(server);
      assert.equal(kit.mode, 'redis');
      assert.equal(await kit.redis!.call('ACL', 'WHOAMI'), 'app');
      await kit.close();
    } finally {
      await stopRedis(server);
    }
  });
  test('connects over TLS with the test CA', async () => {
    const server = await startRedis({ tls: true });
    try {
      const kit = await kitFor(server);
      assert.equal(kit.mode, 'redis');
      const health = await kit.health();
      assert.equal(health.status, 'connected');
      assert.equal(typeof health.latency, 'number');
      await kit.close();
    } finally {
      await stopRedis(server);
    }
  });
  test('wrong password: degraded with WRONGPASS, nothing logged or thrown carries the password', async () => {
    const server = await startRedis({ password: 'the-right-one' });
    const logger = recordingLogger();
    try {
      const kit = await createRedkit({ env: {}, host: '127.0.0.1', port: server.port, password: SECRET, connectTimeoutMs: 800, commandTimeoutMs: 300, logger });
      assert.equal(kit.mode, 'degraded');
      const health = await kit.health();
      assert.equal(health.status, 'disconnected');
      assert.equal(health.lastError?.reason, 'WRONGPASS');
      assert.match(health.message, /REDIS_PASSWORD/);
      const err = await kit.connection.run((c) => c.get('k')).catch((e: unknown) => e);
      assert.ok(err instanceof RedisUnavailableError);
      assert.equal(err.reason, 'WRONGPASS');
      for (const text of [JSON.stringify(health), String(err), err.stack ?? '', ...logger.lines]) assert.ok(!text.includes(SECRET), text);
      assert.ok(
        logger.lines.some((l) => l.includes('WRONGPASS')),
        'the cause is logged',
      );
      await kit.close();
    } finally {
      await stopRedis(server);
    }
  });
  test('no password against a protected server: NOAUTH', async () => {
    const server = await startRedis({ password: SECRET });
    try {
      const kit = await createRedkit({ env: {}, host: '127.0.0.1', port: server.port, connectTimeoutMs: 800, logger: recordingLogger() });
      assert.equal((await kit.health()).lastError?.reason, 'NOAUTH');
      await kit.close();
    } finally {
      await stopRedis(server);
    }
  });
  test('plain client to a TLS port and TLS client to a plain port are named', async () => {
    const tls = await startRedis({ tls: true });
    const plain = await startRedis();
    try {
      const a = await createRedkit({ env: {}, url: `redis://127.0.0.1:${tls.port}`, connectTimeoutMs: 800, logger: recordingLogger() });
      const ha = await a.health();
      assert.equal(ha.status, 'disconnected');
      assert.match(ha.message, /rediss:\/\/|REDIS_TLS=true/);
      const b = await createRedkit({ env: {}, url: `rediss://127.0.0.1:${plain.port}`, connectTimeoutMs: 800, logger: recordingLogger() });
      const hb = await b.health();
      assert.equal(hb.status, 'disconnected');
      assert.match(hb.message, /redis:\/\/|REDIS_TLS=false/);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await Promise.all([stopRedis(tls), stopRedis(plain)]);
    }
  });
  test('redactError masks AUTH arguments copied onto ioredis errors', () => {
    const err = Object.assign(new Error(`WRONGPASS for ${SECRET}`), { command: { name: 'auth', args: ['default', SECRET] } });
    redactError(err, [SECRET]);
    assert.deepEqual(err.command.args, ['***', '***']);
    assert.ok(!err.message.includes(SECRET));
    assert.ok(!(err.stack ?? '').includes(SECRET));
  });
});

describe('connection: faults on a running server', () => {
  let server: RedisServer;
  let kit: Redkit;
  before(async () => {
    server = await startRedis();
    kit = await kitFor(server, { commandTimeoutMs: 400, healthIntervalMs: 200 });
  });
  after(async () => {
    await kit?.close();
    await stopRedis(server);
  });

  test('killed: disconnected within 1 s, commands fail fast; restarted: connected within 2 s', async () => {
    await kit.redis!.set(kit.keys.key('test', 'a'), '1');
    await server.kill();
    try {
      const down = await waitFor(async () => (await kit.health()).status === 'disconnected', 1000, 'health disconnected');
      assert.ok(down.elapsedMs <= 1000);
      assert.equal(kit.mode, 'degraded');
    } catch (err) {
      await server.start();
      throw err;
    }
    const started = performance.now();
    const err = await kit.connection.run((c) => c.get('x')).catch((e: unknown) => e);
    assert.ok(err instanceof RedisUnavailableError, String(err));
    assert.ok(performance.now() - started < 100, 'fails fast while disconnected, no offline queue');
    await server.start();
    const up = await waitFor(async () => (await kit.health()).status === 'connected', 2000, 'health connected');
    assert.ok(up.elapsedMs <= 2000);
    assert.equal(await kit.connection.run((c) => c.ping()), 'PONG');
  });

  test('paused (SIGSTOP): commands fail within the command timeout, health says disconnected; resumed: connected', async () => {
    await waitFor(() => kit.mode === 'redis', 2000, 'connected');
    server.pause();
    try {
      const started = performance.now();
      const err = await kit.connection.run((c) => c.get('x')).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      assert.ok(err instanceof RedisUnavailableError, String(err));
      assert.equal(err.reason, 'TIMEOUT');
      assert.ok(elapsed < 400 + 300, `failed after ${elapsed} ms, command timeout is 400 ms`);
      await waitFor(() => kit.mode === 'degraded', 1500, 'probe notices the pause');
      const health = await kit.health();
      assert.equal(health.status, 'disconnected');
    } finally {
      server.resume();
    }
    await waitFor(() => kit.mode === 'redis', 2000, 'connected after SIGCONT');
  });

  test('close() lets in-flight commands finish', async () => {
    const other = await kitFor(server);
    const key = other.keys.key('test', 'inflight');
    const writes = Array.from({ length: 200 }, (_, i) => other.redis!.rpush(key, String(i)));
    const closing = other.close();
    const results = await Promise.allSettled(writes);
    await closing;
    assert.equal(results.filter((r) => r.status === 'rejected').length, 0);
    assert.equal(await kit.redis!.llen(key), 200);
  });

  test("two environments on one Redis never see each other's keys", async () => {
    const staging = await kitFor(server, { keyPrefix: 'app', environment: 'staging' });
    const prod = await kitFor(server, { keyPrefix: 'app', environment: 'prod' });
    try {
      await staging.redis!.set(staging.keys.key('cache', 'x'), 'staging');
      assert.equal(await prod.redis!.get(prod.keys.key('cache', 'x')), null);
      assert.notEqual(staging.keys.key('cache', 'x'), prod.keys.key('cache', 'x'));
    } finally {
      await Promise.all([staging.close(), prod.close()]);
    }
  });
});

describe('connection: startup', () => {
  test('unreachable Redis: starts degraded within the connect timeout', async () => {
    const port = await freePort();
    const started = performance.now();
    const kit = await createRedkit({ env: {}, host: '127.0.0.1', port, connectTimeoutMs: 700, logger: recordingLogger() });
    const elapsed = performance.now() - started;
    assert.equal(kit.mode, 'degraded');
    assert.ok(elapsed < 700 + 500, `started after ${elapsed} ms`);
    const health = await kit.health();
    assert.equal(health.lastError?.reason, 'ECONNREFUSED');
    await kit.close();
  });
  test('Redis appearing after a degraded start is picked up without a restart', async () => {
    const port = await freePort();
    const kit = await createRedkit({
      env: {},
      host: '127.0.0.1',
      port,
      connectTimeoutMs: 300,
      logger: recordingLogger(),
      backoff: { baseMs: 20, maxMs: 200 },
    } as never);
    assert.equal(kit.mode, 'degraded');
    const server = await startRedis({ args: [] });
    // The new server has its own port; restart it on the port the kit knows instead.
    await server.kill();
    const { spawn: spawnRedis } = await import('node:child_process');
    const proc = spawnRedis('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    try {
      await waitFor(() => kit.mode === 'redis', 3000, 'connected once Redis is up');
    } finally {
      await kit.close();
      proc.kill('SIGKILL');
    }
  });
  test('standalone: not_configured, healthy, no client', async () => {
    const kit = await standaloneKit();
    assert.equal(kit.mode, 'standalone');
    assert.equal(kit.redis, null);
    const report = await kit.healthReport();
    assert.equal(report.status, 'healthy');
    assert.equal(report.redis.status, 'not_configured');
    await kit.close();
  });
  test('after close(), nothing keeps the process alive (a real child process exits by itself)', async () => {
    const server = await startRedis();
    try {
      const child = spawn(process.execPath, [new URL('./fixtures/close-exits.js', import.meta.url).pathname], {
        env: { ...process.env, TEST_REDIS_URL: server.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(null);
        }, 10_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      assert.equal(code, 0, `child did not exit by itself: ${out}`);
      assert.match(out, /closed/);
    } finally {
      await stopRedis(server);
    }
  });
});

test('backoff: capped, exponential, jittered', () => {
  assert.equal(
    backoffDelay(1, { baseMs: 50, maxMs: 1000 }, () => 1),
    50,
  );
  assert.equal(
    backoffDelay(1, { baseMs: 50, maxMs: 1000 }, () => 0),
    25,
  );
  assert.equal(
    backoffDelay(3, { baseMs: 50, maxMs: 1000 }, () => 1),
    200,
  );
  assert.equal(
    backoffDelay(50, { baseMs: 50, maxMs: 1000 }, () => 1),
    1000,
  );
  for (let i = 1; i < 100; i++) assert.ok(backoffDelay(i) <= 1000 && backoffDelay(i) >= 25);
});

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';

const MAIN = fileURLToPath(new URL('../../app/main.js', import.meta.url));

interface RunningApp {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts the real reference server (`node dist/app/main.js`) with only the given env. */
async function startApp(env: Record<string, string>): Promise<RunningApp> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, port, output: () => out, exited };
}

async function health(port: number, path = '/api/health', headers: Record<string, string> = {}): Promise<{ code: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(2000) });
  return { code: res.status, body: await res.json() };
}

const apps: RunningApp[] = [];
after(() => {
  for (const app of apps) app.child.kill('SIGKILL');
});

describe('reference server', () => {
  test('standalone: serves not_configured, logs the mode, stops cleanly on SIGTERM', async () => {
    const app = await startApp({});
    apps.push(app);
    const { value } = await waitFor(() => health(app.port), 15_000, 'health');
    assert.equal(value.code, 200);
    assert.equal(value.body.status, 'healthy');
    assert.equal(value.body.redis.status, 'not_configured');
    assert.equal(typeof value.body.instanceId, 'string');
    assert.equal(typeof value.body.uptime, 'number');
    assert.match(app.output(), /standalone mode/);
    app.child.kill('SIGTERM');
    assert.equal(await app.exited, 0);
    assert.match(app.output(), /stopped cleanly/);
  });

  test('unreachable Redis at startup: serving degraded health at once, long before the connect timeout', async () => {
    const deadPort = await freePort();
    // A 20 s connect timeout: a server that waited for it could not answer within the 15 s below
    // (a bound on node's own startup, which takes over 2 s on a loaded 2-core machine).
    const app = await startApp({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(deadPort), REDIS_CONNECT_TIMEOUT_MS: '20000' });
    apps.push(app);
    const { value } = await waitFor(() => health(app.port), 15_000, 'degraded health', 20).catch((err: Error) => {
      throw new Error(`${err.message}\n${app.output()}`);
    });
    // Degraded but serving: 200, the body says degraded (a 503 would pull every instance out of rotation).
    assert.equal(value.code, 200);
    assert.equal(value.body.status, 'degraded');
    assert.equal(value.body.redis.status, 'disconnected');
    assert.match(value.body.redis.message, /ECONNREFUSED/);
    // Host, port and the fix are not public.
    assert.ok(!JSON.stringify(value.body).includes(String(deadPort)), JSON.stringify(value.body));
    assert.doesNotMatch(JSON.stringify(value.body), /127\.0\.0\.1|REDIS_HOST|check /);
    assert.equal((await health(app.port, '/api/health?strict=1')).code, 503);
    assert.equal((await health(app.port, '/api/health/live')).code, 200);
    const ready = await health(app.port, '/api/health/ready');
    assert.equal(ready.code, 200, 'degraded but serving is ready');
    assert.equal(ready.body.mode, 'degraded');
    app.child.kill('SIGTERM');
    assert.equal(await app.exited, 0);
  });

  test('silent Redis at startup (SIGSTOP: TCP accepts, nothing answers): degraded from the first answer, TIMEOUT after the connect timeout', async () => {
    const server = await startRedis();
    server.pause();
    try {
      const app = await startApp({ REDIS_URL: server.url, REDIS_CONNECT_TIMEOUT_MS: '1500', HEALTH_DETAILS: 'true' });
      apps.push(app);
      // 15 s bounds node's own startup on a loaded machine; the server listens before it connects.
      const { value } = await waitFor(() => health(app.port), 15_000, 'degraded health', 20);
      const firstAnswer = performance.now();
      assert.equal(value.body.status, 'degraded');
      assert.equal(value.body.redis.status, 'disconnected');
      const decided = await waitFor(async () => (await health(app.port)).body.redis.lastError?.reason === 'TIMEOUT', 1500 + 2000, 'connect timed out');
      assert.ok(performance.now() - firstAnswer <= 1500 + 2000, `decided ${Math.round(decided.elapsedMs)} ms after the first answer`);
      server.resume();
      await waitFor(async () => (await health(app.port)).body.redis.status === 'connected', 5000, 'connected after SIGCONT');
      app.child.kill('SIGTERM');
      assert.equal(await app.exited, 0);
    } finally {
      await stopRedis(server);
    }
  });

  test('Redis killed while serving: disconnected within 1 s, still answering; restarted: connected within 2 s', async () => {
    const server: RedisServer = await startRedis({ password: 'app-secret-pw' });
    try {
      const app = await startApp({ REDIS_URL: server.url, REDIS_COMMAND_TIMEOUT_MS: '500' });
      apps.push(app);
      await waitFor(async () => (await health(app.port)).body.redis.status === 'connected', 15_000, 'connected');
      await server.kill();
      const down = await waitFor(async () => (await health(app.port)).body.redis.status === 'disconnected', 1000, 'disconnected', 20);
      assert.ok(down.elapsedMs <= 1000);
      const during = await health(app.port);
      assert.equal(during.code, 200);
      assert.equal(during.body.status, 'degraded');
      await server.start();
      const up = await waitFor(async () => (await health(app.port)).body.redis.status === 'connected', 2000, 'connected again', 20);
      assert.ok(up.elapsedMs <= 2000);
      assert.ok(!app.output().includes('app-secret-pw'), 'the password never reaches the logs');
      app.child.kill('SIGTERM');
      assert.equal(await app.exited, 0);
    } finally {
      await stopRedis(server);
    }
  });

  test('health details (host, fix) only with HEALTH_DETAILS=true or the admin token; /ready is 503 while starting', async () => {
    const deadPort = await freePort();
    const plain = await startApp({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(deadPort), REDIS_CONNECT_TIMEOUT_MS: '3000', ADMIN_TOKEN: 'tok-123' });
    const open = await startApp({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(deadPort), REDIS_CONNECT_TIMEOUT_MS: '1000', HEALTH_DETAILS: 'true' });
    apps.push(plain, open);
    // A refused connection ends the first connect at once; a silent one keeps /ready at 503 until it is decided.
    await waitFor(() => health(plain.port, '/api/health/live'), 15_000, 'live');
    const { value: pub } = await waitFor(() => health(plain.port), 5000, 'health');
    assert.ok(!JSON.stringify(pub.body).includes(String(deadPort)), 'no port without the token');
    const admin = await health(plain.port, '/api/health', { authorization: 'Bearer tok-123' });
    assert.ok(JSON.stringify(admin.body).includes(String(deadPort)), 'the admin token shows where Redis is');
    assert.match(admin.body.redis.message, /REDIS_HOST/);
    const wrong = await health(plain.port, '/api/health', { authorization: 'Bearer nope' });
    assert.ok(!JSON.stringify(wrong.body).includes(String(deadPort)));
    const { value: detailed } = await waitFor(() => health(open.port), 15_000, 'health');
    assert.ok(JSON.stringify(detailed.body).includes(String(deadPort)), 'HEALTH_DETAILS=true shows where Redis is');
    for (const app of [plain, open]) {
      app.child.kill('SIGTERM');
      assert.equal(await app.exited, 0);
    }
  });

  test('/api/health/ready: 503 while the first connect is under way (silent Redis), 200 once decided; /live 200 throughout', async () => {
    const server = await startRedis();
    server.pause();
    try {
      const app = await startApp({ REDIS_URL: server.url, REDIS_CONNECT_TIMEOUT_MS: '30000' });
      apps.push(app);
      await waitFor(() => health(app.port, '/api/health/live'), 15_000, 'live');
      const starting = await health(app.port, '/api/health/ready');
      assert.equal(starting.code, 503);
      assert.equal(starting.body.status, 'starting');
      assert.equal((await health(app.port)).code, 200, 'the seed JSON still answers while starting');
      server.resume();
      await waitFor(async () => (await health(app.port, '/api/health/ready')).code === 200, 5000, 'ready after SIGCONT');
      app.child.kill('SIGTERM');
      assert.equal(await app.exited, 0);
    } finally {
      await stopRedis(server);
    }
  });

  test('paused Redis (SIGSTOP) while serving: /api/health answers within the stall bound, disconnected within 1.8 s (default command timeout)', async () => {
    const server = await startRedis();
    try {
      const app = await startApp({ REDIS_URL: server.url });
      apps.push(app);
      await waitFor(async () => (await health(app.port)).body.redis.status === 'connected', 15_000, 'connected');
      server.pause();
      const started = performance.now();
      const down = await waitFor(
        async () => {
          const t = performance.now();
          const h = await health(app.port);
          // After a second without a reply, an ask PINGs first: bounded by the stall bound (750 ms).
          assert.ok(performance.now() - t < 1500, `health took ${Math.round(performance.now() - t)} ms`);
          return h.body.redis.status === 'disconnected' ? h : null;
        },
        3000,
        'disconnected',
        50,
      );
      assert.ok(performance.now() - started < 1800 + 1000, `disconnected after ${Math.round(performance.now() - started)} ms`);
      assert.equal(down.value!.code, 200);
      server.resume();
      await waitFor(async () => (await health(app.port)).body.redis.status === 'connected', 3000, 'connected after SIGCONT');
      app.child.kill('SIGTERM');
      assert.equal(await app.exited, 0);
    } finally {
      await stopRedis(server);
    }
  });

  test('bad config: exits non-zero with the variable named', async () => {
    const app = await startApp({ REDIS_PORT: 'abc', REDIS_HOST: 'h' });
    apps.push(app);
    const code = await app.exited;
    assert.notEqual(code, 0);
    assert.match(app.output(), /REDIS_PORT/);
  });
});

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';

const MAIN = fileURLToPath(new URL('../../app/main.js', import.meta.url));

interface RunningApp { child: ChildProcess; port: number; output: () => string; exited: Promise<number | null> }

/** Starts the real reference server (`node dist/app/main.js`) with only the given env. */
async function startApp(env: Record<string, string>): Promise<RunningApp> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, port, output: () => out, exited };
}

async function health(port: number): Promise<{ code: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(2000) });
  return { code: res.status, body: await res.json() };
}

const apps: RunningApp[] = [];
after(() => { for (const app of apps) app.child.kill('SIGKILL'); });

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

  test('unreachable Redis at startup: serving degraded health within the connect timeout + 1 s', async () => {
    const deadPort = await freePort();
    const started = performance.now();
    const app = await startApp({ REDIS_HOST: '127.0.0.1', REDIS_PORT: String(deadPort), REDIS_CONNECT_TIMEOUT_MS: '1500' });
    apps.push(app);
    const { value } = await waitFor(() => health(app.port), 1500 + 1000, 'degraded health', 20).catch((err: Error) => { throw new Error(`${err.message}\n${app.output()}`); });
    const elapsed = performance.now() - started;
    assert.equal(value.code, 503);
    assert.equal(value.body.status, 'degraded');
    assert.equal(value.body.redis.status, 'disconnected');
    assert.match(value.body.redis.message, /refused/);
    assert.ok(elapsed <= 2500, `first answer after ${Math.round(elapsed)} ms`);
    app.child.kill('SIGTERM');
    assert.equal(await app.exited, 0);
  });

  test('silent Redis at startup (SIGSTOP: TCP accepts, nothing answers): degraded within the connect timeout + 1 s', async () => {
    const server = await startRedis();
    server.pause();
    try {
      const started = performance.now();
      const app = await startApp({ REDIS_URL: server.url, REDIS_CONNECT_TIMEOUT_MS: '1500' });
      apps.push(app);
      const { value } = await waitFor(() => health(app.port), 1500 + 1000, 'degraded health', 20);
      const elapsed = performance.now() - started;
      assert.equal(value.body.status, 'degraded');
      assert.equal(value.body.redis.status, 'disconnected');
      assert.ok(elapsed <= 2500, `first answer after ${Math.round(elapsed)} ms`);
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
      assert.equal(during.code, 503);
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

  test('bad config: exits non-zero with the variable named', async () => {
    const app = await startApp({ REDIS_PORT: 'abc', REDIS_HOST: 'h' });
    apps.push(app);
    const code = await app.exited;
    assert.notEqual(code, 0);
    assert.match(app.output(), /REDIS_PORT/);
  });
});

// app.close() leaves no open handles: a child process boots the example app, uses every
// capability the module provides, closes the app and must then exit on its own (no
// process.exit): with Redis, standalone, and with Redis killed before the close.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomPrefix } from '../helpers/util.js';

const fixture = fileURLToPath(new URL('./fixtures/boot-close.js', import.meta.url));
let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await stopRedis(server);
});

interface Outcome {
  ready: { mode: string; statuses: Record<string, number> };
  closed: { modeBeforeClose: string } | null;
  code: number | null;
  signal: string | null;
  stderr: string;
}

/** Runs the fixture; `beforeClose` runs after it booted. Kills it (and fails) if it has not exited 15 s after the close. */
async function run(env: Record<string, string>, beforeClose: () => Promise<void> = async () => {}): Promise<Outcome> {
  const child = spawn(process.execPath, [fixture], {
    // Only what the app needs: the developer's REDIS_* variables must not leak in.
    env: { PATH: process.env.PATH ?? '', CLEANUP_INTERVAL_MS: '50', LEADER_TTL_MS: '1000', REPORT_LOCK_TTL_MS: '1000', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const messages: Array<Record<string, unknown>> = [];
  const readyLine = new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      messages.push(message);
      if (message.ready) resolve(message);
    });
    void exited.then(() => reject(new Error(`the fixture exited before it was ready: ${stderr}`)));
  });
  const ready = (await readyLine) as unknown as Outcome['ready'];
  await beforeClose();
  child.stdin.end('close\n');
  const deadline = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const { code, signal } = await exited;
  clearTimeout(deadline);
  const closed = (messages.find((m) => m.closed) ?? null) as Outcome['closed'];
  return { ready, closed, code, signal, stderr };
}

function assertExitedByItself(outcome: Outcome): void {
  assert.ok(outcome.closed, `app.close() finished: ${outcome.stderr}`);
  assert.equal(outcome.signal, null, `not killed: something kept the process alive ${outcome.stderr}`);
  assert.equal(outcome.code, 0, outcome.stderr);
}

test('with Redis: every route answered, then app.close() and the process exits by itself', async () => {
  const outcome = await run({ REDIS_URL: server.url, REDIS_KEY_PREFIX: randomPrefix() });
  assert.equal(outcome.ready.mode, 'redis');
  assert.deepEqual(outcome.ready.statuses, {
    '/api/health': 200,
    '/api/health/terminus': 200,
    '/api/gallery/zoe': 200,
    '/api/scheduler': 200,
    '/api/system/redis': 200,
    '/api/auth/me': 200,
  });
  assertExitedByItself(outcome);
  assert.equal(outcome.closed?.modeBeforeClose, 'redis');
});

test('standalone (no Redis configured): the same, in memory', async () => {
  const outcome = await run({});
  assert.equal(outcome.ready.mode, 'standalone');
  assert.ok(
    Object.values(outcome.ready.statuses).every((s) => s === 200),
    JSON.stringify(outcome.ready.statuses),
  );
  assertExitedByItself(outcome);
});

test('Redis killed before the close: the app still closes and the process exits by itself', async () => {
  const outcome = await run({ REDIS_URL: server.url, REDIS_KEY_PREFIX: randomPrefix(), REDIS_COMMAND_TIMEOUT_MS: '500' }, async () => {
    await server.kill();
  });
  assertExitedByItself(outcome);
  await server.start();
});

// GET /metrics on the real reference server (node dist/app/main.js) against a real redis-server:
// 404 without ADMIN_TOKEN, 401 without the bearer token, and with it the Prometheus text in
// which seed 002's moderation cache shows one miss and one hit after the same text twice.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';
import { parsePrometheus, valueOf } from './parse.js';

const MAIN = fileURLToPath(new URL('../../app/main.js', import.meta.url));
const children: ChildProcess[] = [];
let server: RedisServer | undefined;
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await stopRedis(server);
});

async function startApp(env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', MODERATION_DELAY_MS: '10', ...env },
    stdio: 'ignore',
  });
  children.push(child);
  await waitFor(
    () =>
      fetch(`http://127.0.0.1:${port}/api/health`).then(
        (r) => r.status === 200,
        () => false,
      ),
    15_000,
    'app up',
  );
  return port;
}

test('GET /metrics is protected by the admin token and serves the scraped hit rate of seed 002', async () => {
  server = await startRedis();
  const closed = await startApp({ REDIS_URL: server.url });
  assert.equal((await fetch(`http://127.0.0.1:${closed}/metrics`)).status, 404, 'no ADMIN_TOKEN: no metrics');

  const port = await startApp({ REDIS_URL: server.url, ADMIN_TOKEN: 'tok-metrics' });
  const base = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${base}/metrics`)).status, 401);
  assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token' } })).status, 401);
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${base}/api/moderate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello there' }),
    });
    assert.equal(res.status, 200);
  }
  const res = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer tok-metrics' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await res.text());
  assert.equal(valueOf(families, 'redkit_cache_misses_total', { namespace: 'moderation' }), 1);
  assert.equal(valueOf(families, 'redkit_cache_hits_total', { namespace: 'moderation' }), 1);
  assert.equal(valueOf(families, 'redkit_mode', { mode: 'redis' }), 1);
  assert.ok(
    (valueOf(families, 'redkit_ratelimit_decisions_total', { outcome: 'allowed', decided_by: 'redis' }) ?? 0) >= 2,
    'the moderate route is rate limited',
  );
});

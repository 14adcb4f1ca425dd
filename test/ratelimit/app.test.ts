// The reference server: POST /api/moderate is rate limited per IP with the limit from env,
// shared by two server instances on one Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../app/server.js';
import { readSettings } from '../../app/settings.js';
import { parseEnvLimit } from '../../app/routes/ratelimit.js';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { randomPrefix } from '../helpers/util.js';
import type { Redkit } from '../../src/index.js';

let server: RedisServer;
const kits: Redkit[] = [];
const apps: FastifyInstance[] = [];
before(async () => {
  server = await startRedis();
  const keyPrefix = randomPrefix();
  const settings = readSettings({ PORT: '0', MODERATION_DELAY_MS: '1', RATE_LIMIT_MODERATE: '3/60s', RATE_LIMIT_ON_REDIS_DOWN: 'deny' });
  for (const id of ['app-a', 'app-b']) {
    const kit = await kitFor(server, { keyPrefix, instanceId: id });
    kits.push(kit);
    apps.push(await buildServer(kit, settings, pino({ level: 'silent' })));
  }
});
after(async () => {
  for (const app of apps) await app.close();
  for (const kit of kits) await kit.close();
  await stopRedis(server);
});

test('RATE_LIMIT_MODERATE limits POST /api/moderate across two instances: 429 with headers and JSON body', async () => {
  const moderate = (i: number) => apps[i % 2]!.inject({ method: 'POST', url: '/api/moderate', payload: { text: `hello ${i}` } });
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await moderate(i));
  assert.deepEqual(
    answers.map((a) => a.statusCode),
    [200, 200, 200, 429],
  );
  assert.equal(answers[0]!.headers['ratelimit-limit'], '3');
  assert.equal(answers[2]!.headers['ratelimit-remaining'], '0');
  assert.ok(Number(answers[3]!.headers['retry-after']) > 0);
  assert.equal(answers[3]!.json().statusCode, 429);
  const info = (await apps[0]!.inject({ method: 'GET', url: '/api/ratelimit' })).json();
  assert.deepEqual(info.limits.moderate, { algorithm: 'sliding-window', limit: 3, windowMs: 60_000, blockMs: 0, onRedisDown: 'deny' });
});

test('RATE_LIMIT_ON_REDIS_DOWN=deny: with Redis killed the moderation endpoint answers 429, never 500', async () => {
  await server.kill();
  const answer = await apps[0]!.inject({ method: 'POST', url: '/api/moderate', payload: { text: 'x' } });
  assert.equal(answer.statusCode, 429);
  await server.start();
});

test('env limits are validated with the variable name', () => {
  assert.deepEqual(parseEnvLimit({ X: '20/60s' }, 'X', '1/1s'), { limit: 20, windowMs: 60_000 });
  assert.deepEqual(parseEnvLimit({ X: '5/500ms' }, 'X', '1/1s'), { limit: 5, windowMs: 500 });
  assert.deepEqual(parseEnvLimit({}, 'X', '100/1m'), { limit: 100, windowMs: 60_000 });
  // The window speaks redkit's duration grammar (the ms package's); a bare number stays seconds.
  assert.deepEqual(parseEnvLimit({ X: '1000/1 hour' }, 'X', '1/1s'), { limit: 1000, windowMs: 3_600_000 });
  assert.deepEqual(parseEnvLimit({ X: '10/1w' }, 'X', '1/1s'), { limit: 10, windowMs: 604_800_000 });
  assert.deepEqual(parseEnvLimit({ X: '10/30' }, 'X', '1/1s'), { limit: 10, windowMs: 30_000 });
  for (const bad of ['20', '0/60s', '20/0s', 'a/b', '20/60 fortnights', '20/-1m'])
    assert.throws(() => parseEnvLimit({ X: bad }, 'X', '1/1s'), /X must look like/);
});

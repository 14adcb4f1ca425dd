// The reference server's session routes (app/routes/session.ts) on a real redis-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { buildServer } from '../../app/server.js';
import { readSettings } from '../../app/settings.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/util.js';
import { keysEverywhere } from '../helpers/keys.js';

test('reference server: login, views counted in the session, served through a Redis outage, logout', async (t) => {
  const redis = await startRedis();
  const kit = await kitFor(redis);
  const app = await buildServer(kit, readSettings({ PORT: '0', SESSION_SECRET: 'x'.repeat(40) }), pino({ level: 'silent' }));
  t.after(async () => {
    await app.close();
    await kit.close();
    await stopRedis(redis);
  });
  let cookie = '';
  const call = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const res = await app.inject({ method, url, payload, headers: cookie ? { cookie } : {} });
    const set = res.headers['set-cookie'];
    if (set) cookie = (Array.isArray(set) ? set : [set]).map((c) => c.split(';')[0]).join('; ');
    return res;
  };
  assert.equal((await call('POST', '/api/session/login', { name: '' })).statusCode, 400);
  assert.deepEqual((await call('GET', '/api/session')).json(), { user: null, mode: 'redis' });
  assert.deepEqual((await call('POST', '/api/session/login', { name: 'linus' })).json(), { user: 'linus' });
  assert.deepEqual((await call('GET', '/api/session')).json(), { user: 'linus', views: 1, mode: 'redis' });
  assert.equal((await keysEverywhere(kit.redis!, `${kit.keys.prefix}:session:*`)).length, 1);
  await redis.kill();
  await waitFor(() => kit.mode === 'degraded', 5000, 'degraded mode');
  assert.deepEqual((await call('GET', '/api/session')).json(), { user: 'linus', views: 2, mode: 'degraded' });
  assert.equal((await call('POST', '/api/session/logout')).statusCode, 200);
  assert.deepEqual((await call('GET', '/api/session')).json(), { user: null, mode: 'degraded' });
});

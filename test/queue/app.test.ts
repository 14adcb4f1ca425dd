import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { waitFor } from '../helpers/util.js';
import { buildServer } from '../../app/server.js';
import { readSettings } from '../../app/settings.js';

const silent = pino({ level: 'silent' });

test('GET /api/admin/queue/stats: 404 without ADMIN_TOKEN configured, 401 without the bearer, counts with it', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  const other = await kitFor(server);
  const disabled = await buildServer(other, readSettings({ PORT: '0' }), silent);
  const app = await buildServer(kit, readSettings({ PORT: '0', ADMIN_TOKEN: 's3cret-token' }), silent);
  try {
    assert.equal((await disabled.inject({ url: '/api/admin/queue/stats' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/api/admin/queue/stats' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/api/admin/queue/stats', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
    const added = await app.inject({ method: 'POST', url: '/api/queue/video/jobs', payload: { data: { url: 'x.mp4' } } });
    assert.equal(added.statusCode, 202);
    assert.equal(added.json().via, 'redis');
    assert.equal((await app.inject({ method: 'POST', url: '/api/queue/video/jobs', payload: { data: {}, opts: { atempts: 1 } } })).statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: '/api/queue/nope/jobs', payload: {} })).statusCode, 404);
    const stats = await app.inject({ url: '/api/admin/queue/stats', headers: { authorization: 'Bearer s3cret-token' } });
    assert.equal(stats.statusCode, 200);
    const body = stats.json();
    assert.equal(body.mode, 'redis');
    assert.equal(body.queues.video.counts.waiting, 1);
    assert.equal(body.queues.analytics.counts.waiting, 0);
    assert.ok(!JSON.stringify(body).includes('s3cret'));
  } finally {
    await app.close();
    await disabled.close();
    await other.close();
    await kit.close();
    await stopRedis(server);
  }
});

test('standalone: demo jobs run in-process; ComfyUI jobs run against the built-in stub', async () => {
  const kit = await standaloneKit();
  const app = await buildServer(kit, readSettings({ PORT: '0', ADMIN_TOKEN: 't' }), silent);
  try {
    const added = await app.inject({ method: 'POST', url: '/api/queue/analytics/jobs', payload: { data: { event: 'view' } } });
    assert.equal(added.json().via, 'local');
    await waitFor(async () => (await app.inject({ url: '/api/admin/queue/stats', headers: { authorization: 'Bearer t' } })).json().queues.analytics.counts.completed === 1, 5000, 'ran');
    const started = await app.inject({ method: 'POST', url: '/api/jobs/comfyui', payload: {} });
    assert.equal(started.statusCode, 202);
    const id = started.json().id;
    const { value } = await waitFor(async () => { const r = (await app.inject({ url: `/api/jobs/${id}` })).json(); return r.status === 'succeeded' ? r : null; }, 15_000, 'comfy job done', 200);
    assert.equal(value!.progress, 100);
    assert.equal((await app.inject({ url: '/api/jobs/bad%20id' })).statusCode, 400);
    assert.equal((await app.inject({ url: '/api/jobs/missing-1' })).statusCode, 404);
  } finally {
    await app.close();
    await kit.close();
  }
});

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
    await waitFor(
      async () => (await app.inject({ url: '/api/admin/queue/stats', headers: { authorization: 'Bearer t' } })).json().queues.analytics.counts.completed === 1,
      5000,
      'ran',
    );
    const started = await app.inject({ method: 'POST', url: '/api/jobs/comfyui', payload: {} });
    assert.equal(started.statusCode, 202);
    const id = started.json().id;
    const { value } = await waitFor(
      async () => {
        const r = (await app.inject({ url: `/api/jobs/${id}` })).json();
        return r.status === 'succeeded' ? r : null;
      },
      15_000,
      'comfy job done',
      200,
    );
    assert.equal(value!.progress, 100);
    assert.equal((await app.inject({ url: '/api/jobs/bad%20id' })).statusCode, 400);
    assert.equal((await app.inject({ url: '/api/jobs/missing-1' })).statusCode, 404);
  } finally {
    await app.close();
    await kit.close();
  }
});

test('live page data: a queue with jobs waiting and no live worker says so; the warning goes once a worker runs', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  const workerKit = await kitFor(server, { keyPrefix: kit.config.prefix });
  const app = await buildServer(kit, readSettings({ PORT: '0', ADMIN_TOKEN: 'tok' }), silent);
  const stats = async () => (await app.inject({ url: '/api/admin/queue/stats', headers: { authorization: 'Bearer tok' } })).json();
  try {
    for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/api/queue/analytics/jobs', payload: { data: { event: 'view' } } });
    const before = await stats();
    assert.equal(before.queues.analytics.counts.workers, 0);
    assert.equal(before.queues.analytics.warning, 'waiting 3 — no worker is consuming');
    assert.equal(before.queues.video.warning, undefined, 'nothing waiting: no warning');
    // A worker in another toolkit (another process in production) drains the queue.
    const worker = workerKit.worker('analytics', async () => 'done');
    await worker.ready();
    const { value } = await waitFor(
      async () => {
        const s = await stats();
        return s.queues.analytics.counts.completed === 3 ? s : null;
      },
      10_000,
      'drained',
    );
    assert.equal(value!.queues.analytics.counts.workers, 1);
    assert.equal(value!.queues.analytics.warning, undefined);
    await worker.close();
  } finally {
    await app.close();
    await workerKit.close();
    await kit.close();
    await stopRedis(server);
  }
});

test('Bull Board: mounted under the admin token when ADMIN_TOKEN is set, shows the demo queues', async () => {
  const server = await startRedis();
  const kit = await kitFor(server);
  const app = await buildServer(kit, readSettings({ PORT: '0', ADMIN_TOKEN: 'b0ard' }), silent);
  const other = await kitFor(server);
  const disabled = await buildServer(other, readSettings({ PORT: '0' }), silent);
  try {
    assert.equal((await app.inject({ url: '/admin/queues' })).statusCode, 401);
    assert.equal((await app.inject({ url: '/admin/queues/api/queues' })).statusCode, 401, 'its JSON API too');
    assert.equal((await app.inject({ url: '/admin/queues', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
    const page = await app.inject({ url: '/admin/queues', headers: { authorization: `Basic ${Buffer.from('admin:b0ard').toString('base64')}` } });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<html/i);
    await app.inject({ method: 'POST', url: '/api/queue/video/jobs', payload: { data: { url: 'a.mp4' } } });
    const api = await app.inject({ url: '/admin/queues/api/queues', headers: { authorization: 'Bearer b0ard' } });
    assert.equal(api.statusCode, 200);
    const names = (api.json().queues as Array<{ name: string }>).map((q) => q.name).sort();
    assert.deepEqual(names, ['analytics', 'video']);
    assert.equal((await disabled.inject({ url: '/admin/queues' })).statusCode, 404, 'not mounted without ADMIN_TOKEN');
  } finally {
    await app.close();
    await disabled.close();
    await other.close();
    await kit.close();
    await stopRedis(server);
  }
});

test('Bull Board mounted while Redis is down at boot: jobs are taken once Redis is up, and the board works', async () => {
  const server = await startRedis();
  await server.stop();
  const kit = await kitFor(server);
  const app = await buildServer(kit, readSettings({ PORT: '0', ADMIN_TOKEN: 'tok' }), silent);
  try {
    const down = await app.inject({ method: 'POST', url: '/api/queue/analytics/jobs', payload: { data: { event: 'x' } } });
    assert.equal(down.json().via, 'local', 'inline while Redis is down');
    await server.start();
    const { value } = await waitFor(
      async () => {
        const r = await app.inject({ method: 'POST', url: '/api/queue/video/jobs', payload: { data: { url: 'b.mp4' } } });
        return r.statusCode === 202 && r.json().via === 'redis' ? r.json() : null;
      },
      15_000,
      'a job stored in Redis after it came up',
      200,
    );
    const api = await app.inject({ url: '/admin/queues/api/queues', headers: { authorization: 'Bearer tok' } });
    assert.equal(api.statusCode, 200);
    const video = (api.json().queues as Array<{ name: string; counts: Record<string, number> }>).find((q) => q.name === 'video')!;
    assert.equal(video.counts.waiting, 1, `job ${value!.id} shown by the board`);
  } finally {
    await app.close();
    await kit.close();
    await stopRedis(server);
  }
});

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { contractSuite } from '../helpers/contract.js';
import { sleep, waitFor } from '../helpers/util.js';
import { InvalidArgumentError, JobDataError, JobExistsError, JobNotFoundError, JobTransitionError, type JobEvent, type Redkit } from '../../src/index.js';

let shared: RedisServer | undefined;
after(async () => {
  await stopRedis(shared);
});

contractSuite<Redkit>(
  'job store',
  [
    {
      name: 'redis',
      async setup() {
        shared ??= await startRedis();
        const kit = await kitFor(shared);
        return { subject: kit, teardown: () => kit.close() };
      },
    },
    {
      name: 'memory',
      async setup() {
        const kit = await standaloneKit();
        return { subject: kit, teardown: () => kit.close() };
      },
    },
  ],
  (kit, impl) => {
    test('create → get round trip; ids unique; default TTL 7200 s at <prefix>:job:{id}', async () => {
      const store = kit().jobs.store;
      const created = await store.create({ kind: 'render', input: { prompt: { a: [1, 2, { b: null }] }, empty: [] } });
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      const got = await store.get(created.id);
      assert.deepEqual(got, created);
      assert.equal(got!.status, 'queued');
      assert.equal(got!.attempts, 0);
      assert.equal(got!.externalId, null);
      await assert.rejects(store.create({ id: created.id, kind: 'render' }), JobExistsError);
      assert.equal(await store.get('nope-123'), null);
      if (impl === 'redis') {
        const ttl = await kit().redis!.ttl(`${kit().config.prefix}:job:{${created.id}}`);
        assert.ok(ttl > 7190 && ttl <= 7200, `ttl ${ttl}`);
      }
    });

    test('transitions are validated: forward only, finished never changes', async () => {
      const store = kit().jobs.store;
      const { id } = await store.create({ kind: 'render' });
      assert.equal((await store.update(id, { status: 'submitted', externalId: 'ext-1', attempts: 1 })).status, 'submitted');
      const running = await store.update(id, { status: 'running', progress: 40 });
      assert.equal(running.progress, 40);
      await assert.rejects(
        store.update(id, { status: 'queued' }),
        (e: unknown) => e instanceof JobTransitionError && e.from === 'running' && e.to === 'queued',
      );
      const done = await store.update(id, { status: 'succeeded', progress: 100, result: { images: ['a.png'], none: [] } });
      assert.deepEqual(done.result, { images: ['a.png'], none: [] });
      await assert.rejects(
        store.update(id, { status: 'running' }),
        (e: unknown) => e instanceof JobTransitionError && e.code === 'E_JOB_TRANSITION' && e.from === 'succeeded',
      );
      await assert.rejects(store.update(id, { progress: 5 }), JobTransitionError);
      assert.equal((await store.get(id))!.status, 'succeeded', 'nothing changed by the refused updates');
      await assert.rejects(store.update('missing-1', { progress: 1 }), JobNotFoundError);
    });

    test('bad input → typed errors', async () => {
      const store = kit().jobs.store;
      const { id } = await store.create({ kind: 'k' });
      await assert.rejects(store.create({ kind: '' }), InvalidArgumentError);
      await assert.rejects(store.create({ kind: 'k', id: 'has space' }), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'job.id');
      await assert.rejects(store.create({ kind: 'k', input: { d: new Map() } }), JobDataError);
      await assert.rejects(store.get('../etc'), InvalidArgumentError);
      await assert.rejects(store.update(id, { status: 'done' as never }), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'patch.status');
      await assert.rejects(store.update(id, { progress: 150 }), InvalidArgumentError);
      await assert.rejects(store.update(id, { stauts: 'running' } as never), InvalidArgumentError);
      await assert.rejects(store.update(id, { result: { f: () => 1 } }), JobDataError);
      assert.equal((await store.get(id))!.status, 'queued');
    });

    test('the unfinished index lists live jobs and drops finished and expired ones', async () => {
      const short = kit().jobs.createStore({ ttlSec: 1 });
      const kind = `idx-${impl}`;
      const a = await short.create({ kind });
      const b = await short.create({ kind });
      await short.update(b.id, { status: 'failed', error: 'boom' });
      assert.deepEqual(
        (await short.listUnfinished(kind)).map((r) => r.id),
        [a.id],
      );
      await sleep(1100);
      assert.equal(await short.get(a.id), null, 'gone within ttl + 1 s');
      assert.deepEqual(await short.listUnfinished(kind), []);
      if (impl === 'redis') {
        const left = await kit().redis!.zrange(`${kit().config.prefix}:jobs:unfinished`, '0', '-1');
        assert.ok(!left.includes(a.id) && !left.includes(b.id), 'index cleaned');
      }
    });

    test('every change is announced to subscribers', async () => {
      const store = kit().jobs.store;
      const events: JobEvent[] = [];
      const off = await store.subscribe((e) => events.push(e));
      const { id } = await store.create({ kind: 'notify' });
      await store.update(id, { status: 'running', progress: 10 });
      await store.update(id, { status: 'succeeded' });
      await waitFor(() => events.filter((e) => e.id === id).length === 3, 3000, 'three events');
      assert.deepEqual(
        events.filter((e) => e.id === id).map((e) => [e.status, e.progress]),
        [
          ['queued', 0],
          ['running', 10],
          ['succeeded', 10],
        ],
      );
      await off();
    });
  },
);

describe('job store with Redis down', () => {
  test('persistence pauses with a warning, jobs go on, records are written back when Redis returns', async () => {
    const server = await startRedis();
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (_o: object, msg?: string) => {
        if (msg) warnings.push(msg);
      },
    };
    const kit = await kitFor(server, { logger });
    try {
      const store = kit.jobs.store;
      const before = await store.create({ kind: 'render', input: { n: 1 } });
      await server.kill();
      await waitFor(() => kit.mode === 'degraded', 5000, 'degraded');
      const during = await store.create({ kind: 'render', input: { n: 2 } });
      const updated = await store.update(before.id, { status: 'running', progress: 50 });
      assert.equal(updated.status, 'running');
      assert.equal((await store.get(before.id))!.progress, 50, 'reads see the paused writes');
      assert.ok(warnings.some((w) => /job persistence paused/.test(w)));
      assert.equal(store.pendingWrites, 2);
      await assert.rejects(
        store.update(during.id, { status: 'succeeded' }).then(() => store.update(during.id, { status: 'running' })),
        JobTransitionError,
        'rules hold while degraded',
      );
      // Redis comes back empty (no persistence): both records are written back.
      await server.start();
      await waitFor(() => store.pendingWrites === 0 && kit.mode === 'redis', 10_000, 'written back');
      const raw = await kit.redis!.hgetall(`${kit.config.prefix}:job:{${before.id}}`);
      assert.equal(raw.status, 'running');
      assert.equal(raw.progress, '50');
      assert.equal((await store.get(during.id))!.status, 'succeeded');
      assert.deepEqual(
        (await store.listUnfinished('render')).map((r) => r.id),
        [before.id],
      );
    } finally {
      await kit.close();
      await stopRedis(server);
    }
  });
});

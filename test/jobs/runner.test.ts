import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { contractSuite } from '../helpers/contract.js';
import { waitFor } from '../helpers/util.js';
import {
  ComfyUIAdapter,
  ExternalJobError,
  InvalidArgumentError,
  startComfyUIStub,
  type ComfyUIStub,
  type JobRunner,
  type ComfyUIInput,
  type Redkit,
} from '../../src/index.js';

let shared: RedisServer | undefined;
let stub: ComfyUIStub | undefined;
after(async () => {
  await stub?.close();
  await stopRedis(shared);
});

const workflow = (fail = false): ComfyUIInput => ({
  prompt: { '3': { class_type: fail ? 'Fail' : 'KSampler', inputs: {} }, '9': { class_type: 'SaveImage', inputs: {} } },
});

contractSuite<{ kit: Redkit; runner: JobRunner<ComfyUIInput> }>(
  'job runner',
  [
    {
      name: 'redis',
      async setup() {
        shared ??= await startRedis();
        stub ??= await startComfyUIStub({ runMs: 200, concurrency: 4 });
        const kit = await kitFor(shared);
        const runner = kit.jobs.runner({ kind: 'comfyui', adapter: new ComfyUIAdapter({ baseUrl: stub.url }), pollIntervalMs: 50, lockTtlMs: 1000 });
        return { subject: { kit, runner }, teardown: () => kit.close() };
      },
    },
    {
      name: 'standalone',
      async setup() {
        stub ??= await startComfyUIStub({ runMs: 200, concurrency: 4 });
        const kit = await standaloneKit();
        const runner = kit.jobs.runner({ kind: 'comfyui', adapter: new ComfyUIAdapter({ baseUrl: stub.url }), pollIntervalMs: 50, lockTtlMs: 1000 });
        return { subject: { kit, runner }, teardown: () => kit.close() };
      },
    },
  ],
  (s) => {
    test('a job goes queued → submitted → running → succeeded with ComfyUI outputs', async () => {
      const { kit, runner } = s();
      const seen: string[] = [];
      const off = await kit.jobs.store.subscribe((e) => {
        if (seen.at(-1) !== e.status) seen.push(e.status);
      });
      const started = await runner.start(workflow());
      assert.equal(started.status, 'submitted');
      assert.equal(started.externalId, started.id, 'the job id is the ComfyUI prompt_id');
      const done = await runner.wait(started.id, 10_000);
      assert.equal(done.status, 'succeeded');
      assert.equal(done.attempts, 1);
      assert.deepEqual(Object.keys((done.result as { outputs: object }).outputs), ['9']);
      await waitFor(() => seen.includes('succeeded'), 2000, 'events');
      // 'running' may fall between two polls on a loaded machine; the order must hold regardless.
      const order = seen.filter((x) => x !== 'queued');
      assert.equal(order[0], 'submitted');
      assert.equal(order.at(-1), 'succeeded');
      assert.ok(
        order.every((x) => ['submitted', 'running', 'succeeded'].includes(x)) && new Set(order).size === order.length,
        `forward only: ${order.join(' → ')}`,
      );
      assert.deepEqual(runner.tracking(), []);
      await off();
    });

    test('an execution error in ComfyUI → failed with its message', async () => {
      const { runner } = s();
      const done = await runner.wait((await runner.start(workflow(true))).id, 10_000);
      assert.equal(done.status, 'failed');
      assert.match(done.error!, /Fail node/);
    });

    test('a refused submission → ExternalJobError, recorded as failed', async () => {
      const { kit, runner } = s();
      await assert.rejects(runner.start({ prompt: {} }, { id: 'refused-1' }), (e: unknown) => e instanceof ExternalJobError && e.status === 400);
      const record = await kit.jobs.store.get('refused-1');
      assert.equal(record!.status, 'failed');
      assert.match(record!.error!, /400/);
    });

    test('cancel stops a job in ComfyUI and records cancelled', async () => {
      const { runner } = s();
      const started = await runner.start(workflow());
      const cancelled = await runner.cancel(started.id);
      assert.equal(cancelled.status, 'cancelled');
      assert.ok(!runner.tracking().includes(started.id));
    });

    test('bad options → typed errors', () => {
      const { kit } = s();
      assert.throws(() => new ComfyUIAdapter({ baseUrl: 'ftp://x' }), InvalidArgumentError);
      assert.throws(() => new ComfyUIAdapter({ baseUrl: 'not a url' }), InvalidArgumentError);
      assert.throws(
        () => kit.jobs.runner({ kind: 'k', adapter: {} as never }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'runner options.adapter',
      );
      assert.throws(() => kit.jobs.runner({ kind: 'k', adapter: new ComfyUIAdapter({ baseUrl: 'http://x' }), pollMs: 5 } as never), InvalidArgumentError);
    });
  },
);

describe('runner with Redis down', () => {
  test('jobs still run while persistence is paused; their state reaches Redis when it returns', async () => {
    const server = await startRedis();
    stub ??= await startComfyUIStub({ runMs: 200, concurrency: 4 });
    const kit = await kitFor(server);
    try {
      const runner = kit.jobs.runner({ kind: 'comfyui', adapter: new ComfyUIAdapter({ baseUrl: stub.url }), pollIntervalMs: 50, lockTtlMs: 1000 });
      await server.kill();
      await waitFor(() => kit.mode === 'degraded', 5000, 'degraded');
      const started = await runner.start(workflow());
      const done = await runner.wait(started.id, 10_000);
      assert.equal(done.status, 'succeeded');
      await server.start();
      await waitFor(
        async () => kit.mode === 'redis' && (await kit.redis!.hget(`${kit.config.prefix}:job:{${started.id}}`, 'status')) === 'succeeded',
        10_000,
        'written back',
      );
    } finally {
      await kit.close();
      await stopRedis(server);
    }
  });
});

import { test, describe, after } from 'node:test';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { targetEnv } from '../helpers/target.js';
import { contractSuite } from '../helpers/contract.js';
import { waitFor, sleep } from '../helpers/util.js';
import { InvalidArgumentError, JobDataError, JobTimeoutError, type Redkit, type JobContext } from '../../src/index.js';

let shared: RedisServer | undefined;
after(async () => {
  await stopRedis(shared);
});

contractSuite<Redkit>(
  'queue',
  [
    {
      name: 'redis (BullMQ)',
      async setup() {
        shared ??= await startRedis();
        const kit = await kitFor(shared);
        return { subject: kit, teardown: () => kit.close() };
      },
    },
    {
      name: 'in-process',
      async setup() {
        const kit = await standaloneKit();
        return { subject: kit, teardown: () => kit.close() };
      },
    },
  ],
  (kit, impl) => {
    const via = impl === 'in-process' ? 'local' : 'redis';

    test('add → worker runs every job once with its data; counts add up', async () => {
      const seen: Array<{ id: string; name: string; data: unknown; attempt: number }> = [];
      const worker = kit().worker(
        'basic',
        async (job: JobContext<{ n: number }>) => {
          seen.push({ id: job.id, name: job.name, data: job.data, attempt: job.attempt });
          return job.data.n * 2;
        },
        { concurrency: 4 },
      );
      await worker.ready();
      const q = kit().queue('basic');
      const one = await q.add('double', { n: 1 });
      assert.equal(one.via, via);
      const bulk = await q.addBulk(Array.from({ length: 19 }, (_, i) => ({ name: 'double', data: { n: i + 2 } })));
      assert.equal(bulk.length, 19);
      await waitFor(() => seen.length === 20, 10_000, '20 jobs processed');
      assert.deepEqual(
        seen.map((s) => (s.data as { n: number }).n).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.ok(seen.every((s) => s.name === 'double' && s.attempt === 1));
      const counts = await waitFor(
        async () => {
          const c = await q.counts();
          return c.completed === 20 && c.active === 0 ? c : null;
        },
        5000,
        'counts',
      );
      assert.equal(counts.value!.failed, 0);
      assert.equal(counts.value!.source, via);
      await worker.close();
    });

    test('retries with backoff until an attempt succeeds', async () => {
      const attempts: number[] = [];
      const worker = kit().worker('retry', async (job) => {
        attempts.push(job.attempt);
        if (job.attempt < 3) throw new Error(`flaky ${job.attempt}`);
        return 'ok';
      });
      await worker.ready();
      const started = Date.now();
      await kit()
        .queue('retry')
        .add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delayMs: 100 } });
      await waitFor(() => attempts.length === 3, 10_000, 'three attempts');
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.ok(Date.now() - started >= 200, 'two backoff delays of 100 ms');
      await waitFor(async () => (await kit().queue('retry').counts()).completed === 1, 5000, 'completed');
      await worker.close();
    });

    test('a job over timeoutMs fails with JobTimeoutError and its signal aborts', async () => {
      let aborted: unknown;
      const worker = kit().worker(
        'slow',
        async (job) => {
          await new Promise<void>((resolve) =>
            job.signal.addEventListener('abort', () => {
              aborted = job.signal.reason;
              resolve();
            }),
          );
        },
        { timeoutMs: 100 },
      );
      await worker.ready();
      await kit().queue('slow').add('hang', {});
      await waitFor(async () => (await kit().queue('slow').counts()).failed === 1, 10_000, 'failed');
      assert.ok(aborted instanceof JobTimeoutError);
      await worker.close();
    });

    test('close() lets a running job finish', async () => {
      let finished = false;
      let started = false;
      const worker = kit().worker('graceful', async () => {
        started = true;
        await sleep(300);
        finished = true;
      });
      await worker.ready();
      await kit().queue('graceful').add('x', {});
      await waitFor(() => started, 5000, 'job started');
      await worker.close();
      assert.equal(finished, true);
    });

    test('bad input → typed errors, nothing queued', async () => {
      const q = kit().queue('bad', { maxPayloadBytes: 1024 });
      await assert.rejects(q.add('x', { big: 'y'.repeat(2000) }), (e: unknown) => e instanceof JobDataError && e.reason === 'TOO_LARGE');
      await assert.rejects(
        q.add('x', { when: new Date() }),
        (e: unknown) => e instanceof JobDataError && e.reason === 'NOT_SERIALISABLE' && e.path === 'data.when',
      );
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(q.add('x', cyclic), (e: unknown) => e instanceof JobDataError && e.reason === 'NOT_SERIALISABLE' && e.path === 'data.self');
      await assert.rejects(q.add('x', { items: [1, { at: Number.NaN }] }), (e: unknown) => e instanceof JobDataError && e.path === 'data.items[1].at');
      // The same object twice, not inside itself, is fine.
      const shared = { k: 1 };
      assert.ok(
        (
          await kit()
            .queue('bad-shared')
            .add('x', { a: shared, b: [shared, shared] })
        ).id,
      );
      // The limit is on the JSON's exact size: 1 022 bytes fit in 1 024, 1 026 do not.
      const limited = kit().queue('bad-limit', { maxPayloadBytes: 1024 });
      assert.ok((await limited.add('x', 'é'.repeat(510))).id, '"é…" is 2 + 510 × 2 bytes');
      await assert.rejects(limited.add('x', 'é'.repeat(512)), (e: unknown) => e instanceof JobDataError && e.reason === 'TOO_LARGE');
      await assert.rejects(q.add('x', { f: () => 1 }), JobDataError);
      await assert.rejects(q.add('x', { n: 10n }), JobDataError);
      await assert.rejects(q.add('x', { n: Number.NaN }), JobDataError);
      await assert.rejects(q.add('x', {}, { jobId: '12' }), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'opts.jobId');
      await assert.rejects(q.add('x', {}, { jobId: 'a:b' }), InvalidArgumentError);
      await assert.rejects(q.add('x', {}, { jobId: '' }), InvalidArgumentError);
      await assert.rejects(q.add('x', {}, { atempts: 3 } as never), (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'opts.atempts');
      await assert.rejects(q.add('x', {}, { attempts: 0 }), InvalidArgumentError);
      await assert.rejects(q.add('x', {}, { backoff: { type: 'linear', delayMs: 1 } as never }), InvalidArgumentError);
      await assert.rejects(q.add('', {}), InvalidArgumentError);
      assert.throws(
        () => kit().queue('bad2', { onRedisDwn: 'reject' } as never),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === 'queue options.onRedisDwn',
      );
      assert.throws(() => kit().queue('bad3', { onRedisDown: 'drop' as never }), InvalidArgumentError);
      assert.throws(() => kit().queue('a:b'), InvalidArgumentError);
      assert.throws(() => kit().worker('bad', 'nope' as never), InvalidArgumentError);
      assert.throws(() => kit().worker('bad', async () => {}, { concurency: 2 } as never), InvalidArgumentError);
      const c = await q.counts();
      assert.equal(c.waiting + c.active + c.delayed + c.completed + c.failed, 0);
    });

    test('same jobId twice keeps one job', async () => {
      const q = kit().queue('dedupe');
      const a = await q.add('x', { v: 1 }, { jobId: 'order-42', delayMs: 60_000 });
      const b = await q.add('x', { v: 2 }, { jobId: 'order-42', delayMs: 60_000 });
      assert.equal(a.id, 'order-42');
      assert.equal(b.id, 'order-42');
      assert.equal((await q.counts()).delayed, 1);
    });
  },
);

describe('standalone queue', () => {
  test('jobs wait for a worker, priority first; close leaves no handles', async () => {
    const kit = await standaloneKit();
    const q = kit.queue('prio');
    const order: number[] = [];
    await q.add('x', { p: 3 }, { priority: 3 });
    await q.add('x', { p: 1 }, { priority: 1 });
    await q.add('x', { p: 2 }, { priority: 2 });
    assert.equal((await q.counts()).waiting, 3);
    kit.worker('prio', async (job: JobContext<{ p: number }>) => {
      order.push(job.data.p);
    });
    await waitFor(() => order.length === 3, 2000, 'ran');
    assert.deepEqual(order, [1, 2, 3]);
    await kit.close();
  });
});

describe('lifecycle', () => {
  test('a BullMQ worker picks up again after Redis restarts', async () => {
    const server = await startRedis();
    const kit = await kitFor(server);
    try {
      const seen: number[] = [];
      const worker = kit.worker('restart', async (job: JobContext<{ n: number }>) => {
        seen.push(job.data.n);
      });
      await worker.ready();
      await kit.queue('restart').add('x', { n: 1 });
      await waitFor(() => seen.length === 1, 5000, 'first job');
      await server.restart();
      await waitFor(() => kit.mode === 'redis', 10_000, 'reconnected');
      await kit.queue('restart').add('x', { n: 2 });
      await waitFor(() => seen.includes(2), 20_000, 'job after the restart');
    } finally {
      await kit.close();
      await stopRedis(server);
    }
  });

  test('kit.close() with a worker returns while Redis is down (BullMQ alone would wait for Redis)', async () => {
    const server = await startRedis();
    const kit = await kitFor(server);
    const worker = kit.worker('down-close', async () => {});
    await worker.ready();
    await server.kill();
    await waitFor(() => kit.mode === 'degraded', 5000, 'degraded');
    const t0 = Date.now();
    await kit.close();
    assert.ok(Date.now() - t0 < 10_000, `closed in ${Date.now() - t0} ms`);
    await stopRedis(server);
  });

  for (const mode of ['redis', 'standalone'] as const) {
    test(`after kit.close() (${mode}) nothing keeps the process alive`, async () => {
      const server = mode === 'redis' ? await startRedis() : undefined;
      try {
        const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/lifecycle.js', import.meta.url))], {
          env: { ...process.env, ...(server ? targetEnv(server) : { REDIS_URL: '' }) },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
        });
        const code = await new Promise<number | null>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve(null);
          }, 20_000);
          child.once('exit', (c) => {
            clearTimeout(timer);
            resolve(c);
          });
        });
        assert.match(out, new RegExp(`closed ${mode}`));
        assert.equal(code, 0, 'exited by itself after close()');
      } finally {
        await stopRedis(server);
      }
    });
  }
});

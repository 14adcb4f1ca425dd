import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis, type RedisServer } from '../helpers/redis-server.js';
import { kitFor, standaloneKit } from '../helpers/kit.js';
import { contractSuite } from '../helpers/contract.js';
import { waitFor, sleep } from '../helpers/util.js';
import { InvalidArgumentError, JobNotFoundError, type Redkit, type QueueEventMap } from '../../src/index.js';

// The BullMQ surface of issue 18 (getJob, events, pause/resume, retry, limiter, schedulers,
// live workers, escape hatch), the same tests on BullMQ and on the in-process engine.

let shared: RedisServer | undefined;
after(async () => {
  await stopRedis(shared);
});

contractSuite<Redkit>(
  'queue surface',
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
    test('getJob: state, progress and result of a completed job; failure of a failed one; null when unknown', async () => {
      const q = kit().queue('get');
      const worker = kit().worker('get', async (job) => {
        await job.progress(50);
        if ((job.data as { fail?: boolean }).fail) throw new Error('boom');
        return { doubled: (job.data as { n: number }).n * 2 };
      });
      await worker.ready();
      const ok = await q.add('double', { n: 21 }, { jobId: 'job-ok' });
      const bad = await q.add('double', { n: 1, fail: true }, { jobId: 'job-bad', attempts: 2 });
      const done = await waitFor(
        async () => {
          const j = await q.getJob(ok.id);
          return j?.state === 'completed' ? j : null;
        },
        10_000,
        'job-ok completed',
      );
      assert.equal(done.value!.id, 'job-ok');
      assert.equal(done.value!.name, 'double');
      assert.deepEqual(done.value!.data, { n: 21 });
      assert.deepEqual(done.value!.result, { doubled: 42 });
      assert.equal(done.value!.progress, 50);
      assert.equal(done.value!.failedReason, null);
      assert.equal(done.value!.attemptsMade, 1);
      assert.ok(done.value!.timestamps.added <= done.value!.timestamps.started! && done.value!.timestamps.started! <= done.value!.timestamps.finished!);
      const failed = await waitFor(
        async () => {
          const j = await q.getJob(bad.id);
          return j?.state === 'failed' ? j : null;
        },
        10_000,
        'job-bad failed',
      );
      assert.equal(failed.value!.failedReason, 'boom');
      assert.equal(failed.value!.attemptsMade, 2);
      assert.equal(failed.value!.result, undefined);
      assert.equal(await q.getJob('never-added'), null);
      await assert.rejects(q.getJob('1 2'), InvalidArgumentError);
      // Ids the engine generated are found too (BullMQ's are all digits).
      const generated = await q.add('double', { n: 2 });
      await waitFor(async () => (await q.getJob(generated.id))?.state === 'completed', 10_000, 'generated-id job completed');
      await worker.close();
    });

    test('events: progress, completed and failed reach a listener', async () => {
      const q = kit().queue('events');
      const seen: Array<[string, unknown]> = [];
      const on = <K extends keyof QueueEventMap>(event: K) => q.on(event, (p) => seen.push([event, p]));
      on('progress');
      on('completed');
      on('failed');
      await q.listening();
      const worker = kit().worker('events', async (job) => {
        await job.progress({ step: 1 });
        if ((job.data as { fail?: boolean }).fail) throw new Error('nope');
        return 'fine';
      });
      await worker.ready();
      const a = await q.add('e', {}, { jobId: 'ev-a' });
      const b = await q.add('e', { fail: true }, { jobId: 'ev-b' });
      await waitFor(() => seen.length >= 4, 10_000, 'four events');
      assert.deepEqual(
        seen.filter(([, p]) => (p as { jobId: string }).jobId === a.id),
        [
          ['progress', { jobId: 'ev-a', progress: { step: 1 } }],
          ['completed', { jobId: 'ev-a', result: 'fine' }],
        ],
      );
      assert.deepEqual(
        seen.filter(([, p]) => (p as { jobId: string }).jobId === b.id),
        [
          ['progress', { jobId: 'ev-b', progress: { step: 1 } }],
          ['failed', { jobId: 'ev-b', failedReason: 'nope' }],
        ],
      );
      assert.throws(() => q.on('drained' as 'completed', () => {}), InvalidArgumentError);
      await worker.close();
    });

    test('pause() holds jobs for every worker until resume()', async () => {
      const q = kit().queue('pause');
      const ran: string[] = [];
      const worker = kit().worker('pause', async (job) => {
        ran.push(job.id);
      });
      await worker.ready();
      await q.pause();
      assert.equal((await q.counts()).paused, true);
      await q.add('p', {}, { jobId: 'held' });
      await sleep(700);
      assert.deepEqual(ran, [], 'no job starts while paused');
      assert.equal((await q.counts()).waiting, 1);
      await q.resume();
      await waitFor(() => ran.length === 1, 10_000, 'job runs after resume');
      assert.equal((await q.counts()).paused, false);
      await worker.close();
    });

    test('retryJob / retryFailed run failed jobs again; typed errors for unknown and unfailed jobs', async () => {
      const q = kit().queue('retry-failed');
      let healthy = false;
      const worker = kit().worker('retry-failed', async () => {
        if (!healthy) throw new Error('down');
        return 'up';
      });
      await worker.ready();
      for (const id of ['rf-1', 'rf-2', 'rf-3']) await q.add('r', {}, { jobId: id });
      await waitFor(async () => (await q.counts()).failed === 3, 10_000, 'three failed');
      healthy = true;
      await q.retryJob('rf-1');
      await waitFor(async () => (await q.getJob('rf-1'))?.state === 'completed', 10_000, 'rf-1 completed after retryJob');
      await assert.rejects(q.retryJob('rf-1'), (err: unknown) => err instanceof InvalidArgumentError && /completed/.test(err.message));
      await assert.rejects(q.retryJob('rf-nope'), JobNotFoundError);
      assert.equal(await q.retryFailed(), 2);
      await waitFor(
        async () => {
          const c = await q.counts();
          return c.completed === 3 && c.failed === 0;
        },
        10_000,
        'all completed after retryFailed',
      );
      assert.equal((await q.getJob('rf-3'))!.result, 'up');
      await worker.close();
    });

    test('limiter: at most max jobs start per duration', async () => {
      const q = kit().queue('limited');
      const starts: number[] = [];
      const worker = kit().worker(
        'limited',
        async () => {
          starts.push(Date.now());
        },
        { concurrency: 10, limiter: { max: 2, durationMs: 1000 } },
      );
      await worker.ready();
      await q.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'l', data: { i } })));
      await waitFor(() => starts.length >= 2, 10_000, 'first two started');
      await sleep(400);
      assert.equal(starts.length, 2, 'the third waits for the window');
      await waitFor(() => starts.length === 6, 15_000, 'all six ran');
      // Six jobs at two per second take at least two more windows.
      assert.ok(starts[5]! - starts[0]! >= 1800, `six jobs spread over ${starts[5]! - starts[0]!} ms`);
      assert.throws(() => kit().worker('limited2', async () => {}, { limiter: { max: 0, durationMs: 10 } }), InvalidArgumentError);
      await worker.close();
    });

    test('schedulers: every-ms runs repeatedly, listed, removed; cron pattern validated', async () => {
      const q = kit().queue('sched');
      const runs: unknown[] = [];
      const worker = kit().worker('sched', async (job) => {
        runs.push(job.data);
      });
      await worker.ready();
      await q.upsertScheduler('tick', { every: 300 }, { name: 'tick', data: { from: 'scheduler' } });
      await q.upsertScheduler('nightly', { pattern: '0 3 * * *' }, { name: 'nightly' });
      const list = (await q.schedulers()).sort((a, b) => a.id.localeCompare(b.id));
      assert.deepEqual(
        list.map((s) => [s.id, s.every, s.pattern, s.name]),
        [
          ['nightly', null, '0 3 * * *', 'nightly'],
          ['tick', 300, null, 'tick'],
        ],
      );
      assert.ok(list[0]!.next! > Date.now(), 'next run of the cron scheduler is in the future');
      await waitFor(() => runs.length >= 3, 10_000, 'three scheduled runs');
      assert.deepEqual(runs[0], { from: 'scheduler' });
      assert.equal(await q.removeScheduler('tick'), true);
      assert.equal(await q.removeScheduler('tick'), false);
      await sleep(200);
      const after = runs.length;
      await sleep(900);
      assert.ok(runs.length <= after + 1, `removed scheduler stopped (${runs.length - after} runs after removal)`);
      await assert.rejects(q.upsertScheduler('bad', { pattern: 'not a cron' }, { name: 'x' }), InvalidArgumentError);
      await assert.rejects(q.upsertScheduler('both', { every: 10, pattern: '* * * * *' }, { name: 'x' }), InvalidArgumentError);
      await assert.rejects(q.upsertScheduler('with-id', { every: 1000 }, { name: 'x', opts: { jobId: 'fixed' } as object }), InvalidArgumentError);
      await q.removeScheduler('nightly');
      await worker.close();
    });

    test('counts report live workers: 0 without one, 1 with one, 0 after close', async () => {
      const q = kit().queue('lonely');
      await q.add('w', {});
      assert.equal((await q.counts()).workers, 0);
      const worker = kit().worker('lonely', async () => {});
      await worker.ready();
      await waitFor(async () => (await q.counts()).workers === 1, 5000, 'one live worker');
      await worker.close();
      assert.equal((await q.counts()).workers, 0);
      const stats = await kit().queues.stats(['lonely']);
      assert.equal(stats.lonely!.counts!.workers, 0);
    });

    test('escape hatch: BullMQ Queue, QueueEvents and Worker on Redis; null standalone', async () => {
      const q = kit().queue('hatch');
      const worker = kit().worker('hatch', async () => 'x');
      if (impl === 'in-process') {
        assert.equal(q.bullmq, null);
        assert.equal(worker.bullmq, null);
      } else {
        const bull = q.bullmq!;
        await q.add('h', {}, { jobId: 'hatch-1' });
        assert.equal((await bull.queue.getJob('hatch-1'))?.name, 'h');
        assert.equal(bull.events(), bull.events(), 'one QueueEvents per queue');
        await bull.events().waitUntilReady();
        assert.equal(worker.bullmq!.name, 'hatch');
        assert.equal(await worker.bullmq!.isRunning(), true);
      }
      await worker.close();
    });
  },
);

// The queue while Redis is down, paused or killed (inline / reject policies), split from queue.test.ts to keep each file short.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { kitFor } from '../helpers/kit.js';
import { waitFor, sleep } from '../helpers/util.js';
import { QueueUnavailableError, type JobContext } from '../../src/index.js';

describe('queue with Redis down', () => {
  test('inline runs the job here, reject throws QueueUnavailableError, add never hangs', async () => {
    const server = await startRedis();
    const kit = await kitFor(server);
    try {
      const ran: string[] = [];
      const inline = kit.queue('inline-q', {
        inlineHandler: async (job) => {
          ran.push(job.id);
          return 'done';
        },
      });
      const reject = kit.queue('reject-q', { onRedisDown: 'reject' });
      const orphan = kit.queue('orphan-q');
      assert.equal((await inline.add('x', { a: 1 })).via, 'redis');
      await server.kill();
      await waitFor(() => kit.mode === 'degraded', 5000, 'degraded');
      const t0 = Date.now();
      const added = await inline.add('x', { a: 2 });
      assert.equal(added.via, 'local');
      const outcome = await added.finished!;
      assert.deepEqual(outcome, { status: 'completed', result: 'done', attempts: 1 });
      assert.deepEqual(ran, [added.id]);
      await assert.rejects(
        reject.add('x', {}),
        (e: unknown) => e instanceof QueueUnavailableError && e.reason === 'REJECT_POLICY' && e.code === 'E_QUEUE_UNAVAILABLE',
      );
      await assert.rejects(orphan.add('x', {}), (e: unknown) => e instanceof QueueUnavailableError && e.reason === 'NO_INLINE_HANDLER');
      assert.ok(Date.now() - t0 < 5000, 'answers come at once, not after reconnect attempts');
      await server.start();
      await waitFor(() => kit.mode === 'redis', 10_000, 'reconnected');
      assert.equal((await inline.add('x', { a: 3 })).via, 'redis');
    } finally {
      await kit.close();
      await stopRedis(server);
    }
  });

  test('Redis paused (SIGSTOP): add answers within addTimeoutMs — inline runs it, reject throws', async () => {
    const server = await startRedis();
    const kit = await kitFor(server);
    try {
      const ran: string[] = [];
      const inline = kit.queue('paused-inline', {
        addTimeoutMs: 800,
        inlineHandler: async (job) => {
          ran.push(job.id);
        },
      });
      const reject = kit.queue('paused-reject', { addTimeoutMs: 800, onRedisDown: 'reject' });
      await inline.add('warm', {});
      await reject.add('warm', {});
      server.pause();
      const t0 = Date.now();
      const added = await inline.add('x', {}, { jobId: 'during-pause' });
      assert.equal(added.via, 'local');
      assert.equal((await added.finished!).status, 'completed');
      assert.deepEqual(ran, ['during-pause']);
      await assert.rejects(reject.add('x', {}), QueueUnavailableError);
      assert.ok(Date.now() - t0 < 4000, `bounded (${Date.now() - t0} ms)`);
    } finally {
      server.resume();
      await kit.close();
      await stopRedis(server);
    }
  });

  test('Redis killed during a stream of adds: every job is stored, run inline, or refused — none lost', async () => {
    // appendfsync always: a job Redis acknowledged survives the kill, as it would on a durable Redis.
    const server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    const producer = await kitFor(server);
    try {
      const processed = new Map<string, number>();
      const handler = async (job: JobContext<{ i: number }>) => {
        processed.set(`${job.data.i}`, (processed.get(`${job.data.i}`) ?? 0) + 1);
      };
      const inlineQ = producer.queue('durable', { inlineHandler: handler, inlineConcurrency: 4 });
      const rejectQ = producer.queue('durable-r', { onRedisDown: 'reject' });
      const outcomes: Array<{ i: number; via?: string; error?: string; finished?: Promise<unknown> }> = [];
      const rejected: number[] = [];
      const rejectStored: number[] = [];
      let killed = false;
      for (let i = 0; i < 120; i++) {
        if (i === 40) {
          void server.kill().then(() => {
            killed = true;
          });
        }
        try {
          const job = await inlineQ.add('n', { i }, { jobId: `n-${i}` });
          outcomes.push({ i, via: job.via, finished: job.finished });
        } catch (err) {
          outcomes.push({ i, error: (err as Error).name });
        }
        try {
          await rejectQ.add('n', { i }, { jobId: `r-${i}` });
          rejectStored.push(i);
        } catch (err) {
          assert.ok(err instanceof QueueUnavailableError, `reject policy throws the typed error (got ${(err as Error).name})`);
          rejected.push(i);
        }
        if (i % 10 === 0) await sleep(5);
      }
      assert.ok(killed || outcomes.length === 120);
      assert.ok(
        outcomes.every((o) => !o.error),
        `inline never throws: ${JSON.stringify(outcomes.filter((o) => o.error).slice(0, 3))}`,
      );
      assert.ok(rejected.length > 0, 'some adds were refused while Redis was down');
      await Promise.all(outcomes.map((o) => o.finished));
      // Restart Redis (the AOF brings back what it acknowledged) and drain it with a worker.
      await server.start();
      const stored = outcomes.filter((o) => o.via === 'redis').map((o) => o.i);
      assert.ok(stored.length >= 40 && stored.length < 120, `stored ${stored.length}`);
      await waitFor(() => producer.mode === 'redis', 10_000, 'reconnected');
      const drain = producer.worker('durable', handler, { concurrency: 8 });
      await waitFor(() => outcomes.every((o) => processed.has(`${o.i}`)), 15_000, 'every accepted job processed');
      const r = await waitFor(
        async () => {
          const c = await producer.queue('durable-r').counts();
          return c.waiting === rejectStored.length ? c : null;
        },
        5000,
        'reject-policy jobs still stored',
      );
      assert.equal(r.value!.waiting + rejected.length, 120, 'reject policy: stored + refused = attempted');
      const inlineRuns = outcomes.filter((o) => o.via === 'local').length;
      assert.ok(inlineRuns > 0, 'some jobs ran inline');
      await drain.close();
    } finally {
      await producer.close();
      await stopRedis(server);
    }
  });
});
